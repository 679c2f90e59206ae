"""The identity map's pure parts: which entries a change contradicts, match_email rows,
and the store's buffered writes."""

from __future__ import annotations

import datetime
import threading

import pytest

from target_pardot.errors import ConfigError
from target_pardot.rows.payloads import InvalidRow, prepare_prospect, v5_upsert_body
from target_pardot.run.identity import IdentityMap, check_store_path, utc_stamp
from target_pardot.run.identity_check import (
    WATERMARK_MARGIN,
    one_key_per_prospect,
    sample_disagrees,
    sample_of,
    stale_emails,
    watermark,
)
from target_pardot.run.ledger import account_key


def checker(mapping: dict[str, int]):
    def emails_of(ids):
        wanted = set(ids)
        out: dict[int, set[str]] = {}
        for email, pid in mapping.items():
            if pid in wanted:
                out.setdefault(pid, set()).add(email)
        return out

    def lookup(emails):
        return {e: mapping[e] for e in emails if e in mapping}

    return emails_of, lookup


def test_an_unchanged_email_contradicts_nothing():
    emails_of, lookup = checker({"a@x.com": 1, "b@x.com": 2})
    assert stale_emails([{"id": 1, "email": "a@x.com"}], emails_of, lookup) == set()


def test_an_id_with_another_email_drops_its_entry():
    emails_of, lookup = checker({"a@x.com": 1, "b@x.com": 2})
    assert stale_emails([{"id": 1, "email": "new@x.com"}], emails_of, lookup) == {"a@x.com"}


def test_another_prospect_with_a_mapped_email_drops_the_entry():
    emails_of, lookup = checker({"a@x.com": 1})
    assert stale_emails([{"id": 9, "email": "a@x.com"}], emails_of, lookup) == {"a@x.com"}


def test_unmapped_prospects_are_ignored():
    emails_of, lookup = checker({"a@x.com": 1})
    assert stale_emails([{"id": 9, "email": "z@x.com"}, {"id": 8}], emails_of, lookup) == set()


def test_the_watermark_leaves_a_margin_and_names_its_offset():
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=datetime.timezone.utc)
    assert watermark(now) == utc_stamp(now - WATERMARK_MARGIN) == "2026-01-02T02:04:05+00:00"


def prepare(record, **kw):
    options = {"lowercase_emails": False, "upsert_by_email": True, "update_only": False}
    options.update(kw)
    return prepare_prospect(record, **options)[0]


def test_match_email_is_taken_out_of_the_fields_in_any_spelling():
    row = prepare({"MatchEmail": " Old@x.com ", "email": "new@x.com", "city": "Oslo"})
    assert row.match_email == "Old@x.com"
    assert row.fields == {"email": "new@x.com", "city": "Oslo"}
    assert row.lookup_email == "Old@x.com"
    body = v5_upsert_body(row.fields, search_deleted=True, return_fields=("id",),
                          match_email=row.match_email)  # fmt: skip
    assert body["matchEmail"] == "Old@x.com"
    assert body["prospect"]["email"] == "new@x.com"


def test_match_email_follows_lowercase_emails():
    row = prepare({"match_email": "Old@X.com", "email": "New@X.com"}, lowercase_emails=True)
    assert (row.match_email, row.fields["email"]) == ("old@x.com", "new@x.com")


def test_match_email_is_dropped_when_it_changes_nothing_or_an_id_identifies():
    assert prepare({"match_email": "a@x.com", "email": "a@x.com"}).match_email is None
    assert prepare({"match_email": "a@x.com", "email": "b@x.com", "id": 5}).match_email is None
    assert prepare({"match_email": None, "email": "b@x.com"}).match_email is None


def test_match_email_without_upsert_by_email_is_an_invalid_row():
    with pytest.raises(InvalidRow) as caught:
        prepare({"match_email": "a@x.com", "email": "b@x.com"}, upsert_by_email=False)
    assert caught.value.category == "match_email_needs_upsert_by_email"


def test_the_store_reads_its_own_buffered_writes(tmp_path):
    store = IdentityMap(tmp_path / "m.sqlite3", "0Uv000000000001AAA")
    store.learn("a@x.com", 1)
    store.learn("b@x.com", 2)
    assert store.lookup(["a@x.com", "b@x.com", "c@x.com"]) == {"a@x.com": 1, "b@x.com": 2}
    store.flush()
    store.forget(["a@x.com"])
    assert store.lookup(["a@x.com", "b@x.com"]) == {"b@x.com": 2}
    assert store.emails_of([1, 2]) == {2: {"b@x.com"}}
    store.close()
    again = IdentityMap(tmp_path / "m.sqlite3", "0Uv000000000001AAA")
    assert again.lookup(["a@x.com", "b@x.com"]) == {"b@x.com": 2}
    other_unit = IdentityMap(tmp_path / "m.sqlite3", "0Uv000000000002AAA")
    assert other_unit.lookup(["b@x.com"]) == {}
    again.close()
    other_unit.close()
    assert (tmp_path / "m.sqlite3").stat().st_mode & 0o777 == 0o600


def test_two_writers_on_one_file_both_land(tmp_path):
    path = tmp_path / "m.sqlite3"
    stores = [IdentityMap(path, "0Uv000000000001AAA") for _ in range(2)]

    def write(store: IdentityMap, offset: int) -> None:
        for i in range(200):
            store.learn(f"u{offset + i}@x.com", offset + i)
            if i % 20 == 0:
                store.flush()
        store.close()

    threads = [threading.Thread(target=write, args=(s, n * 1000)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check = IdentityMap(path, "0Uv000000000001AAA")
    emails = [f"u{i}@x.com" for i in range(200)] + [f"u{1000 + i}@x.com" for i in range(200)]
    assert len(check.lookup(emails)) == 400
    check.close()


def test_a_missing_directory_is_refused_unless_it_is_the_default(tmp_path):
    with pytest.raises(ConfigError, match=r"ledger_path.*does not exist"):
        check_store_path(tmp_path / "no" / "m.sqlite3", create_parent=False)
    check_store_path(tmp_path / "made" / "m.sqlite3", create_parent=True)
    assert (tmp_path / "made").is_dir()


def test_a_sample_agrees_when_pardot_holds_each_id_under_its_email():
    sample = sample_of({"b@x.com": 11, "a@x.com": 10, "c@x.com": 30})
    assert sample == [("a@x.com", 10), ("b@x.com", 11), ("c@x.com", 30)]
    page = [{"id": 10, "email": "A@x.com"}, {"id": 11, "email": "b@x.com"},
            {"id": 12, "email": "z@x.com"}, {"id": 30, "email": "c@x.com"}]  # fmt: skip
    assert not sample_disagrees(sample, page, page_full=False)


def test_a_sample_disagrees_on_a_missing_id_or_another_email():
    sample = [("a@x.com", 10), ("b@x.com", 11)]
    assert sample_disagrees(sample, [], page_full=False)
    assert sample_disagrees(sample, [{"id": 10, "email": "a@x.com"}], page_full=False)
    other = [{"id": 10, "email": "a@x.com"}, {"id": 11, "email": "q@x.com"}]
    assert sample_disagrees(sample, other, page_full=False)
    # A full page ending before id 11 has not read it: not a contradiction.
    assert not sample_disagrees(sample, [{"id": 10, "email": "a@x.com"}], page_full=True)


def test_entries_are_kept_per_host_and_business_unit(tmp_path):
    unit = "0Uv000000000001AAA"
    here = IdentityMap(tmp_path / "m.sqlite3", account_key("https://pi.pardot.com/", unit))
    here.learn("a@x.com", 7)
    here.flush()
    there = IdentityMap(tmp_path / "m.sqlite3", account_key("http://127.0.0.1:9", unit))
    assert there.lookup(["a@x.com"]) == {}
    same = IdentityMap(tmp_path / "m.sqlite3", account_key("HTTPS://pi.pardot.com", unit))
    assert same.lookup(["a@x.com"]) == {"a@x.com": 7}
    assert same.forget_all() == 1
    assert same.lookup(["a@x.com"]) == {}
    for store in (here, there, same):
        store.close()


def test_one_key_per_prospect_follows_an_address_change():
    rows = [("a", "b"), ("b", "b"), ("a", "a"), ("c", "c")]  # (lookup, address after)
    by_id, others, waiting = one_key_per_prospect(
        rows, {"a": 1, "c": 3}, lambda r: r[0], lambda r: r[1]
    )
    assert by_id == [(("a", "b"), 1), (("b", "b"), 1), (("c", "c"), 3)]
    assert waiting == [(("a", "a"), 1)]
    assert others == []


def test_rows_that_keep_their_address_share_a_mapped_id():
    rows = [("a", "a"), ("a", "b"), ("x", "x")]
    by_id, others, waiting = one_key_per_prospect(
        rows, {"a": 1}, lambda r: r[0], lambda r: r[1]
    )
    assert [pid for _, pid in by_id] == [1, 1]
    assert (others, waiting) == ([("x", "x")], [])
