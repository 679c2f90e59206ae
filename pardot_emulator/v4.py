"""Pardot API v4 (and v3 where it is the same): prospect batch and single upserts, list
memberships. v3 batch calls differ: see v3.py."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from . import customfields
from .fields import (
    FIELD_TYPES,
    LIST_FLAG_RE,
    STORE_FIELDS,
    STORE_NAME,
    V4_FIELDS,
    FieldValueError,
    coerce_bool_v4,
    coerce_int,
    custom_value,
    v4_value,
    valid_email,
)
from .records import OpError, RowPlan
from .wire import XML_TYPE, Reply, dumps, v4_error_body, v4_ok_body, v4_xml

if TYPE_CHECKING:
    from .account import Account
    from .request import Incoming

MAX_BATCH_ROWS = 50
# Text fields stored under their own name with no further check.
PLAIN_TEXT_FIELDS = frozenset(
    n for n in V4_FIELDS if FIELD_TYPES[n] == "str" and n not in ("email", "fid"))
# Parameters of a single v4 call that are not prospect fields.
_NON_FIELD_PARAMS = frozenset({"format", "output", "api_key", "user_key", "access_token"})


def reply(req: Incoming, status: int, body: dict[str, Any], err_code: int | None = None
          ) -> Reply:
    """A v4 body as JSON with format=json, else as Pardot's default XML."""
    if req.wants_json():
        return Reply(status, dumps(body), err_code=err_code)
    return Reply(status, v4_xml(body), XML_TYPE, err_code=err_code)


def error(app: Account, req: Incoming, code: int, message: str, status: int | None = None) -> Reply:
    if status is None:
        status = app.settings.v4_error_status
    return reply(req, status, v4_error_body(code, message), err_code=code)


# --------------------------------------------------------------------------- rows

def invalid_field(name: str) -> OpError:
    return OpError(180, f"One or more of the specified fields are invalid: {name}")


def parse_row(row: Any, lists: frozenset[int], custom: dict[str, str]) -> RowPlan | OpError:
    """Validate one v4 prospect row (all of it, before anything is applied)."""
    if not isinstance(row, dict):
        return OpError(90, "Prospect array should be a flat array of attributes")
    plan = RowPlan()
    updates = plan.updates
    try:
        for key, value in row.items():
            if key in PLAIN_TEXT_FIELDS and type(value) is str:
                updates[key] = value  # fast path: most values are text
                continue
            if key == "email" and type(value) is str:
                if not valid_email(value):
                    return OpError(4, "Invalid prospect email address")
                updates["email"] = value
                continue
            if key in V4_FIELDS:
                if value is None:
                    continue  # null leaves the field unchanged
                if key == "id":
                    iv = coerce_int(value)
                    if iv is None:
                        return OpError(3, "Invalid prospect ID")
                    plan.id = iv
                elif key == "fid":
                    if isinstance(value, bool) or not isinstance(value, (str, int)):
                        return OpError(77, "Invalid prospect fid")
                    if value != "":
                        plan.fid = str(value)
                else:
                    store_name = STORE_NAME[key]
                    updates[store_name] = v4_value(store_name, value)
                continue
            flag = LIST_FLAG_RE.match(key) if key.startswith("list_") else None
            if flag is not None:
                if value is None:
                    continue
                on = coerce_bool_v4(value)
                if on is None:
                    return OpError(50, "Invalid boolean")
                list_id = int(flag.group(1))
                if list_id not in lists:
                    return OpError(55, "Invalid list ID")
                (plan.list_adds if on else plan.list_removes).append(list_id)
            elif key.lower() in custom:  # a custom field by its field_id, exactly
                if value is not None:
                    updates[custom[key.lower()]] = custom_value(value)
            else:
                return invalid_field(key)
    except FieldValueError as exc:
        return OpError(exc.code, exc.message)
    return plan


BATCH_OPS = {"batchUpsert": "upsert", "batchUpdate": "update", "batchCreate": "create"}


def batch_data(app: Account, req: Incoming) -> Any:
    """The parsed `prospects` parameter of a batch call, or the error Reply."""
    if req.params_error:
        return error(app, req, 71, "Input needs to be valid JSON or XML")
    raw = req.params().get("prospects")
    if raw is None or raw == "":
        return error(app, req, 71, "Input needs to be valid JSON or XML")
    try:
        return json.loads(raw)
    except ValueError:
        return error(app, req, 71, "Input needs to be valid JSON or XML")


def batch(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    op = BATCH_OPS[m.group(2)]
    data = batch_data(app, req)
    if isinstance(data, Reply):
        return data
    rows = data.get("prospects") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        return error(app, req, 71, "Input needs to be valid JSON or XML")
    if len(rows) > MAX_BATCH_ROWS:
        return error(app, req, 70, "Batch processing is limited to 50 prospects at once.")
    settings = app.settings
    custom = customfields.v4_names(app)
    plans = [parse_row(row, settings.lists, custom) for row in rows]
    errors, created, updated = app.store.apply_v4(plans, op, settings.ampsea)
    app.counters.rows(created, updated, len(errors))
    body = {"@attributes": {"stat": "fail" if errors else "ok", "version": 1}, "errors": errors}
    return reply(req, 201 if created else 200, body)


def v4_prospect(p: dict[str, Any]) -> dict[str, Any]:
    """A stored prospect as v4 returns it (snake_case; fid as crm_lead/contact_fid)."""
    out: dict[str, Any] = {}
    for name in STORE_FIELDS:
        if name in ("crm_fid", "password"):
            continue
        out[name] = p.get(name)
    fid = p.get("crm_fid")
    out["crm_lead_fid"] = fid if fid is not None and not str(fid).startswith("003") else None
    out["crm_contact_fid"] = fid if fid is not None and str(fid).startswith("003") else None
    for key, value in p.items():
        if key.endswith("__c"):
            out[key] = value
    out["created_at"] = p.get("created_at")
    out["updated_at"] = p.get("updated_at")
    return out


def single_upsert(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    by, raw_value = m.group(2), unquote(m.group(3))
    params = req.params().merged()
    row: dict[str, Any] = {k: v for k, v in params.items() if k not in _NON_FIELD_PARAMS}
    if by == "email":
        row["email"] = raw_value
    elif by == "id":
        row["id"] = raw_value
    else:
        row["fid"] = raw_value
    plan = parse_row(row, app.settings.lists, customfields.v4_names(app))
    if isinstance(plan, OpError):
        return error(app, req, plan.code, plan.message)
    try:
        created, p = app.store.apply_v4_single(plan, "upsert", app.settings.ampsea)
    except OpError as exc:
        app.counters.rows(0, 0, 1)
        return error(app, req, exc.code, exc.message)
    app.counters.rows(int(created), int(not created))
    return reply(req, 201 if created else 200, v4_ok_body(prospect=v4_prospect(p)))


# --------------------------------------------------------------------------- list memberships

def _membership_body(mem: dict[str, Any]) -> dict[str, Any]:
    return v4_ok_body(list_membership={
        "id": mem["id"], "list_id": mem["list_id"], "prospect_id": mem["prospect_id"],
        "opted_out": mem["opted_out"], "created_at": mem["created_at"],
        "updated_at": mem["updated_at"]})


def _opted_out(req: Incoming) -> bool | OpError | None:
    raw = req.params().get("opted_out")
    if raw is None:
        return None
    value = coerce_bool_v4(raw)
    if value is None:
        return OpError(50, "Invalid boolean")
    return value


def membership_by_pair(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    action, raw_list, raw_prospect = m.group(2), m.group(3), m.group(4)
    list_id = coerce_int(unquote(raw_list))
    prospect_id = coerce_int(unquote(raw_prospect))
    opted = _opted_out(req)
    if isinstance(opted, OpError):
        return error(app, req, opted.code, opted.message)
    lists = app.settings.lists
    try:
        if list_id is None:
            raise OpError(55, "Invalid list ID")
        if prospect_id is None:
            raise OpError(3, "Invalid prospect ID")
        if action == "create":
            mem = app.store.members.create(list_id, prospect_id, bool(opted), lists)
            return reply(req, 201, _membership_body(mem))
        mid = app.store.members.find(list_id, prospect_id, lists)
        return _by_id(app, req, action, mid, opted)
    except OpError as exc:
        return error(app, req, exc.code, exc.message)


def membership_by_id(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    action = m.group(2)
    mid = coerce_int(unquote(m.group(3)))
    opted = _opted_out(req)
    if isinstance(opted, OpError):
        return error(app, req, opted.code, opted.message)
    try:
        if mid is None:
            raise OpError(16, "Invalid ID")
        return _by_id(app, req, action, mid, opted)
    except OpError as exc:
        return error(app, req, exc.code, exc.message)


def _by_id(app: Account, req: Incoming, action: str, mid: int, opted: bool | None) -> Reply:
    if action == "read":
        return reply(req, 200, _membership_body(app.store.members.get(mid)))
    if action == "update":
        return reply(req, 200, _membership_body(app.store.members.update(mid, opted)))
    app.store.members.delete(mid)
    return Reply(204, b"", "")
