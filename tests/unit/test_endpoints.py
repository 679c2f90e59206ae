"""The endpoints build calls for whatever requestor they hold: no client, no HTTP."""

from __future__ import annotations

from target_pardot.pardot.call import Call
from target_pardot.pardot.endpoints import IMPORT_STATUS_FIELDS, Endpoints
from target_pardot.pardot.responses import Reply


def recording() -> tuple[Endpoints, list[Call]]:
    sent: list[Call] = []

    def send(call: Call) -> Reply:
        sent.append(call)
        return Reply(200, {"values": [{"id": 1}, "not a record"]})

    return Endpoints(send), sent


def test_an_import_poll_is_one_replayable_read_naming_its_fields():
    endpoints, sent = recording()
    endpoints.import_status(42)
    assert sent == [
        Call(
            "GET",
            "/api/v5/imports/42",
            endpoint="imports/read",
            idempotent=True,
            params={"fields": IMPORT_STATUS_FIELDS},
        )
    ]


def test_a_list_create_is_never_replayed_and_sends_its_name_as_json():
    endpoints, sent = recording()
    endpoints.v5_list_create("Newsletter")
    [call] = sent
    assert (call.method, call.path, call.idempotent) == ("POST", "/api/v5/objects/lists", False)
    assert call.json == {"name": "Newsletter"}


def test_a_prospect_query_returns_only_the_records_of_its_reply():
    endpoints, sent = recording()
    assert endpoints.v5_query_prospects({"email": "a@example.com"}) == [{"id": 1}]
    assert sent[0].endpoint == "v5/prospects/query"
