"""Every request the target can send has a row in docs/wire-contract.md.

The requests are taken from the code, not restated: each endpoint method of the client
is called against a recorder, the list-member reader and the identity check drive their
queries through it, and the token and authorize forms come from their builders. Each
recorded method and path must be named by a row of the contract's Requests table, with
every query key it carries. A new endpoint method fails here until it is listed in
``CALLS`` and its row is written; a new place that sends HTTP outside the client fails
``test_http_is_sent_only_from_the_known_places``.
"""

from __future__ import annotations

import ast
import datetime
import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from target_pardot import login
from target_pardot.pardot import auth
from target_pardot.pardot.call import Call
from target_pardot.pardot.endpoints import LIST_FIELDS, Endpoints
from target_pardot.pardot.list_members import read_members
from target_pardot.pardot.responses import Reply
from target_pardot.rows.audiences import ListRef
from target_pardot.run.email_resolver import EmailResolver
from target_pardot.run.identity import IdentityMap
from target_pardot.run.identity_check import IdentityRouter, watermark
from target_pardot.run.list_directory import ListDirectory
from target_pardot.run.stats import RunStats
from target_pardot.settings import parse_settings
from target_pardot.settings_table import SETTINGS
from tests.keys import rsa_key_pair

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "wire-contract.md"

#: Ids the sample calls use. The contract writes an id in a path as a placeholder
#: (`<id>`, `<L>`, `<P>`); paths are compared with every placeholder as `<>`.
IMPORT_ID, LIST_ID, PROSPECT_ID = 4242, 5353, 6464
#: The address a sample read by email names, as its path writes it (`+` encoded).
EMAIL, EMAIL_IN_PATH = "a+b@example.com", "a%2Bb@example.com"
_PLACEHOLDER = re.compile(r"<\w*>")


@dataclass(frozen=True)
class Sent:
    method: str
    path: str
    params: Mapping[str, str]
    redirects_to_storage: bool
    #: The query of a URL Pardot gave (a `nextPageUrl`): Pardot's keys, not the target's.
    given_query: Mapping[str, str]


class Recorder:
    """A client whose endpoints record each call instead of sending it."""

    def __init__(self, replies: Callable[[str, Mapping[str, str]], Any] | None = None) -> None:
        self.sent: list[Sent] = []
        self._replies = replies or (lambda path, params: {})
        self.endpoints = Endpoints(self._record)
        self.api_version = _FixedVersion()

    def _record(self, call: Call) -> Reply:
        split = urlsplit(call.path)
        given = dict(parse_qsl(split.query))
        sent = Sent(call.method, split.path, dict(call.params or {}),
                    call.redirects_to_storage, given)  # fmt: skip
        self.sent.append(sent)
        return Reply(200, self._replies(split.path, {**given, **sent.params}))


class _FixedVersion:
    """The client's v3/v4 version switch, pinned: every call goes in version 4."""

    def run(self, send: Callable[[int], Any]) -> Any:
        return send(4)


#: One or more sample calls of every endpoint method: (method name, args, kwargs).
CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    *[("prospect_batch", (op, "prospects={}"), {"version": v, "idempotent": True})
      for op in ("batchUpsert", "batchUpdate") for v in (3, 4)],
    *[("version_probe", (), {"version": v}) for v in (3, 4)],
    ("v5_upsert_latest_by_email", ({"matchEmail": "a@example.com", "prospect": {}},), {}),
    *[("prospect_read_by_email", (EMAIL,), {"version": v}) for v in (3, 4)],
    *[("list_membership", (action, LIST_ID, PROSPECT_ID), {"version": v, "opted_out": True})
      for action in ("create", "update") for v in (3, 4)],
    ("v5_list_memberships", ({"fields": "id,listId,prospectId"},), {}),
    ("v5_query_prospects", ({"fields": "id,email"},), {}),
    ("v5_lists", ({"fields": LIST_FIELDS},), {}),
    ("v5_list_read", (LIST_ID,), {}),
    *[("list_query_by_name", ("Newsletter",), {"version": v}) for v in (3, 4)],
    ("v5_list_create", ("Newsletter",), {}),
    ("v5_custom_fields", (), {}),
    ("v5_custom_fields", ("https://pi.pardot.com/api/v5/objects/custom-fields?nextPageToken=t",),
     {}),
    ("import_create", ({"operation": "Upsert", "object": "Prospect"}, b"email\n"), {}),
    ("import_add_batch", (IMPORT_ID, b"email\n"), {}),
    ("import_set_ready", (IMPORT_ID,), {}),
    ("import_status", (IMPORT_ID,), {}),
    ("import_errors", (IMPORT_ID,), {}),
]  # fmt: skip


# ----------------------------------------------------------------------- the contract

def request_rows() -> dict[str, list[str]]:
    """Row number -> the row's cells, from the contract's Requests table."""
    section = CONTRACT.read_text().split("\n## Requests", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if cells and re.fullmatch(r"R\d+[a-z]?", cells[0]):
            rows[cells[0]] = cells
    return rows


_METHOD_PATH = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) ([^`\s?]+)[^`]*`(?: \(`(\w+)`\))?")
_CHOICE = re.compile(r"\{([^{}]*,[^{}]*)\}")


def _expand(path: str) -> Iterator[str]:
    """`a/{b,c}/d` -> `a/b/d`, `a/c/d` (a `{name}` without a comma is a placeholder)."""
    match = _CHOICE.search(path)
    if match is None:
        yield path
        return
    for choice in match.group(1).split(","):
        yield from _expand(path[: match.start()] + choice + path[match.end():])


def documented(cell: str) -> set[tuple[str, str]]:
    """(method, path) pairs a row's request cell names; "`POST .../batchUpsert` (`batchUpdate`)"
    names both last segments."""
    pairs = set()
    for method, path, other_last in _METHOD_PATH.findall(cell):
        for expanded in _expand(_PLACEHOLDER.sub("<>", path)):
            pairs.add((method, expanded))
            if other_last:
                pairs.add((method, expanded.rsplit("/", 1)[0] + "/" + other_last))
    return pairs


def rows_for(method: str, path: str) -> dict[str, str]:
    """Row number -> the whole row's text, for the rows that name this request."""
    return {
        number: " | ".join(cells)
        for number, cells in request_rows().items()
        if (method, path) in documented(cells[2])
    }


def templated(path: str) -> str:
    for value in (IMPORT_ID, LIST_ID, PROSPECT_ID, re.escape(EMAIL_IN_PATH)):
        path = re.sub(rf"(?<=/){value}(?=/|$)", "<>", path)
    return path


def names_key(text: str, key: str) -> bool:
    """The row names a query key: `key=...`, `?key=...`, or `key` in backticks."""
    return re.search(rf"[`?&]{re.escape(key)}[=`]", text) is not None


def assert_has_a_row(sent: Sent) -> None:
    path = templated(sent.path)
    rows = rows_for(sent.method, path)
    assert rows, f"no row of docs/wire-contract.md names {sent.method} {path}"
    covering = [n for n, text in rows.items() if all(names_key(text, k) for k in sent.params)]
    assert covering, f"{sent.method} {path}: no row names every key of {sorted(sent.params)}"
    if "fields" in sent.params:
        assert any(f"fields={sent.params['fields']}" in rows[n] for n in covering), sent
    if sent.given_query:
        assert any("`nextPageUrl`" in rows[n] for n in covering), sent
    if sent.redirects_to_storage:
        assert any("`GET <Location>`" in rows[n] for n in covering), sent


# ----------------------------------------------------------------------- the tests

def test_the_contract_parser_reads_the_table():
    rows = request_rows()
    assert {"R1", "R2a", "R3", "R22"} <= set(rows)
    assert ("POST", "/api/prospect/version/4/do/batchUpdate") in documented(rows["R3"][2])
    assert ("POST", "/api/listMembership/version/3/do/update/list_id/<>/prospect_id/<>") in (
        documented(rows["R14"][2]))
    assert rows_for("DELETE", "/api/v5/imports/<>") == {}
    assert names_key("`idGreaterThan` (the account", "idGreaterThan")
    assert not names_key("`idGreaterThanOrEqualTo=", "idGreaterThan")


def test_every_endpoint_method_has_sample_calls():
    methods = {
        name for name, member in inspect.getmembers(Endpoints, inspect.isfunction)
        if not name.startswith("_")
    }  # fmt: skip
    assert methods == {name for name, _, _ in CALLS}


@pytest.mark.parametrize(("name", "args", "kwargs"), CALLS)
def test_every_endpoint_has_a_row(name, args, kwargs):
    recorder = Recorder()
    getattr(recorder.endpoints, name)(*args, **kwargs)
    assert recorder.sent
    for sent in recorder.sent:
        assert_has_a_row(sent)


def test_the_list_member_reader_sends_what_its_rows_say():
    def page(first: int) -> list[dict[str, int]]:
        return [{"id": n, "listId": LIST_ID, "prospectId": n} for n in range(first, first + 1000)]

    def replies(path: str, params: Mapping[str, str]) -> Any:
        # a full page with a token, a full last page: then a new sequence by id
        if "idGreaterThan" in params:
            return {"values": []}
        if "nextPageToken" in params:
            return {"values": page(1001)}
        return {"values": page(1), "nextPageToken": "t1"}

    recorder = Recorder(replies)
    read_members(recorder.endpoints.v5_list_memberships, LIST_ID)
    kinds = {tuple(sorted(sent.params)) for sent in recorder.sent}
    assert any("nextPageToken" in k for k in kinds)
    assert any("idGreaterThan" in k for k in kinds)
    for sent in recorder.sent:
        assert_has_a_row(sent)


def test_the_identity_check_sends_what_its_rows_say(tmp_path):
    full = [{"id": n, "email": f"p{n}@example.com"} for n in range(1, 1001)]
    recorder = Recorder(lambda path, params: {"values": [] if "idGreaterThan" in params
                                              else full})  # fmt: skip
    identity = IdentityMap(tmp_path / "map.sqlite3", "0Uv000000000001AAA")
    identity.mark_checked(watermark(datetime.datetime.now(datetime.timezone.utc)))
    identity.learn("p1@example.com", 1)
    query = recorder.endpoints.v5_query_prospects
    router = IdentityRouter(identity, query, RunStats(), dry_run=False)
    router.split([{"email": "p1@example.com"}], lambda row: row["email"], lambda row: row["email"])
    identity.close()
    assert any("idGreaterThan" in sent.params for sent in recorder.sent)
    assert any("deleted" in sent.params for sent in recorder.sent)  # the map's sample read
    for sent in recorder.sent:
        assert_has_a_row(sent)


def test_the_list_directory_sends_what_its_rows_say():
    def replies(path: str, params: Mapping[str, str]) -> Any:
        if path == "/api/v5/objects/lists" and "orderBy" in params:  # the query, not a create
            if "idGreaterThan" in params:
                return {"values": []}
            return {"values": [{"id": n, "name": f"L{n}", "isDynamic": False}
                               for n in range(1, 1001)]}
        if path.startswith("/api/v5/objects/lists"):
            return {"id": LIST_ID, "name": "Newsletter", "isDynamic": False}
        return {"@attributes": {"stat": "ok"}, "result": {"total_results": 0}}

    recorder = Recorder(replies)
    directory = ListDirectory(recorder, RunStats(), create_missing=True, dry_run=False,
                              offline=False)  # fmt: skip
    directory.resolve(ListRef(name="Newsletter"), "s")
    directory.check_writable([PROSPECT_ID], "s")
    assert [s.method for s in recorder.sent] == ["GET", "GET", "GET", "POST", "GET"]
    for sent in recorder.sent:
        assert_has_a_row(sent)


def test_the_email_resolver_sends_what_its_row_says():
    full = [{"id": n, "email": f"p{n}@example.com", "updatedAt": "2026-01-01T00:00:00+00:00"}
            for n in range(1, 1001)]
    recorder = Recorder(lambda path, params: {"values": [] if "idGreaterThan" in params
                                              else full})  # fmt: skip
    query = recorder.endpoints.v5_query_prospects
    EmailResolver(query, RunStats(), None).resolve(["a@example.com"])
    EmailResolver(query, RunStats(), None).resolve([f"x{n}@example.com" for n in range(15)])
    kinds = {tuple(sorted(sent.params)) for sent in recorder.sent}
    assert any("email" in k for k in kinds)
    assert any("idGreaterThan" in k for k in kinds)
    for sent in recorder.sent:
        assert_has_a_row(sent)


def _token_rows() -> dict[str, str]:
    return rows_for("POST", "{login_url}" + auth.TOKEN_PATH)


@pytest.mark.parametrize("flow", dict(next(s for s in SETTINGS if s.name == "auth_flow").choices))
def test_every_token_grant_has_a_row(flow):
    private, _ = rsa_key_pair()
    settings = parse_settings({
        "auth_flow": flow, "client_id": "cid", "client_secret": "csecret",
        "refresh_token": "rtoken", "username": "u@example.com", "private_key": private,
        "business_unit": "0Uv000000000001AAA",
        "login_url": "https://example.my.salesforce.com",
    })  # fmt: skip
    form = auth.token_request_form(settings)
    rows = [text for text in _token_rows().values() if f"grant_type={form['grant_type']}" in text]
    assert rows, f"no token row for grant_type={form['grant_type']}"
    assert any(all(f"`{key}" in text for key in form) for text in rows), sorted(form)


def test_the_login_command_has_rows():
    url = login.authorize_url("https://login.salesforce.com", "cid",
                              "http://localhost:8080/callback", "challenge", "state",
                              scope="api refresh_token")  # fmt: skip
    split = urlsplit(url)
    [authorize] = rows_for("GET", "{login_url}" + split.path).values()
    for key, _ in parse_qsl(split.query):
        assert f"`{key}" in authorize, key
    assert login.TOKEN_PATH == auth.TOKEN_PATH
    assert any("grant_type=authorization_code" in text for text in _token_rows().values())


#: Where the target sends HTTP itself: (module, the object it calls, the method).
KNOWN_SENDERS = {
    ("target_pardot/pardot/client.py", "self.session", "request"),  # every Pardot call
    ("target_pardot/pardot/client.py", "self.session", "get"),  # R10's second GET
    ("target_pardot/pardot/auth.py", "self._session", "post"),  # R1, R2, R2a
    ("target_pardot/login.py", "requests", "post"),  # R2c
}
_HTTP_METHODS = {"request", "get", "post", "put", "patch", "delete", "head", "options"}


def _senders(path: Path) -> set[tuple[str, str, str]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = ast.unparse(node.func.value)
        if node.func.attr in _HTTP_METHODS and (
            receiver in ("requests", "urllib.request", "http.client")
            or receiver.endswith("session")
        ):
            found.add((str(path.relative_to(ROOT)), receiver, node.func.attr))
        if receiver == "urllib.request" or node.func.attr in ("urlopen", "HTTPConnection",
                                                               "HTTPSConnection"):
            found.add((str(path.relative_to(ROOT)), receiver, node.func.attr))
    return found


def test_http_is_sent_only_from_the_known_places():
    found = set().union(*(_senders(p) for p in sorted((ROOT / "target_pardot").rglob("*.py"))))
    assert found == KNOWN_SENDERS
