"""StateTracker.emit, the one writer of settled STATE: whatever the order in which rows
arrive, are delivered out of order, are held (a mirror) and STATE messages come in, a
STATE line is written only once every row before it is delivered, and only after the
ledger committed what those rows left behind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from target_pardot.run.state import StateTracker

STREAMS = ("prospects", "list_memberships")


@dataclass
class Model:
    """What the tap sent and what Pardot accepted, kept apart from the tracker."""

    received: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STREAMS, 0))
    delivered: set[tuple[str, int]] = field(default_factory=set)
    #: Accepted rows whose ledger entries are buffered, and those committed to disk.
    buffered: set[tuple[str, int]] = field(default_factory=set)
    committed: set[tuple[str, int]] = field(default_factory=set)
    #: STATE number -> rows of each stream before it.
    covers: dict[int, dict[str, int]] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    written: list[int] = field(default_factory=list)

    def commit(self) -> None:
        self.committed |= self.buffered
        self.buffered.clear()

    def write(self, state: dict[str, Any]) -> None:
        number = state["n"]
        for stream, upto in self.covers[number].items():
            for position in range(1, upto + 1):
                assert (stream, position) in self.delivered, (number, stream, position)
                assert (stream, position) in self.committed, (number, stream, position)
            assert upto < self.held.get(stream, upto + 1), (number, stream, "held")
        assert not self.written or number > self.written[-1], "STATE went backwards"
        self.written.append(number)


step = st.one_of(
    st.tuples(st.just("row"), st.sampled_from(STREAMS)),
    st.tuples(st.just("state"), st.none()),
    # Deliver the n-th received row (modulo) of a stream that has rows: out of order.
    st.tuples(st.just("deliver"), st.tuples(st.sampled_from(STREAMS), st.integers(0, 50))),
    st.tuples(st.just("hold"), st.sampled_from(STREAMS)),
    st.tuples(st.just("release"), st.sampled_from(STREAMS)),
    st.tuples(st.just("emit"), st.none()),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=80))
def test_state_lines_only_ever_cover_delivered_rows_committed_to_the_ledger(steps):
    model = Model()
    tracker = StateTracker(write=model.write, before_write=model.commit)
    for kind, arg in steps:
        if kind == "row":
            assert tracker.row_received(arg) == model.received[arg] + 1
            model.received[arg] += 1
        elif kind == "state":
            number = len(model.covers)
            model.covers[number] = {s: n for s, n in model.received.items() if n}
            tracker.state_received({"n": number})
        elif kind == "deliver":
            stream, index = arg
            if model.received[stream]:
                position = index % model.received[stream] + 1
                # As a delivery does: the ledger buffers the row, then the row settles.
                model.buffered.add((stream, position))
                model.delivered.add((stream, position))
                tracker.settle(stream, (position,))
                tracker.emit()
        elif kind == "hold":
            position = model.received[arg] + 1
            model.held.setdefault(arg, position)
            tracker.hold(arg, position)
        elif kind == "release":
            model.held.pop(arg, None)
            tracker.release(arg)
        else:
            tracker.emit()
    # Everything delivered, nothing held: the newest STATE is written at the last emit.
    for stream, count in model.received.items():
        model.buffered |= {(stream, p) for p in range(1, count + 1)}
        model.delivered |= {(stream, p) for p in range(1, count + 1)}
        tracker.settle(stream, range(1, count + 1))
        model.held.pop(stream, None)
        tracker.release(stream)
    tracker.emit()
    if model.covers:
        assert model.written[-1] == len(model.covers) - 1
    assert not tracker.has_unwritten()


def test_no_state_is_written_once_the_ledger_commit_failed():
    written: list[dict[str, Any]] = []

    def fail() -> None:
        raise OSError("disk full")

    tracker = StateTracker(write=written.append, before_write=fail)
    tracker.settle("prospects", [tracker.row_received("prospects")])
    tracker.state_received({"n": 0})
    try:
        tracker.emit()
    except OSError:
        pass
    else:
        raise AssertionError("the failed commit was not raised")
    tracker.state_received({"n": 1})
    assert tracker.emit() is None
    assert written == []
