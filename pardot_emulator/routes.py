"""The emulator's route table: which handler answers which Pardot path and method, and
the endpoint names the call counters use."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import customfields, imports, lists, v3, v4, v4_reads, v5, v5_lists, v5_prospect_query
from .request import Incoming
from .wire import Reply

if TYPE_CHECKING:
    from .account import Account

Handler = Callable[["Account", Incoming, "re.Match[str]"], Reply]

@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    family: str  # "v4" or "v5"
    methods: dict[str, tuple[str, Handler]]  # method -> (endpoint name template, handler)


def _route(pattern: str, family: str, methods: dict[str, tuple[str, Handler]]) -> Route:
    return Route(re.compile(pattern), family, methods)


_V4_GET_POST = ("GET", "POST")


def _batch(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    """v3 and v4 batch calls differ in their body: a keyed object or an array."""
    return (v3.batch if m.group(1) == "3" else v4.batch)(app, req, m)

ROUTES: tuple[Route, ...] = (
    _route(r"^/api/prospect/version/([34])/do/(batchUpsert|batchUpdate|batchCreate)/?$", "v4",
           dict.fromkeys(_V4_GET_POST, ("prospect/{1}", _batch))),
    _route(r"^/api/prospect/version/([34])/do/upsert/(email|id|fid)/([^/]+)/?$", "v4",
           dict.fromkeys(_V4_GET_POST, ("prospect/upsert", v4.single_upsert))),
    _route(r"^/api/listMembership/version/([34])/do/(create|update|read|delete)"
           r"/list_id/([^/]+)/prospect_id/([^/]+)/?$", "v4",
           dict.fromkeys(_V4_GET_POST, ("listMembership/{1}", v4.membership_by_pair))),
    _route(r"^/api/listMembership/version/([34])/do/(read|update|delete)/id/([^/]+)/?$", "v4",
           dict.fromkeys(_V4_GET_POST, ("listMembership/{1}", v4.membership_by_id))),
    _route(r"^/api/prospect/version/([34])/do/query/?$", "v4",
           dict.fromkeys(_V4_GET_POST, ("prospect/query", v4_reads.prospect_query))),
    _route(r"^/api/prospect/version/([34])/do/read/(email|id|fid)/([^/]+)/?$", "v4",
           dict.fromkeys(_V4_GET_POST, ("prospect/read", v4_reads.prospect_read))),
    _route(r"^/api/listMembership/version/([34])/do/query/?$", "v4",
           dict.fromkeys(_V4_GET_POST, ("listMembership/query", v4_reads.membership_query))),
    _route(r"^/api/list/version/([34])/do/query/?$", "v4",
           dict.fromkeys(_V4_GET_POST, ("list/query", lists.query))),
    _route(r"^/api/list/version/([34])/do/read/id/([^/]+)/?$", "v4",
           dict.fromkeys(_V4_GET_POST, ("list/read", lists.read))),
    _route(r"^/api/list/version/([34])/do/create/?$", "v4",
           dict.fromkeys(_V4_GET_POST, ("list/create", lists.create))),
    _route(r"^/api/list/version/([34])/do/update/id/([^/]+)/?$", "v4",
           dict.fromkeys(_V4_GET_POST, ("list/update", lists.update))),
    _route(r"^/api/prospectAccount/version/([34])/do/describe/?$", "v4",
           dict.fromkeys(_V4_GET_POST, ("prospectAccount/describe",
                                        v4_reads.prospect_account_describe))),
    _route(r"^/api/v5/objects/prospects/do/upsertLatestByEmail$", "v5",
           {"POST": ("prospect/upsertLatestByEmail", v5.upsert_latest_by_email)}),
    _route(r"^/api/v5/objects/list-memberships$", "v5",
           {"POST": ("v5/list-memberships", v5.memberships_collection),
            "GET": ("v5/list-memberships/query", v5.memberships_collection)}),
    _route(r"^/api/v5/objects/list-memberships/(\d+)$", "v5",
           {"GET": ("v5/list-memberships/read", v5.membership_item),
            "PATCH": ("v5/list-memberships/update", v5.membership_item),
            "DELETE": ("v5/list-memberships/delete", v5.membership_item)}),
    _route(r"^/api/v5/imports$", "v5", {"POST": ("imports/create", imports.imports_collection)}),
    _route(r"^/api/v5/imports/(\d+)$", "v5",
           {"GET": ("imports/read", imports.import_item),
            "PATCH": ("imports/update", imports.import_item)}),
    _route(r"^/api/v5/imports/(\d+)/batches$", "v5",
           {"POST": ("imports/batch", imports.import_batches)}),
    _route(r"^/api/v5/imports/(\d+)/errors$", "v5",
           {"GET": ("imports/errors", imports.import_errors)}),
    _route(r"^/api/v5/objects/custom-fields$", "v5",
           {"GET": ("v5/custom-fields/query", customfields.v5_query)}),
    _route(r"^/api/customField/version/([34])/do/query/?$", "v4",
           dict.fromkeys(_V4_GET_POST, ("customField/query", customfields.v4_query))),
    _route(r"^/api/v5/objects/lists$", "v5",
           {"GET": ("v5/lists/query", v5_lists.lists_collection),
            "POST": ("v5/lists/create", v5_lists.lists_collection)}),
    _route(r"^/api/v5/objects/lists/(\d+)$", "v5",
           {"GET": ("v5/lists/read", v5_lists.list_item)}),
    _route(r"^/api/v5/objects/prospects$", "v5",
           {"GET": ("v5/prospects/query", v5_prospect_query.prospect_query)}),
)

#: Path prefixes that narrow the route search (a request is matched against its
#: prefix's routes only).
_PREFIXES = ("/api/prospect/", "/api/prospectAccount/", "/api/listMembership/", "/api/list/",
             "/api/customField/", "/api/v5/objects/prospects/", "/api/v5/objects/prospects",
             "/api/v5/objects/list-memberships", "/api/v5/objects/lists",
             "/api/v5/objects/custom-fields",
             "/api/v5/imports")


def _literal_start(route: Route) -> str:
    return route.pattern.pattern.lstrip("^").split("(")[0]


_PREFIX_ROUTES: dict[str, tuple[Route, ...]] = {
    prefix: tuple(r for r in ROUTES if _literal_start(r).startswith(prefix))
    for prefix in _PREFIXES
}


def find_route(path: str) -> tuple[Route, re.Match[str]] | None:
    for prefix, routes in _PREFIX_ROUTES.items():
        if path.startswith(prefix):
            for route in routes:
                m = route.pattern.match(path)
                if m:
                    return route, m
            return None
    return None


_VERSION_IN_PATH = re.compile(r"/version/(\d+)/")


def api_version_of(path: str) -> str:
    """"3", "4" or "5": which API version a call used, for the counters."""
    if path.startswith("/api/v5/"):
        return "5"
    m = _VERSION_IN_PATH.search(path)
    return m.group(1) if m else "unknown"


def family_of(path: str) -> str:
    return "v5" if path.startswith("/api/v5/") else "v4"
