"""Pardot API v5: upsertLatestByEmail and list memberships."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from . import customfields, v5_query
from .fields import (
    V5_READ_ONLY,
    V5_TO_STORE,
    FieldValueError,
    v5_value,
    valid_email,
)
from .records import OpError
from .wire import Reply

if TYPE_CHECKING:
    from .account import Account
    from .request import Incoming


class V5Error(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error(status: int, code: int, message: str) -> Reply:
    return Reply.json(status, {"code": code, "message": message}, err_code=code)


def _json_body(req: Incoming) -> Any:
    ctype = req.content_type.split(";", 1)[0].strip().lower()
    if ctype != "application/json":
        raise V5Error(400, 151, "Unsupported content-type")
    if not req.body.strip():
        raise V5Error(400, 152, "Request body can't be empty")
    try:
        return json.loads(req.body)
    except ValueError:
        raise V5Error(400, 150, "Input needs to be valid JSON") from None


def _missing(name: str) -> V5Error:
    return V5Error(400, 153, f"Missing required property in request: {name}")


def _invalid(name: str, why: str = "") -> V5Error:
    return V5Error(400, 154, f"Invalid property in request: {name}{(' ' + why) if why else ''}")


def _bad_fields(names: list[str]) -> V5Error:
    return V5Error(400, 180, "One or more of the specified fields are invalid: "
                   + ", ".join(names))


# --------------------------------------------------------------------------- prospects

UPSERT_KEYS = frozenset({"matchEmail", "prospect", "secondaryDeletedSearch", "fields"})
#: The reply's fields when a request names none ([guess]: what Segment's client reads).
UPSERT_DEFAULT_FIELDS = ("id", "email")
# Writable prospect fields (camelCase -> store name): the standard ones but ``id``.
V5_WRITABLE = {name: store for name, store in V5_TO_STORE.items() if name != "id"}


def prospect_value(p: dict[str, Any], name: str) -> Any:
    if name in V5_TO_STORE:
        return p.get(V5_TO_STORE[name])
    if name in V5_READ_ONLY:
        return p.get(V5_READ_ONLY[name])
    return p.get(name)


def upsert_latest_by_email(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    try:
        return _upsert(app, req)
    except V5Error as exc:
        if exc.status == 400:
            app.counters.rows(0, 0, 1)
        return error(exc.status, exc.code, exc.message)


def _upsert(app: Account, req: Incoming) -> Reply:
    data = _json_body(req)
    if not isinstance(data, dict):
        raise V5Error(400, 150, "Input needs to be valid JSON")
    unknown = sorted(set(data) - UPSERT_KEYS)
    if unknown:
        raise _invalid(unknown[0], "is not a known property")
    if "matchEmail" not in data:
        raise _missing("matchEmail")
    match_email = data["matchEmail"]
    if not valid_email(match_email):
        raise V5Error(400, 4, "Invalid prospect email address")
    if "prospect" not in data:
        raise _missing("prospect")
    prospect = data["prospect"]
    if not isinstance(prospect, dict):
        raise _invalid("prospect", "must be an object")
    # Optional: a production client (Segment's) sends no `fields` and reads `id`, `email`.
    fields = data.get("fields", list(UPSERT_DEFAULT_FIELDS))
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise _invalid("fields", "must be an array of field names")
    bad = [f for f in fields if f not in V5_TO_STORE and f not in V5_READ_ONLY
           and customfields.store_key_v5(app, f) is None]
    if bad:
        raise _bad_fields(bad)
    secondary = data.get("secondaryDeletedSearch", False)
    if not isinstance(secondary, bool):
        raise _invalid("secondaryDeletedSearch", "must be a boolean")
    updates: dict[str, Any] = {}
    read_only = [k for k in prospect if k in V5_READ_ONLY or k == "id"]
    if read_only:
        raise _bad_fields(read_only)
    unknown = [k for k in prospect if k not in V5_WRITABLE
               and customfields.store_key_v5(app, k) is None]
    if unknown:  # as recorded in pardot/api-docs #235: 154 "Invalid property in request: X"
        raise _invalid(unknown[0])
    try:
        for key, value in prospect.items():
            if key in V5_WRITABLE:
                updates[V5_WRITABLE[key]] = v5_value(V5_WRITABLE[key], value)
            else:
                if isinstance(value, (dict, list)):
                    raise _invalid(key, "must be a scalar")
                updates[customfields.store_key_v5(app, key) or key] = value
    except FieldValueError as exc:
        raise V5Error(400, exc.code, exc.message) from None
    created, p = app.store.upsert_latest_by_email(match_email, updates, secondary)
    app.counters.rows(int(created), int(not created))
    return Reply.json(201 if created else 200, {f: prospect_value(p, f) for f in fields})


# --------------------------------------------------------------------------- list memberships

MEMBERSHIP_FIELDS = {"id": "id", "listId": "list_id", "prospectId": "prospect_id",
                     "optedOut": "opted_out", "createdAt": "created_at",
                     "updatedAt": "updated_at"}
DEFAULT_MEMBERSHIP_FIELDS = ["id", "listId", "prospectId", "optedOut"]


def _query(req: Incoming) -> dict[str, str]:
    return dict(parse_qsl(req.query, keep_blank_values=True))


def _fields_param(q: dict[str, str], required: bool) -> list[str]:
    raw = q.get("fields")
    if raw is None or raw == "":
        if required:
            raise _missing("fields")
        return DEFAULT_MEMBERSHIP_FIELDS
    names = [f.strip() for f in raw.split(",") if f.strip()]
    bad = [f for f in names if f not in MEMBERSHIP_FIELDS]
    if bad:
        raise _bad_fields(bad)
    return names


def _membership_out(mem: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {f: mem[MEMBERSHIP_FIELDS[f]] for f in fields}


def _op_error(exc: OpError) -> V5Error:
    if exc.code == 109:
        return V5Error(404, 192, "Object specified does not exist")
    return V5Error(400, exc.code, exc.message)


def memberships_collection(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    try:
        if req.method == "POST":
            return _membership_create(app, req)
        return _membership_query(app, req)
    except V5Error as exc:
        return error(exc.status, exc.code, exc.message)
    except OpError as exc:
        e = _op_error(exc)
        return error(e.status, e.code, e.message)


def _int_prop(data: dict[str, Any], name: str) -> int:
    if name not in data:
        raise _missing(name)
    v = data[name]
    if isinstance(v, bool) or not isinstance(v, int):
        raise _invalid(name, "must be an integer")
    return v


def _membership_create(app: Account, req: Incoming) -> Reply:
    fields = _fields_param(_query(req), required=False)
    data = _json_body(req)
    if not isinstance(data, dict):
        raise V5Error(400, 150, "Input needs to be valid JSON")
    unknown = sorted(set(data) - {"listId", "prospectId", "optedOut"})
    if unknown:
        raise _invalid(unknown[0], "is not a writable property")
    list_id = _int_prop(data, "listId")
    prospect_id = _int_prop(data, "prospectId")
    opted = data.get("optedOut", False)
    if not isinstance(opted, bool):
        raise _invalid("optedOut", "must be a boolean")
    mem = app.store.members.create(list_id, prospect_id, opted, app.settings.lists)
    return Reply.json(201, _membership_out(mem, fields))


def _membership_query(app: Account, req: Incoming) -> Reply:
    params = v5_query.parse_params(req.query)
    fields = _fields_param(params, required=True)
    try:
        return v5_query.page_reply(app, req, params, app.store.members.query(None, None),
                                   lambda row: _membership_out(row, fields))
    except v5_query.QueryError as exc:
        raise V5Error(exc.status, exc.code, exc.message) from None


def membership_item(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    mid = int(m.group(1))
    try:
        if req.method == "DELETE":
            app.store.members.delete(mid)
            return Reply(204, b"", "")
        if req.method == "GET":
            fields = _fields_param(_query(req), required=True)
            return Reply.json(200, _membership_out(app.store.members.get(mid), fields))
        fields = _fields_param(_query(req), required=False)
        data = _json_body(req)
        if not isinstance(data, dict):
            raise V5Error(400, 150, "Input needs to be valid JSON")
        unknown = sorted(set(data) - {"optedOut"})
        if unknown:
            raise _invalid(unknown[0], "is not a writable property")
        opted = data.get("optedOut")
        if opted is not None and not isinstance(opted, bool):
            raise _invalid("optedOut", "must be a boolean")
        return Reply.json(200, _membership_out(app.store.members.update(mid, opted), fields))
    except V5Error as exc:
        return error(exc.status, exc.code, exc.message)
    except OpError as exc:
        e = _op_error(exc)
        return error(e.status, e.code, e.message)

