"""Lists as objects: ``list/version/4/do/query``, ``read``, ``create`` and ``update``.

Fields and their meaning: pardot/api-docs docs/kb/object-field-references.md "List"
(id, name, is_public, is_dynamic, title, description, is_crm_visible, created_at,
updated_at) and the reply of docs/kb/api-version-4/lists.md (``{"list": {...}}``).
PyPardotSF (objects/lists.py and its tests) creates a list with name, title and
description, and reads ``results['list']['id']`` back.

The ``lists`` setting says which list ids exist; a configured id that nobody created
through the API is a list named "List <id>", stamped with the time the store was last
reset. A list created through the API gets the next free id, which joins the setting.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import queries, v4
from .records import OpError
from .wire import v4_ok_body

if TYPE_CHECKING:
    from .account import Account
    from .request import Incoming

EDITABLE_TEXT = ("name", "title", "description")
EDITABLE_FLAGS = ("is_public", "is_crm_visible")
_TRUE, _FALSE = ("1", "true"), ("0", "false")


def editable_values(params: dict[str, str]) -> dict[str, Any]:
    """name/title/description as given; is_public/is_crm_visible as booleans (error 50).
    ``is_dynamic`` is not editable (PyPardotSF's tests: an update leaves it unchanged)."""
    values: dict[str, Any] = {k: params[k] for k in EDITABLE_TEXT if k in params}
    for flag in EDITABLE_FLAGS:
        if flag in params:
            raw = params[flag].strip().lower()
            if raw not in _TRUE + _FALSE:
                raise OpError(50, "Invalid boolean")
            values[flag] = raw in _TRUE
    return values


def wire_list(record: dict[str, Any], zone: Any) -> dict[str, Any]:
    """A list as v4 shows it: Pardot timestamps in the account's time zone."""
    out = dict(record)
    for stamp in ("created_at", "updated_at"):
        out[stamp] = queries.pardot_time(queries.epoch_of_iso(record[stamp]), zone)
    return out


def _queryable(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "created_at": queries.epoch_of_iso(record["created_at"]),
            "updated_at": queries.epoch_of_iso(record["updated_at"])}


# --------------------------------------------------------------------------- handlers


def query(app: Account, req: Incoming, m: re.Match[str]) -> Any:
    zone = app.zone()
    try:
        q = queries.parse_query(req.params().merged(), queries.LISTS, zone, app.now())
    except OpError as exc:
        return v4.error(app, req, exc.code, exc.message)
    every = app.lists.all(app.settings.lists)
    page, total = queries.select([_queryable(r) for r in every], q)
    by_id = {r["id"]: r for r in every}
    shown = [wire_list(by_id[p["id"]], zone) for p in page]
    return v4.reply(req, 200, v4_ok_body(result=queries.result_body("list", shown, total,
                                                                      q.bulk)))


def read(app: Account, req: Incoming, m: re.Match[str]) -> Any:
    try:
        record = app.lists.get(_list_id(m.group(2)), app.settings.lists)
    except OpError as exc:
        return v4.error(app, req, exc.code, exc.message)
    return v4.reply(req, 200, v4_ok_body(list=wire_list(record, app.zone())))


def create(app: Account, req: Incoming, m: re.Match[str]) -> Any:
    try:
        values = editable_values(req.params().merged())
    except OpError as exc:
        return v4.error(app, req, exc.code, exc.message)
    record = app.lists.create(values, app.settings.lists, app.store.stamp())
    app.add_list(record["id"])
    return v4.reply(req, 201, v4_ok_body(list=wire_list(record, app.zone())))


def update(app: Account, req: Incoming, m: re.Match[str]) -> Any:
    try:
        record = app.lists.update(_list_id(m.group(2)), editable_values(req.params().merged()),
                                  app.settings.lists, app.store.stamp())
    except OpError as exc:
        return v4.error(app, req, exc.code, exc.message)
    return v4.reply(req, 200, v4_ok_body(list=wire_list(record, app.zone())))


def _list_id(raw: str) -> int:
    if not raw.isdigit():
        raise OpError(55, "Invalid list ID")
    return int(raw)
