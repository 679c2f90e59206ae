"""One routing decision per prospect row: which path carries it, decided once per drain.

Every row of a drain gets one :class:`Lane`, carried with the row to the call that sends
it. The rules, cheapest first, each safe for the account it applies to:

* a row keyed by ``id`` or ``fid`` (or any row with ``upsert_by_email: false``): a v4
  batch, v3 on an account without AMPSEA (50 rows per call);
* an email-only row whose id the identity map knows: ``batchUpdate`` by that id (50 per
  call, never creates);
* an email-only row on a v3 account, where the email identifies the prospect: a v3 batch
  (while the version is not known yet, tried as v3 first; error 88 re-plans it here);
* an unknown email-only row on an AMPSEA account: the import lane (``matchEmail`` with
  ``createOnNoMatch``) when at least :data:`IMPORT_MIN_ROWS` of them wait and a campaign
  is available for those the import may create; otherwise ``upsertLatestByEmail``, one
  call each. Both never duplicate.

Why :data:`IMPORT_MIN_ROWS` is 7: an import costs about :data:`IMPORT_CALLS` calls
(create with the first batch, Ready, and about three status polls), plus one v5 query page
per 1,000 rows to teach the identity map the ids it created. ``upsertLatestByEmail`` costs
one call per row. So from 6 rows on the two cost the same, and from 7 the import is
cheaper; a drain that joins an import already open adds no call at all, so any number
goes there.

A row for an email that is in an import not completed yet waits (:data:`Lane.HELD`) until
that import completed: the import may land after any call sent meanwhile, and a later row
of a prospect never lands before an earlier one.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Generic, Protocol, TypeVar

from target_pardot.pardot.limits import MAX_BATCH_ROWS
from target_pardot.rows.payloads import ProspectRow

#: Calls of one import of a drain's rows: create (with the first batch), set Ready, and
#: about three status polls with backoff (0.25 s, 0.5 s, 1 s, ...).
IMPORT_CALLS = 5
#: One v5 prospect query page learns the ids of up to this many imported rows.
ROWS_PER_ID_QUERY = 1000
#: Unknown email-only rows from which an import costs fewer calls than one
#: upsertLatestByEmail call each: IMPORT_CALLS + 1 query page < rows.
IMPORT_MIN_ROWS = IMPORT_CALLS + 2


class Lane(str, enum.Enum):
    """The path a row takes (its value names it in the run summary's rows_by_path)."""

    BATCH = "v4_batch"
    BY_MAPPED_ID = "batch_by_mapped_id"
    EMAIL_BATCH = "v3_email_batch"
    V5 = "upsert_latest_by_email"
    #: upsertLatestByEmail once the earlier call by a mapped id of its prospect is done.
    V5_AFTER_MAPPED = "upsert_after_mapped_id"
    IMPORT = "import"
    HELD = "held_for_import"


class HasRow(Protocol):
    @property
    def row(self) -> ProspectRow: ...


T = TypeVar("T", bound=HasRow)

#: The identity map's answer for email-only rows, in stream order: (row, id) to send by
#: id, rows it does not know, and (row, id) that wait for that id's call (see
#: run/identity_check.one_key_per_prospect).
KnownIds = Callable[[Sequence[T]], tuple[list[tuple[T, int]], list[T], list[tuple[T, int]]]]


@dataclass(frozen=True)
class ImportChoice:
    """What the import lane needs to be open for a row (``prospect_operation: auto``)."""

    #: The ``default_campaign_id`` setting: a created prospect's campaign.
    default_campaign: int | None
    #: An import of this run is open and takes more rows at no extra call.
    import_open: bool = False
    min_rows: int = IMPORT_MIN_ROWS

    def campaign_for(self, row: ProspectRow) -> bool:
        return row.fields.get("campaign_id") is not None or self.default_campaign is not None


@dataclass
class Planned(Generic[T]):
    """A row with its lane (and the id the identity map gave it, on the by-id lanes)."""

    pending: T
    lane: Lane
    mapped_id: int | None = None


_lane_of = attrgetter("lane")


@dataclass
class Plan(Generic[T]):
    rows: list[Planned[T]] = field(default_factory=list)

    def of(self, *lanes: Lane) -> list[Planned[T]]:
        return [p for p in self.rows if p.lane in lanes]

    def rows_by_lane(self) -> Counter[str]:
        # Counted by member, named once per lane: an enum's .value costs a call a row.
        by_lane = Counter(map(_lane_of, self.rows))
        return Counter({lane.value: count for lane, count in by_lane.items()})

    def calls_under_sync(self) -> int:
        """The calls ``prospect_operation: sync`` makes for the same rows (50 rows per
        batch call; an email-only row the map does not know, one call)."""
        return calls_under_sync(self.rows_by_lane())


def calls_under_sync(rows_by_lane: Counter[str] | dict[str, int]) -> int:
    batched = (Lane.BATCH, Lane.BY_MAPPED_ID, Lane.EMAIL_BATCH)
    calls = sum(-(-rows_by_lane.get(lane.value, 0) // MAX_BATCH_ROWS) for lane in batched)
    return calls + sum(rows_by_lane.get(lane.value, 0) for lane in Lane if lane not in batched)


def import_cost(rows: int) -> int:
    """Calls an import of ``rows`` costs, learning the ids included."""
    return IMPORT_CALLS + -(-rows // ROWS_PER_ID_QUERY)


def email_keys(row: ProspectRow) -> tuple[str, ...]:
    """The addresses a row names its prospect by (the old one of a rename too), in the
    case-blind form the call order uses (run/key_order.py)."""
    email = str(row.fields.get("email") or "").lower()
    old = (row.match_email or "").lower()
    return (email, old) if old and old != email else (email,)


def is_email_only(row: ProspectRow) -> bool:
    return "id" not in row.fields and "fid" not in row.fields


def plan_prospects(
    rows: Sequence[T],
    *,
    version: int | None,
    upsert_by_email: bool,
    known_ids: KnownIds[T] | None,
    imports: ImportChoice | None,
    held: Collection[str] = (),
) -> Plan[T]:
    """Give every row of a drain its lane, in stream order (see the module docstring).

    ``version``: the account's v3/v4 API version, None while not known. ``known_ids``:
    the identity map, consulted once, for the email-only rows that may go by id (None:
    no map). ``imports``: None unless the import lane may be used. ``held``: addresses
    in an import not completed yet (lowercase); rows naming one wait for it."""
    if not upsert_by_email:  # every row goes in a batch: nothing else to decide
        return Plan([Planned(pending, Lane.BATCH) for pending in rows])
    lanes: list[Planned[T] | None] = [None] * len(rows)
    on_v4: list[int] = []
    waiting_keys = set(held)
    for index, pending in enumerate(rows):
        row = pending.row
        if not upsert_by_email or not is_email_only(row):
            lanes[index] = Planned(pending, Lane.BATCH)
        elif waiting_keys and not waiting_keys.isdisjoint(email_keys(row)):
            lanes[index] = Planned(pending, Lane.HELD)
            waiting_keys.update(email_keys(row))
        elif version != 4:
            lanes[index] = Planned(pending, Lane.EMAIL_BATCH)
        else:
            on_v4.append(index)
    if on_v4:
        _plan_on_v4(rows, on_v4, lanes, known_ids, imports)
    return Plan([p for p in lanes if p is not None])


def _plan_on_v4(
    rows: Sequence[T],
    indexes: list[int],
    lanes: list[Planned[T] | None],
    known_ids: KnownIds[T] | None,
    imports: ImportChoice | None,
) -> None:
    """Email-only rows on an AMPSEA account: by mapped id, the import lane, or v5."""
    by_email = [rows[i] for i in indexes]
    if known_ids is not None:
        mapped, unknown, waiting = known_ids(by_email)
    else:
        mapped, unknown, waiting = [], list(by_email), []
    slot = {id(rows[i]): i for i in indexes}
    for pending, pid in mapped:
        lanes[slot[id(pending)]] = Planned(pending, Lane.BY_MAPPED_ID, pid)
    for pending, pid in waiting:
        lanes[slot[id(pending)]] = Planned(pending, Lane.V5_AFTER_MAPPED, pid)
    unknown_ids = {id(p) for p in unknown}
    to_import, later = _import_candidates(rows, indexes, unknown_ids, imports)
    wanted = imports is not None and (imports.import_open or len(to_import) >= imports.min_rows)
    for pending in unknown:
        index = slot[id(pending)]
        if wanted and id(pending) in to_import:
            lanes[index] = Planned(pending, Lane.IMPORT)
        elif wanted and id(pending) in later:
            lanes[index] = Planned(pending, Lane.HELD)
        else:
            lanes[index] = Planned(pending, Lane.V5)


def _import_candidates(
    rows: Sequence[Any],
    indexes: list[int],
    unknown: set[int],
    imports: ImportChoice | None,
) -> tuple[set[int], set[int]]:
    """Rows the import lane may take (the first row of an address no earlier row of the
    drain named, with a campaign, not renaming), and later rows of those addresses (they
    wait for the import). A waiting row holds every address it names, as a parked row
    does (run/import_holds.py): a rename waiting for the import of its old address keeps
    a later row by its new address from being sent (and creating a prospect there) before
    the rename."""
    if imports is None:
        return set(), set()
    seen: set[str] = set()
    holding: set[str] = set()
    take: set[int] = set()
    later: set[int] = set()
    for index in indexes:
        pending = rows[index]
        row = pending.row
        keys = email_keys(row)
        if id(pending) in unknown and not holding.isdisjoint(keys):
            later.add(id(pending))
            holding.update(keys)
        elif (id(pending) in unknown and row.match_email is None
              and seen.isdisjoint(keys) and imports.campaign_for(row)):  # fmt: skip
            take.add(id(pending))
            holding.update(keys)
        seen.update(keys)
    return take, later
