"""The v3/v4 version switch, the v3 batch shape, and calls kept in stream order."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import unquote_plus

import pytest

from target_pardot.errors import ApiVersionRejected, WrongApiVersion
from target_pardot.pardot.api_version import ApiVersion, v3v4_path
from target_pardot.rows.v3 import (
    unique_identifier_batches,
    v3_batch_body,
    v3_calls,
    v3_fields,
    v3_identifier,
    v3_row_errors,
)
from target_pardot.run.key_order import KeyOrder, prospect_identity


def test_paths_differ_only_in_the_version():
    assert v3v4_path(3, "prospect", "batchUpsert") == "/api/prospect/version/3/do/batchUpsert"
    assert v3v4_path(4, "listMembership", "create") == "/api/listMembership/version/4/do/create"


def test_auto_starts_on_v4_and_switches_once_on_89(caplog):
    caplog.set_level("INFO")
    seen: list[int] = []
    api = ApiVersion("auto", on_change=seen.append)
    assert (api.current, api.known) == (4, False)
    api.refused(4, 89)
    api.refused(4, 89)  # a second call that was in flight: no second switch or log
    assert (api.current, api.known) == (3, True)
    assert seen == [4, 3]
    assert caplog.text.count("uses API v3 from now on") == 1
    # Either kind of account is normal: finding it out is no warning.
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_88_switches_back_and_a_refusal_of_both_stops_the_run():
    api = ApiVersion("auto")
    api.prefer(3)
    api.refused(3, 88)
    assert (api.current, api.known) == (4, True)
    with pytest.raises(ApiVersionRejected, match="both API v3"):
        api.refused(4, 89)


def test_a_call_refused_in_v3_sends_again_in_v4_beside_the_calls_waiting_behind_it():
    """Only the v3 attempt holds the probe. The refused call's v4 sending (for email-only
    rows, one v5 call each) must not keep the calls queued behind it one at a time."""
    api = ApiVersion("auto")
    api.prefer(3)
    first_in_v4 = threading.Event()
    second_done = threading.Event()
    versions: list[tuple[str, int]] = []
    side_by_side: list[bool] = []

    def first(version: int) -> None:
        versions.append(("first", version))
        if version == 3:
            time.sleep(0.05)  # the second call queues behind the probe meanwhile
            raise WrongApiVersion("must use version 4", code=88)
        first_in_v4.set()
        # Still sending in v4 when the second call finishes: they ran side by side.
        side_by_side.append(second_done.wait(5))

    def second(version: int) -> None:
        versions.append(("second", version))
        second_done.set()

    worker = threading.Thread(target=api.run, args=(first,))
    worker.start()
    time.sleep(0.01)
    api.run(second)
    worker.join(10)
    assert first_in_v4.is_set() and second_done.is_set() and not worker.is_alive()
    assert side_by_side == [True], "the second call waited for the first one's v4 sending"
    # One refused call only: the second never tried v3.
    assert versions == [("first", 3), ("first", 4), ("second", 4)]


def test_a_fixed_version_is_never_switched():
    api = ApiVersion("4")
    assert api.known
    api.prefer(3)
    assert api.current == 4
    with pytest.raises(ApiVersionRejected, match="Set 'api_version' to 3 or auto"):
        api.refused(4, 89)


def test_prefer_only_before_the_version_is_known():
    api = ApiVersion("auto")
    api.confirm(4)
    api.prefer(3)
    assert api.current == 4


def test_v3_elements_are_keyed_by_id_else_email():
    assert v3_identifier({"id": 7, "email": "a@x.com"}) == "7"
    assert v3_identifier({"email": "a@x.com", "fid": "00Q1"}) == "a@x.com"
    assert v3_identifier({"fid": "00Q1"}) is None
    assert v3_fields({"id": 7, "email": "new@x.com", "city": "Nice"}, "7") == {
        "email": "new@x.com", "city": "Nice"}
    assert v3_fields({"email": "a@x.com", "fid": "00Q1", "list_3": 1}, "a@x.com") == {
        "list_3": 1}


def test_v3_body_is_a_keyed_object_in_the_form_body():
    body = v3_batch_body([("a@x.com", '{"city":"Nice"}'), ("7", "{}")])
    assert body.startswith("prospects=")
    assert json.loads(unquote_plus(body[len("prospects="):])) == {
        "prospects": {"a@x.com": {"city": "Nice"}, "7": {}}}


def test_case_variants_never_share_a_call_and_keep_their_order():
    items = ["a@x.com", "b@x.com", "A@X.com", "c@x.com", "a@X.COM"]
    assert unique_identifier_batches(items, str) == [
        ["a@x.com", "b@x.com", "c@x.com"], ["A@X.com"], ["a@X.COM"]]


def test_v3_calls_leave_out_fid_only_rows():
    keyless, calls = v3_calls([{"fid": "1"}, {"email": "a@x.com"}, {"id": 3}], lambda e: e)
    assert keyless == [{"fid": "1"}]
    [(_, identifiers, _)] = calls
    assert identifiers == ["a@x.com", "3"]


def test_v3_errors_map_to_rows_by_identifier_case_or_position():
    errors, unmatched = v3_row_errors(
        {"errors": {"a@x.com": "bad", "B@X.COM": "worse", "3": "by id", "2": "by position",
                    "zzz": "?"}},
        ["a@x.com", "b@x.com", "x@x.com", "3"],
    )
    assert errors == {0: "bad", 1: "worse", 3: "by id", 2: "by position"}
    assert unmatched == ["zzz"]
    assert v3_row_errors({"errors": []}, ["a"]) == ({}, [])


def test_identity_ignores_email_case():
    assert prospect_identity({"email": "Ann@X.com"}) == prospect_identity({"email": "ann@x.com"})
    assert prospect_identity({"id": 5, "email": "a@x.com"}) == 5
    assert prospect_identity({"fid": "00Q1", "email": "a@x.com"}) == ("fid", "00Q1")


def test_a_call_waits_for_earlier_calls_with_the_same_prospect_only():
    order = KeyOrder()
    log: list[str] = []
    release_first = threading.Event()

    def first() -> None:
        release_first.wait(5)
        log.append("first")

    jobs = [
        order.in_order(["a@x.com"], first),
        order.in_order(["b@x.com"], lambda: log.append("unrelated")),
        order.in_order(["b@x.com", "a@x.com"], lambda: log.append("second")),
    ]
    threads = [threading.Thread(target=job) for job in jobs]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    assert log == ["unrelated"]
    release_first.set()
    for thread in threads:
        thread.join(5)
    assert log == ["unrelated", "first", "second"]
    assert order._last == {}
