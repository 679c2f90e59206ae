"""The account's custom fields: their names in v4 and v5, and the two list endpoints.

Evidence (docs/wire-contract.md, R11/R12): v3/v4 name a custom field by its
``field_id`` exactly, with or without a ``__c`` ending (the custom-fields object's
``fieldId``); v5 (prospects, imports, and the object's ``apiFieldId``) names it
``field_id + "__c"``, always, "to disambiguate from standard fields" (Pardot's
ProspectCustomFieldProvider, CustomFieldDoctrineQueryModifier). Pardot
matches those names case-insensitively (its import code lowercases them). The store
keeps every custom value under the field's v5 name.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .wire import Reply

if TYPE_CHECKING:
    from .account import Account
    from .request import Incoming

V5_SUFFIX = "__c"
#: First custom field id (Pardot ids are opaque integers).
_FIRST_ID = 5001
V5_FIELDS = ("id", "name", "fieldId", "apiFieldId", "type", "isRecordMultipleResponses",
             "isUseValues")
V4_PAGE = 200


def v5_name(field_id: str) -> str:
    return field_id + V5_SUFFIX


def v4_names(app: Account) -> dict[str, str]:
    """Lowercased v4 name -> store key, for every custom field of the account."""
    return _by_v4(app)


def _by_v4(app: Account) -> dict[str, str]:
    return {f.lower(): v5_name(f) for f in app.settings.custom_fields}


def _by_v5(app: Account) -> dict[str, str]:
    return {v5_name(f).lower(): v5_name(f) for f in app.settings.custom_fields}


def store_key_v4(app: Account, name: str) -> str | None:
    """The store key of the custom field a v4 name addresses, or None."""
    return _by_v4(app).get(name.lower())


def store_key_v5(app: Account, name: str) -> str | None:
    """The store key of the custom field a v5 name addresses, or None."""
    return _by_v5(app).get(name.lower())


def _records(app: Account) -> list[dict[str, Any]]:
    return [
        {"id": _FIRST_ID + i, "name": field_id.replace("_", " ").strip(), "field_id": field_id,
         "type": "Text", "is_record_multiple_responses": False, "is_use_values": False}
        for i, field_id in enumerate(app.settings.custom_fields)
    ]


def v4_query(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    """``GET /api/customField/version/{3,4}/do/query``: 200 per page (limit, offset)."""
    params = req.params()
    try:
        limit = min(int(params.get("limit") or V4_PAGE), V4_PAGE)
        offset = int(params.get("offset") or 0)
    except ValueError:
        limit, offset = V4_PAGE, 0
    records = _records(app)
    page = records[offset:offset + limit]
    result: dict[str, Any] = {"total_results": len(records)}
    if page:
        # Pardot's v4 JSON: one result is an object, several are an array.
        result["customField"] = page[0] if len(page) == 1 else page
    return Reply.json(200, {"@attributes": {"stat": "ok", "version": 1}, "result": result})


def v5_query(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    """``GET /api/v5/objects/custom-fields?fields=...``: ``fields`` is required."""
    query = dict(parse_qsl(req.query, keep_blank_values=True))
    raw = query.get("fields", "")
    names = [f.strip() for f in raw.split(",") if f.strip()]
    if not names:
        return Reply.json(400, {"code": 153, "message": "Missing required property in "
                                "request: fields"}, err_code=153)
    bad = [f for f in names if f not in V5_FIELDS]
    if bad:  # the reply recorded in pardot/api-docs issue #235 for an unknown field
        return Reply.json(400, {"code": 51, "message": "Invalid parameter: fields. It contains "
                                f"an invalid or unknown field: {bad[0]}."}, err_code=51)
    values = []
    for record in _records(app):
        full = {"id": record["id"], "name": record["name"],
                "fieldId": record["field_id"], "apiFieldId": v5_name(record["field_id"]),
                "type": record["type"],
                "isRecordMultipleResponses": False, "isUseValues": False}
        values.append({name: full[name] for name in names})
    return Reply.json(200, {"values": values, "nextPageToken": None, "nextPageUrl": None})
