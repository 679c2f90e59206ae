"""v3/v4 reads: ``prospect/do/query``, ``prospect/do/read/{id,email,fid}``,
``listMembership/do/query`` and ``prospectAccount/do/describe``.

What a prospect looks like is taken from recorded traffic (grouparoo's Pardot plugin,
``__tests__/fixtures/export-profiles.js``: ``prospect/version/4/do/read`` on
pi.demo.pardot.com, ``Content-Type: application/json``): the standard fields in that
order, ``score`` 0 and ``grade``, ``last_activity_at`` null and ``recent_interaction``
"Never active." for a prospect without visitor activity, the CRM fields
(``crm_lead_fid``, ``crm_contact_fid``, ``crm_owner_fid``, ``crm_account_fid``,
``salesforce_fid``, ``crm_last_sync``, ``crm_url``), ``opted_out`` and the flags,
``created_at``/``updated_at`` as ``2021-03-05 06:48:02``; ``read`` adds the nested
``campaign``, ``profile``, ``visitors``, ``visitor_activities`` and ``lists``.
A query returns the same fields without the nested objects ("data concerning ...
list subscriptions will NOT be included in a query response", prospects.md); so
does ``output=bulk``, which "disables ... nested object relationships".
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from . import customfields, lists, queries, v4
from .records import OpError
from .wire import Reply, v4_ok_body

if TYPE_CHECKING:
    from .account import Account
    from .request import Incoming

#: The recorded reply's fields, in its order. ``password`` is a write-only field
#: there too (always null).
TEXT_FIELDS = (
    "salutation", "first_name", "last_name", "email", "password", "company", "website",
    "job_title", "department", "country", "address_one", "address_two", "city", "state",
    "territory", "zip", "phone", "fax", "source", "annual_revenue", "employees", "industry",
    "years_in_business", "comments", "notes",
)  # fmt: skip
FLAG_FIELDS = ("is_do_not_email", "is_do_not_call", "opted_out", "is_reviewed", "is_starred")
CONTACT_PREFIX = "003"  # Salesforce key prefix of a Contact (a Lead's is 00Q)

#: prospectAccount/do/describe: each field as ``{"@attributes": {...}}`` under
#: ``result.field`` (tap-pardot's discover.py reads ``field["@attributes"]["id"]``).
#: Prospect account fields "are fully customizable"; the reference lists id and name.
PROSPECT_ACCOUNT_FIELDS = (
    {"id": "name", "label": "Name", "type": "text", "required": True, "custom": False,
     "has_options": False},
)


def v4_custom_names(app: Account) -> dict[str, str]:
    """Store key (the v5 name) -> v4 name (the field_id) of each of the account's custom
    fields: v3/v4 name a custom field by its field_id (see customfields.py)."""
    return {customfields.v5_name(f): f for f in app.settings.custom_fields}


def wire_prospect(p: dict[str, Any], zone: Any, custom: dict[str, str]) -> dict[str, Any]:
    """A stored prospect as v4 query and read replies show it (without nested objects)."""
    fid = p.get("crm_fid")
    out: dict[str, Any] = {"id": p["id"], "campaign_id": p.get("campaign_id")}
    for name in TEXT_FIELDS:
        out[name] = None if name == "password" else p.get(name)
    if p.get("prospect_account_id") is not None:
        out["prospect_account_id"] = p["prospect_account_id"]
    out.update({
        "score": p.get("score") or 0,
        "grade": None,
        "last_activity_at": None,
        "recent_interaction": "Never active.",
        "crm_lead_fid": fid if fid is not None and not str(fid).startswith(CONTACT_PREFIX)
        else None,
        "crm_contact_fid": fid if fid is not None and str(fid).startswith(CONTACT_PREFIX)
        else None,
        "crm_owner_fid": None,
        "crm_account_fid": None,
        "salesforce_fid": fid,
        "crm_last_sync": None,
        "crm_url": None,
    })
    for flag in FLAG_FIELDS:
        out[flag] = p.get(flag)
    # "custom fields for which the prospect has a value" (prospects.md, `fields`)
    out.update({custom[k]: v for k, v in p.items() if k in custom and v is not None})
    out["created_at"] = queries.pardot_time(queries.epoch_of_iso(p["created_at"]), zone)
    out["updated_at"] = queries.pardot_time(queries.epoch_of_iso(p["updated_at"]), zone)
    return out


def _queryable(p: dict[str, Any]) -> dict[str, Any]:
    return {"id": p["id"], "created_at": queries.epoch_of_iso(p["created_at"]),
            "updated_at": queries.epoch_of_iso(p["updated_at"]),
            "last_activity_at": p["last_activity_at"]}


def _deleted_wanted(params: dict[str, str]) -> bool:
    return (params.get("deleted") or "").strip().lower() in ("true", "1")


def prospect_query(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    params = req.params().merged()
    zone = app.zone()
    try:
        q = queries.parse_query(params, queries.PROSPECTS, zone, app.now())
    except OpError as exc:
        return v4.error(app, req, exc.code, exc.message)
    list_filter = dict(q.equals).get("list_id")
    store = app.store
    with store.lock:
        members = None if list_filter is None else {
            mem["prospect_id"] for mem in store.memberships.values()
            if str(mem["list_id"]) == list_filter}
        wanted = _deleted_wanted(params)
        chosen = {pid: dict(p) for pid, p in store.prospects.items()
                  if p["deleted"] == wanted and (members is None or pid in members)}
    unfiltered = dataclasses.replace(q, equals=())
    page, total = queries.select([_queryable(p) for p in chosen.values()], unfiltered)
    custom = v4_custom_names(app)
    shown = [wire_prospect(chosen[row["id"]], zone, custom) for row in page]
    body = v4_ok_body(result=queries.result_body("prospect", shown, total, q.bulk))
    return v4.reply(req, 200, body)


def _subscriptions(app: Account, pid: int, zone: Any) -> Any:
    with app.store.lock:
        mems = sorted((dict(mem) for mem in app.store.memberships.values()
                       if mem["prospect_id"] == pid), key=lambda mem: mem["id"])
    if not mems:
        return None
    existing = app.settings.lists
    items = [{"id": mem["id"], "opted_out": mem["opted_out"],
              "created_at": queries.pardot_time(queries.epoch_of_iso(mem["created_at"]), zone),
              "updated_at": queries.pardot_time(queries.epoch_of_iso(mem["updated_at"]), zone),
              "list": lists.wire_list(app.lists.get(mem["list_id"], existing), zone)
              if mem["list_id"] in existing else None}
             for mem in mems]
    return {"list_subscription": items[0] if len(items) == 1 else items}


def full_prospect(app: Account, p: dict[str, Any], zone: Any) -> dict[str, Any]:
    """``read``: the fields plus the nested objects (empty ones null, as recorded)."""
    out = wire_prospect(p, zone, v4_custom_names(app))
    if p.get("campaign_id") is not None:
        out["campaign"] = {"id": p["campaign_id"], "name": f"Campaign {p['campaign_id']}"}
    out.update({"visitors": None, "visitor_activities": None,
                "lists": _subscriptions(app, p["id"], zone)})
    return out


def _find(app: Account, by: str, value: str) -> list[dict[str, Any]]:
    """Live prospects for read/id, read/email (all of them, AMPSEA) or read/fid."""
    store = app.store
    with store.lock:
        if by == "id":
            p = store.prospects.get(int(value)) if value.isdigit() else None
            found = [p] if p is not None and not p["deleted"] else []
        else:
            index = store.by_email if by == "email" else store.by_fid
            found = [store.prospects[pid] for pid in index.get(value, ())
                     if not store.prospects[pid]["deleted"]]
        return [dict(p) for p in found]


NOT_FOUND = {"id": (3, "Invalid prospect ID"), "email": (4, "Invalid prospect email address"),
             "fid": (77, "Invalid prospect fid")}


def prospect_read(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    by, value = m.group(2), unquote(m.group(3))
    found = _find(app, by, value)
    if not found:
        code, message = NOT_FOUND[by]
        return v4.error(app, req, code, message)
    zone = app.zone()
    shown = [full_prospect(app, p, zone) for p in sorted(found, key=lambda p: p["id"])]
    return v4.reply(req, 200, v4_ok_body(prospect=shown[0] if len(shown) == 1 else shown))


def wire_membership(mem: dict[str, Any], zone: Any) -> dict[str, Any]:
    return {"id": mem["id"], "list_id": mem["list_id"], "prospect_id": mem["prospect_id"],
            "opted_out": mem["opted_out"],
            "created_at": queries.pardot_time(queries.epoch_of_iso(mem["created_at"]), zone),
            "updated_at": queries.pardot_time(queries.epoch_of_iso(mem["updated_at"]), zone)}


def membership_query(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    """By GET or POST (tap-pardot's ListMemberships stream POSTs, parameters in the URL)."""
    params = req.params().merged()
    zone = app.zone()
    try:
        q = queries.parse_query(params, queries.LIST_MEMBERSHIPS, zone, app.now())
    except OpError as exc:
        return v4.error(app, req, exc.code, exc.message)
    with app.store.lock:
        every = {mid: dict(mem) for mid, mem in app.store.memberships.items()}
    rows = [{"id": mid, "list_id": mem["list_id"],
             "created_at": queries.epoch_of_iso(mem["created_at"]),
             "updated_at": queries.epoch_of_iso(mem["updated_at"])}
            for mid, mem in every.items()]
    page, total = queries.select([] if _deleted_wanted(params) else rows, q)
    shown = [wire_membership(every[row["id"]], zone) for row in page]
    body = v4_ok_body(result=queries.result_body("list_membership", shown, total, q.bulk))
    return v4.reply(req, 200, body)


def prospect_account_describe(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    fields = [{"@attributes": dict(f)} for f in PROSPECT_ACCOUNT_FIELDS]
    return v4.reply(req, 200, v4_ok_body(result={"field": fields}))
