"""Pardot's endpoints as methods: each builds one call (path, body, whether it may be
replayed) and hands it to the requestor the endpoints hold. The transport, retries,
tokens and the concurrency gate are the client's (client.py); a new endpoint goes here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from target_pardot.pardot.api_version import v3v4_path
from target_pardot.pardot.call import Call
from target_pardot.pardot.responses import Reply

#: The fields an import poll asks for (a v5 read returns only those named).
IMPORT_STATUS_FIELDS = "id,status,isExpired,createdCount,updatedCount,errorCount"
#: The fields a custom-fields query asks for: fieldId is the v3/v4 name, apiFieldId the
#: v5 and import name (docs/wire-contract.md, R11).
CUSTOM_FIELD_QUERY_FIELDS = "id,fieldId,apiFieldId"
#: The fields of a list the target reads: its name, and whether the API may change it.
LIST_FIELDS = "id,name,isDynamic"


def same_host_path(url: str) -> str:
    """The path and query of a ``nextPageUrl``, whatever host it names (another
    spelling of the Pardot domain, or none): the call goes to the configured domain,
    with the client's own headers, and never elsewhere."""
    parts = urlsplit(url)
    path = parts.path if parts.path.startswith("/") else "/" + parts.path
    return path + (f"?{parts.query}" if parts.query else "")


class Endpoints:
    """Pardot's endpoints, each building one :class:`Call` for the requestor it holds
    (``PardotClient.send``: retries, tokens and the concurrency gate)."""

    def __init__(self, send: Callable[[Call], Reply]) -> None:
        self._send = send

    def prospect_batch(
        self, operation: str, body: str, *, version: int, idempotent: bool
    ) -> Reply:
        return self._send(Call(
            "POST",
            v3v4_path(version, "prospect", operation),
            endpoint=f"prospect/{operation}",
            params={"format": "json"},
            data=body,
            idempotent=idempotent,
        ))

    def version_probe(self, version: int) -> Reply:
        """A v3/v4 read that changes nothing and names no person: one custom field. Its
        only use is its refusal: error 88 or 89 says which version the account takes
        ("all other endpoints will require version 4", api-docs kb/api-version-4.md)."""
        return self._send(Call(
            "GET",
            v3v4_path(version, "customField", "query"),
            endpoint="customField/query",
            params={"format": "json", "limit": "1"},
            idempotent=True,
        ))

    def v5_upsert_latest_by_email(
        self, body: Mapping[str, Any], *, idempotent: bool = True
    ) -> Reply:
        """``idempotent=False`` for a change of address (``matchEmail``): sent twice, the
        second call no longer finds the old address and creates a second prospect."""
        return self._send(Call(
            "POST",
            "/api/v5/objects/prospects/do/upsertLatestByEmail",
            endpoint="prospect/upsertLatestByEmail",
            json=body,
            idempotent=idempotent,
        ))

    def prospect_read_by_email(self, email: str, *, version: int) -> Reply:
        """The prospect(s) holding this address (v3/v4 read: real-time, unlike v5 reads).
        An address no prospect holds is error 4, raised as PardotApiError."""
        return self._send(Call(
            "GET",
            v3v4_path(version, "prospect", "read") + "/email/" + quote(email, safe="@"),
            endpoint="prospect/read",
            params={"format": "json"},
            idempotent=True,
        ))

    def list_membership(
        self, action: str, list_id: int, prospect_id: int, *, version: int,
        opted_out: bool | None = None,
    ) -> Reply:  # fmt: skip
        data = None if opted_out is None else f"opted_out={'true' if opted_out else 'false'}"
        return self._send(Call(
            "POST",
            v3v4_path(version, "listMembership", action)
            + f"/list_id/{list_id}/prospect_id/{prospect_id}",
            endpoint=f"listMembership/{action}",
            params={"format": "json"},
            data=data,
            idempotent=True,
        ))

    def v5_list_memberships(self, params: Mapping[str, str]) -> Reply:
        """One page of the v5 list-membership query (read only, so always safe to repeat)."""
        return self._send(Call(
            "GET",
            "/api/v5/objects/list-memberships",
            endpoint="v5/list-memberships/query",
            params=params,
            idempotent=True,
        ))

    def v5_lists(self, params: Mapping[str, str]) -> Reply:
        """One page of the v5 list query (read only)."""
        return self._send(Call(
            "GET", "/api/v5/objects/lists", endpoint="v5/lists/query", params=params,
            idempotent=True,
        ))

    def v5_list_read(self, list_id: int) -> Reply:
        return self._send(Call(
            "GET",
            f"/api/v5/objects/lists/{list_id}",
            endpoint="v5/lists/read",
            params={"fields": LIST_FIELDS},
            idempotent=True,
        ))

    def list_query_by_name(self, name: str, *, version: int) -> Reply:
        """v3/v4 list query with its exact ``name`` filter (v3/v4 reads are not served
        from v5's lagging cache, so a list made a moment ago shows)."""
        return self._send(Call(
            "GET",
            v3v4_path(version, "list", "query"),
            endpoint="list/query",
            params={"format": "json", "name": name},
            idempotent=True,
        ))

    def v5_list_create(self, name: str) -> Reply:
        """Create a static list. Not idempotent: a reply lost after Pardot made the list
        must not make a second one (the caller reads the lists again instead)."""
        return self._send(Call(
            "POST",
            "/api/v5/objects/lists",
            endpoint="v5/lists/create",
            params={"fields": LIST_FIELDS},
            json={"name": name},
            idempotent=False,
        ))

    def v5_query_prospects(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """One page of a v5 prospect query (read only): the ``values`` of the reply."""
        reply = self._send(Call(
            "GET",
            "/api/v5/objects/prospects",
            endpoint="v5/prospects/query",
            params=params,
            idempotent=True,
        ))
        values = reply.body.get("values") if isinstance(reply.body, dict) else None
        return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []

    def v5_custom_fields(self, page_url: str | None = None) -> Reply:
        """One page of the account's custom fields (v5 query; `fields` is required)."""
        if page_url is not None:
            page_url = same_host_path(page_url)
        return self._send(Call(
            "GET",
            page_url or "/api/v5/objects/custom-fields",
            endpoint="customFields/query",
            params=None if page_url else {"fields": CUSTOM_FIELD_QUERY_FIELDS},
            idempotent=True,
        ))

    # -- v5 Import API ------------------------------------------------------------------
    # Uploads are replayed after an ambiguous failure: a batch applied twice upserts the
    # same rows twice (matching by id or email, so nothing is duplicated), and an import
    # created twice leaves one import that is never set Ready and expires unprocessed.

    def import_create(self, settings: Mapping[str, Any], csv: bytes) -> Reply:
        return self._send(Call(
            "POST",
            "/api/v5/imports",
            endpoint="imports/create",
            files={
                "input": (None, json.dumps(dict(settings)), "application/json"),
                "file": ("prospects.csv", csv, "text/csv"),
            },
            idempotent=True,
        ))

    def import_add_batch(self, import_id: int, csv: bytes) -> Reply:
        return self._send(Call(
            "POST",
            f"/api/v5/imports/{import_id}/batches",
            endpoint="imports/batch",
            files={"file": ("prospects.csv", csv, "text/csv")},
            idempotent=True,
        ))

    def import_set_ready(self, import_id: int) -> Reply:
        return self._send(Call(
            "PATCH",
            f"/api/v5/imports/{import_id}",
            endpoint="imports/update",
            json={"status": "Ready"},
            idempotent=True,
        ))

    def import_status(self, import_id: int) -> Reply:
        # A v5 read answers only the fields named in `fields` (docs/wire-contract.md, R9).
        return self._send(Call(
            "GET",
            f"/api/v5/imports/{import_id}",
            endpoint="imports/read",
            params={"fields": IMPORT_STATUS_FIELDS},
            idempotent=True,
        ))

    def import_errors(self, import_id: int) -> Reply:
        return self._send(Call(
            "GET",
            f"/api/v5/imports/{import_id}/errors",
            endpoint="imports/errors",
            idempotent=True,
            redirects_to_storage=True,
        ))
