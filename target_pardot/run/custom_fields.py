"""Read the account's custom fields once per run, so that columns named like them reach
Pardot under the right name in v3/v4 batches, v5 upserts and imports.

A failure of that read is a warning, not a stop: the run falls back to sending columns
that end in ``__c`` verbatim (the rule used before the list could be read). A failure
after some pages were read keeps the fields already read and adds the fallback rule for
the rest (docs/wire-contract.md, R11).
"""

from __future__ import annotations

import logging
from typing import Any

from target_pardot.errors import (
    AuthFailed,
    BusinessUnitRejected,
    DailyLimitReached,
    TargetPardotError,
)
from target_pardot.pardot.client import PardotClient
from target_pardot.rows.fields import CustomField, CustomFields

logger = logging.getLogger("target-pardot")

#: Pages followed at most (200 fields each by default): a safety stop, not a limit.
MAX_PAGES = 20


def read_custom_fields(client: PardotClient) -> CustomFields:
    """The account's custom fields, or the fallback rule when they cannot be read."""
    fields: list[CustomField] = []
    page_url: str | None = None
    try:
        for _ in range(MAX_PAGES):
            body = client.endpoints.v5_custom_fields(page_url).body
            page, page_url = parse_custom_field_page(body)
            fields += page
            if not page_url:
                break
    except (AuthFailed, BusinessUnitRejected, DailyLimitReached):
        raise  # the run cannot go on anyway; say why at once
    except (TargetPardotError, ValueError) as exc:
        if not fields:
            logger.warning(
                "Could not read the account's custom fields (%s). Columns ending in __c "
                "are sent verbatim; other columns that are custom fields without __c are "
                "not sent.",
                exc,
            )
            return CustomFields()
        logger.warning(
            "Could read only %d of the account's custom fields (%s). Those keep their "
            "names; other columns ending in __c are sent verbatim.",
            len(fields),
            exc,
        )
        return CustomFields.of(fields, complete=False)
    catalog = CustomFields.of(fields)
    logger.info("The account has %d custom fields.", len(fields))
    for name in catalog.ambiguous_names():
        logger.warning(
            "A column named '%s' could name more than one custom field; it goes to the "
            "field whose v3/v4 name it is, else whose v5 name it is.",
            name,
        )
    return catalog


def parse_custom_field_page(body: Any) -> tuple[list[CustomField], str | None]:
    """(fields, next page URL) of one v5 query reply; ValueError if malformed."""
    values = body.get("values") if isinstance(body, dict) else None
    if not isinstance(values, list):
        raise ValueError("the reply has no 'values' list")
    fields = [
        f
        for v in values
        if isinstance(v, dict)
        and (f := CustomField.from_names(_text(v.get("fieldId")), _text(v.get("apiFieldId"))))
    ]
    next_url = body.get("nextPageUrl")
    return fields, next_url if isinstance(next_url, str) and next_url else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None

