"""Reading x-api-usage (format undocumented) and the daily_quota_reserve rule."""

from __future__ import annotations

import pytest
from requests.structures import CaseInsensitiveDict

from target_pardot.pardot.quota import (
    ApiUsage,
    QuotaWatch,
    describe_usage,
    parse_api_usage,
    reserve_exceeded,
)


@pytest.mark.parametrize(
    ("text", "used", "limit"),
    [
        ("1234/25000", 1234, 25000),
        (" 7 / 50000 ", 7, 50000),
        ("api-usage=10018/100000", 10018, 100000),
    ],
)
def test_used_over_max_is_parsed(text, used, limit):
    usage = parse_api_usage(text)
    assert usage is not None and (usage.used, usage.limit) == (used, limit)
    assert describe_usage(usage) == f"daily API calls used: {used} of {limit}"


@pytest.mark.parametrize("text", ["about 12 today", "12", "n/a", "5/0", "x" * 500])
def test_other_texts_are_kept_raw_and_never_raise(text):
    usage = parse_api_usage(text)
    assert usage is not None and not usage.parsed
    assert usage.raw == text[:80]
    assert describe_usage(usage).startswith("daily API calls used: unparsed (")


def test_absent_or_empty_header_is_unknown():
    assert parse_api_usage(None) is None
    assert parse_api_usage("  ") is None
    assert describe_usage(None) == "daily API calls used: unknown"


def test_watch_keeps_the_first_and_the_highest_reading():
    watch = QuotaWatch()
    assert watch.observe(CaseInsensitiveDict({"Content-Type": "x"})) is None
    watch.observe(CaseInsensitiveDict({"X-Api-Usage": "100/1000"}))
    watch.observe(CaseInsensitiveDict({"x-api-usage": "105/1000"}))
    watch.observe(CaseInsensitiveDict({"x-api-usage": "103/1000"}))  # a slower parallel reply
    assert watch.first == ApiUsage("100/1000", 100, 1000)
    assert watch.latest == ApiUsage("105/1000", 105, 1000)


def test_watch_follows_a_lower_count_from_a_call_sent_after_the_latest_reading():
    watch = QuotaWatch()
    before_reset = watch.mark()
    watch.observe(CaseInsensitiveDict({"x-api-usage": "24990/25000"}), before_reset)
    after_reset = watch.mark()  # sent once 24990 had arrived: counted after it
    watch.observe(CaseInsensitiveDict({"x-api-usage": "3/25000"}), after_reset)
    assert watch.latest == ApiUsage("3/25000", 3, 25000)
    assert watch.first == ApiUsage("24990/25000", 24990, 25000)


def test_watch_keeps_the_highest_of_calls_in_flight_together():
    watch = QuotaWatch()
    first, second = watch.mark(), watch.mark()  # both sent before either reply came
    watch.observe(CaseInsensitiveDict({"x-api-usage": "105/1000"}), second)
    watch.observe(CaseInsensitiveDict({"x-api-usage": "104/1000"}), first)
    assert watch.latest == ApiUsage("105/1000", 105, 1000)


def test_watch_never_fails_on_a_strange_header():
    class Broken:
        def get(self, name):
            raise RuntimeError("boom")

    assert QuotaWatch().observe(Broken()) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("used", "in_flight", "reserve", "stops"),
    [
        (969, 0, 30, False),  # the next call makes 970 = 1000 - 30: allowed
        (970, 0, 30, True),  # the next call would make 971
        (965, 5, 30, True),  # five calls not yet counted in the reading
        (999, 0, 0, False),  # no reserve: Pardot's own 122 is the stop
    ],
)
def test_reserve(used, in_flight, reserve, stops):
    usage = ApiUsage(f"{used}/1000", used, 1000)
    assert reserve_exceeded(usage, reserve, in_flight) is stops


def test_reserve_without_a_reading_lets_calls_go():
    assert reserve_exceeded(None, 100, 0) is False
    assert reserve_exceeded(ApiUsage("about 12 today"), 100, 0) is False
