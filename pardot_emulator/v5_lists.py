"""Pardot API v5: lists, ``/api/v5/objects/lists`` (query, create) and ``/lists/<id>`` (read).

What follows the evidence (guide:list-v5, docs/wire-contract.md R21-R23):
- operations Read (GET ``/lists/<id>``), Create (POST ``/lists``), Query (GET ``/lists``);
- ``name`` is the one required field on create; ``title``, ``description``, ``isPublic``,
  ``folderId`` and ``campaignId`` are optional; ``id``, ``isDynamic``, ``isDeleted``,
  ``createdAt`` and ``updatedAt`` are read-only (a dynamic list is made in Pardot's UI,
  from rules, never through the API);
- the query follows the shared v5 conventions (``fields`` required, ``limit`` up to 1000,
  ``orderBy``, id filters, page tokens): :mod:`v5_query`.

Without evidence (docs/emulator.md): a ``name`` filter on the query (seen only in a
generated client) is refused as an unknown parameter, so a client that relies on it fails
here; names are not unique, as in Pardot (no vendor statement says they are).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import v5_query
from .records import OpError
from .v5 import V5Error, _bad_fields, _invalid, _json_body, _missing, _query, error
from .wire import Reply

if TYPE_CHECKING:
    from .account import Account
    from .request import Incoming

#: v5 field -> the list record's key (list_book.default_list).
LIST_FIELDS = {"id": "id", "name": "name", "title": "title", "description": "description",
               "isPublic": "is_public", "isDynamic": "is_dynamic", "isDeleted": "is_deleted",
               "folderId": "folder_id", "campaignId": "campaign_id",
               "createdAt": "created_at", "updatedAt": "updated_at"}
WRITABLE = {"name": "name", "title": "title", "description": "description",
            "isPublic": "is_public", "folderId": "folder_id", "campaignId": "campaign_id"}
_MEMBERSHIP_ONLY = frozenset(v5_query.EQUAL_FILTERS)


def _fields(params: dict[str, str], *, required: bool) -> list[str]:
    raw = params.get("fields") or ""
    names = [f.strip() for f in raw.split(",") if f.strip()]
    if not names:
        if required:
            raise _missing("fields")
        return ["id", "name"]
    bad = [f for f in names if f not in LIST_FIELDS]
    if bad:
        raise _bad_fields(bad)
    return names


def _out(record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {f: record.get(LIST_FIELDS[f], False if f == "isDeleted" else None) for f in fields}


def lists_collection(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    try:
        if req.method == "POST":
            return _create(app, req)
        return _query_lists(app, req)
    except V5Error as exc:
        return error(exc.status, exc.code, exc.message)


def list_item(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    try:
        fields = _fields(_query(req), required=True)
        try:
            record = app.lists.get(int(m.group(1)), app.settings.lists)
        except OpError:
            raise V5Error(404, 192, "Object specified does not exist") from None
        return Reply.json(200, _out(record, fields))
    except V5Error as exc:
        return error(exc.status, exc.code, exc.message)


def _query_lists(app: Account, req: Incoming) -> Reply:
    params = v5_query.parse_params(req.query)
    fields = _fields(params, required=True)
    extra = sorted(set(params) & _MEMBERSHIP_ONLY) + sorted(
        k for k in params if k not in v5_query.QUERY_PARAMS)
    if extra:
        raise _invalid(extra[0], "is not a parameter of this query")
    rows = app.lists.all(app.settings.lists)
    try:
        return v5_query.page_reply(app, req, params, rows, lambda r: _out(r, fields))
    except v5_query.QueryError as exc:
        raise V5Error(exc.status, exc.code, exc.message) from None


def _create(app: Account, req: Incoming) -> Reply:
    fields = _fields(_query(req), required=False)
    data = _json_body(req)
    if not isinstance(data, dict):
        raise V5Error(400, 150, "Input needs to be valid JSON")
    unknown = sorted(set(data) - set(WRITABLE))
    if unknown:
        raise _invalid(unknown[0], "is not a writable property")
    name = data.get("name")
    if name is None:
        raise _missing("name")
    if not isinstance(name, str) or not name.strip():
        raise _invalid("name", "must be a non-empty string")
    values = {WRITABLE[k]: v for k, v in data.items()}
    record = app.lists.create(values, app.settings.lists, app.store.stamp())
    app.add_list(record["id"])
    return Reply.json(201, _out(record, fields))
