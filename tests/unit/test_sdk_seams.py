"""The target leans on the SDK's private methods in a few named places only.

A private method of the SDK may change in any release; overriding one is a seam that can
break silently. There are at most MAX_PRIVATE_OVERRIDES, across the target and its sinks,
and each says why it exists in a ``# Private SDK override: <reason>`` comment.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
from singer_sdk.sinks import BatchSink
from singer_sdk.target_base import Target

from target_pardot.sinks import streams
from target_pardot.target import STREAM_SINKS, TargetPardot

MAX_PRIVATE_OVERRIDES = 6
COMMENT = "# Private SDK override: "


def private_overrides(cls: type, sdk_base: type) -> Iterator[tuple[str, object]]:
    """(qualified name, function) of each private SDK method that ``cls`` or its
    ancestors below ``sdk_base`` define again."""
    ours = cls.__mro__[: cls.__mro__.index(sdk_base)]
    for klass in ours:
        for name, value in vars(klass).items():
            if not name.startswith("_") or name.startswith("__"):
                continue
            function = getattr(value, "__func__", value)
            if inspect.isfunction(function) and callable(getattr(sdk_base, name, None)):
                yield f"{klass.__name__}.{name}", function


def all_private_overrides() -> dict[str, object]:
    found = dict(private_overrides(TargetPardot, Target))
    for sink in {streams.PardotSink, *STREAM_SINKS.values()}:
        found.update(private_overrides(sink, BatchSink))
    return found


def test_at_most_six_private_sdk_methods_are_overridden():
    found = sorted(all_private_overrides())
    assert len(found) <= MAX_PRIVATE_OVERRIDES, found


@pytest.mark.parametrize("name", sorted(all_private_overrides()))
def test_each_private_override_says_why(name):
    source = inspect.getsource(all_private_overrides()[name])  # type: ignore[arg-type]
    reason = source.partition(COMMENT)[2].split("\n", 1)[0].strip()
    assert len(reason) >= 20, f"{name} has no '{COMMENT}<reason>' comment"


def test_the_count_sees_an_override_and_a_missing_reason():
    class Careless(TargetPardot):
        def _process_batch_message(self, message_dict: dict) -> None:
            return None

    names = dict(private_overrides(Careless, Target))
    assert "Careless._process_batch_message" in names
    assert COMMENT not in inspect.getsource(names["Careless._process_batch_message"])  # type: ignore[arg-type]
    assert len(names) == len(dict(private_overrides(TargetPardot, Target))) + 1
