"""skip_unchanged: a local ledger of what Pardot last accepted, so unchanged rows cost no call.

For every prospect key (id, fid or email, as the row identifies its prospect) and every
list membership, the ledger keeps a fingerprint of the last payload Pardot accepted. A
row whose payload has the same fingerprint is not sent again.

Two rules keep it safe:

* Only acceptance writes. A fingerprint is recorded after Pardot accepted the row (a
  batch call without an error for it, a v5 upsert that answered 200/201, an import that
  completed without listing it), so a crash can never mark an unsent row as sent. The
  reverse (accepted, then the process died before the ledger was written) only means
  the row is sent once more next time.
* Writes are buffered and committed in one transaction before every STATE line (the
  tracker's ``before_write``, run/state.py), at every wait for delivery, and every
  ``FLUSH_EVERY`` rows, so the ledger costs no disk sync per row, and a STATE line never
  covers a row whose entry could still be lost.

The ledger knows only what this target sent. A change made in Pardot by someone else is
invisible to it: delete the ledger file (or point ``ledger_path`` elsewhere) to send
every row again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from target_pardot.errors import ConfigError
from target_pardot.rows.payloads import ProspectRow, to_json
from target_pardot.run.owned_lock import OwnedLock, refuse_if_interrupted_inside

PROSPECTS = "prospect"
MEMBERSHIPS = "membership"
#: Accepted rows buffered before a commit, at most (a STATE commits earlier).
FLUSH_EVERY = 20_000
#: Keys per lookup query; SQLite's oldest limit on query parameters is 999.
_LOOKUP_CHUNK = 900
#: Longest wait for another run's lock on the ledger_path file, in seconds.
LOCK_WAIT_SECONDS = 30.0


class StoreLocked(ConfigError):
    """Another run held the lock on the ledger_path file for too long. Reported like a
    configuration error (exit code 2): the fix is to run one at a time, or to give each
    run its own ledger_path."""


def is_lock_error(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def store_locked(path: Path, waited: float) -> StoreLocked:
    return StoreLocked(
        f"ledger_path: {path} stayed locked by another run for {waited:g} s. Two runs "
        "may share the file, but not write it for that long at once; run them one after "
        "the other, or give each its own 'ledger_path'."
    )


@contextlib.contextmanager
def lock_errors_named(path: Path, waited: float) -> Iterator[None]:
    """SQLite's "database is locked" becomes StoreLocked, one line naming ledger_path."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if is_lock_error(exc):
            raise store_locked(path, waited) from None
        raise


#: First pause between two tries for the write lock; doubled up to the longest.
_FIRST_PAUSE, _LONGEST_PAUSE = 0.01, 0.5


def write_immediately(
    db: sqlite3.Connection,
    statements: Sequence[tuple[str, Sequence[tuple[object, ...]]]],
    *,
    wait: float | None = None,
) -> None:
    """Run these writes as one transaction that takes the write lock at its start.

    A deferred transaction (SQLite's default) that has read and then writes can be
    refused at once with "database is locked" while another run commits to the same
    file (WAL mode does not wait in that case). ``BEGIN IMMEDIATE`` asks for the lock
    before anything is read, where the busy timeout applies, and is tried again while the
    other run holds the lock, up to ``wait`` seconds (LOCK_WAIT_SECONDS); then the lock
    error is raised for the caller to name the file."""
    deadline = time.monotonic() + (LOCK_WAIT_SECONDS if wait is None else wait)
    pause = _FIRST_PAUSE
    while True:
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            left = deadline - time.monotonic()
            if not is_lock_error(exc) or left <= 0:
                raise
            time.sleep(min(pause, left))
            pause = min(pause * 2, _LONGEST_PAUSE)
            continue
        try:
            for sql, rows in statements:
                if rows:
                    db.executemany(sql, rows)
            db.commit()
        except BaseException:
            db.rollback()
            raise
        return


def default_ledger_path(business_unit: str) -> Path:
    """Under the user's cache directory, one file per business unit."""
    if os.environ.get("XDG_CACHE_HOME"):
        cache = Path(os.environ["XDG_CACHE_HOME"])
    elif sys.platform == "darwin":
        cache = Path.home() / "Library" / "Caches"
    elif sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        cache = Path(os.environ["LOCALAPPDATA"])
    else:
        cache = Path.home() / ".cache"
    return cache / "target-pardot" / f"ledger-{business_unit}.sqlite3"


def account_key(pardot_domain: str, business_unit: str) -> str:
    """Whose Pardot the ledger and identity map describe: the host and the business unit.

    A business unit id alone does not say: every emulator, and a sandbox refreshed from
    production, may share one. Entries stored under another key (another host, or from
    before the host was part of the key) are never read, which only costs calls."""
    host = pardot_domain.strip().rstrip("/").lower()
    return f"{host}|{business_unit}"


def prospect_ledger_key(key: str) -> str:
    """The ledger's key of a prospect row (``id=…``, ``fid=…`` or ``email=…``), with the
    email in lower case. An account without AMPSEA may match emails ignoring case
    (docs/wire-contract.md, G6), and then ``Ann@x.com`` and ``ann@x.com`` are one
    prospect: keyed apart, a changed row of one would be skipped as the other's payload.
    Folding is safe where matching keeps case too: the fingerprint holds the email as
    sent, so a row is skipped only when that very address last sent these very values."""
    return key.lower() if key.startswith("email=") else key


def fingerprint(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def prospect_fingerprint(row: ProspectRow, flags: Mapping[str, int]) -> bytes:
    """Of the fields and list flags a row sends; column order does not matter (the row's
    text has sorted keys)."""
    text = row.text or to_json(sorted(row.fields.items()))
    if flags:
        text += "|" + to_json(sorted(flags.items()))
    return fingerprint(text)


def membership_fingerprint(add: bool, opted_out: bool | None) -> bytes:
    return fingerprint(to_json(["add" if add else "remove", opted_out]))


def membership_key(list_id: int, prospect_id: int) -> str:
    return f"{list_id}/{prospect_id}"


def reading_connection(path: Path, schema: Sequence[str]) -> sqlite3.Connection:
    """A connection that only reads the file as it is on disk, for a dry run, which
    writes nothing: SQLite's immutable mode takes no lock and creates no -wal or -shm
    file (changes another run is committing at that moment may be missed, so the plan
    may count a few more rows as changed). Where the file or its tables do not exist yet,
    an empty database in memory stands in for it.

    ``schema``: the CREATE ... IF NOT EXISTS statements of the tables read; on the file
    they are no-ops when the tables exist."""
    if path.is_file():
        db = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True,
                             check_same_thread=False)  # fmt: skip
        try:
            for statement in schema:
                db.execute(statement)
            return db
        except sqlite3.OperationalError as exc:
            db.close()
            if "readonly" not in str(exc):  # a missing table is "attempt to write a readonly..."
                raise
    db = sqlite3.connect(":memory:", check_same_thread=False)
    for statement in schema:
        db.execute(statement)
    return db


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS accepted (business_unit TEXT NOT NULL, "
    "scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint BLOB NOT NULL, "
    "PRIMARY KEY (business_unit, scope, key)) WITHOUT ROWID",
)


class Ledger:
    """The SQLite ledger of one business unit. Thread-safe: the reading thread looks
    rows up, sending threads record what Pardot accepted. ``read_only`` (a dry run):
    the file is read, never created or written (see reading_connection)."""

    def __init__(self, path: Path, business_unit: str, *, read_only: bool = False) -> None:
        self.path = path
        #: The key of the account's rows (account_key(), or any text in tests).
        self.business_unit = business_unit
        self._lock = OwnedLock()
        self._pending: dict[tuple[str, str], bytes] = {}
        # The last payload sent for each key whose call has not been accepted yet. Without
        # it, a row equal to the ledger's payload would be skipped while an earlier row
        # of the run, with another payload for the same key, is still on its way: Pardot
        # would end with that earlier payload (run 1 sends A; run 2 sends B, then A).
        # A rejected row's entry stays: at worst the key's next row is sent once more.
        self._in_flight: dict[tuple[str, str], bytes] = {}
        # Keys whose entry no longer says anything (an address a prospect left): deleted
        # at the next commit, and unknown to lookups from now on.
        self._forgotten: set[tuple[str, str]] = set()
        try:
            with self._named_lock_errors():
                if read_only:
                    self._db = reading_connection(path, _SCHEMA)
                else:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    _create_private(path)
                    self._db = sqlite3.connect(
                        str(path), timeout=LOCK_WAIT_SECONDS, check_same_thread=False
                    )
                    self._db.execute("PRAGMA journal_mode=WAL")
                    self._db.execute("PRAGMA synchronous=NORMAL")
                    self._db.execute(_SCHEMA[0])
                    self._db.commit()
        except StoreLocked:
            raise
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"skip_unchanged: cannot open the ledger at {path} ({exc}). Set "
                "'ledger_path' to a writable file, or turn skip_unchanged off."
            ) from None

    def unchanged(self, scope: str, rows: Sequence[tuple[str, bytes]]) -> list[bool]:
        """For each (key, fingerprint), in order: is it the payload Pardot holds or will
        hold for that key? Rows found changed are about to be sent: they become what
        their key holds for the rest of the run (see ``_in_flight``)."""
        known: dict[str, bytes] = {}
        keys = list({key for key, _ in rows})
        with self._lock, self._named_lock_errors():
            for start in range(0, len(keys), _LOOKUP_CHUNK):
                chunk = keys[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                cursor = self._db.execute(
                    "SELECT key, fingerprint FROM accepted WHERE business_unit = ? AND "
                    f"scope = ? AND key IN ({marks})",
                    (self.business_unit, scope, *chunk),
                )
                known.update(cursor.fetchall())
            for key in keys:
                latest = self._in_flight.get((scope, key)) or self._pending.get((scope, key))
                if latest is not None:
                    known[key] = latest
                elif (scope, key) in self._forgotten:
                    known.pop(key, None)
            return [self._decide(scope, key, print_, known) for key, print_ in rows]

    def _decide(self, scope: str, key: str, print_: bytes, known: dict[str, bytes]) -> bool:
        if known.get(key) == print_:
            return True
        known[key] = print_
        self._in_flight[(scope, key)] = print_
        return False

    def accept(self, scope: str, rows: Iterable[tuple[str, bytes]]) -> None:
        """Record what Pardot accepted (buffered; see the module docstring)."""
        with self._lock:
            for key, print_ in rows:
                self._pending[(scope, key)] = print_
                self._forgotten.discard((scope, key))
                if self._in_flight.get((scope, key)) == print_:
                    del self._in_flight[(scope, key)]
            if len(self._pending) >= FLUSH_EVERY:
                self._flush_locked()

    def forget(self, scope: str, keys: Iterable[str]) -> None:
        """Drop these keys' entries: what was sent by them no longer names a prospect
        (a row changed its address), so a later row by such a key is always sent."""
        with self._lock:
            for key in keys:
                self._pending.pop((scope, key), None)
                self._in_flight.pop((scope, key), None)
                self._forgotten.add((scope, key))

    def flush(self) -> None:
        refuse_if_interrupted_inside(self._lock, "ledger")
        with self._lock:
            self._flush_locked()

    def close(self) -> None:
        with self._lock:
            self._flush_locked()
            self._db.close()

    def _flush_locked(self) -> None:
        if not self._pending and not self._forgotten:
            return
        rows = [(self.business_unit, scope, key, print_)
                for (scope, key), print_ in self._pending.items()]  # fmt: skip
        gone = [(self.business_unit, scope, key) for scope, key in self._forgotten]
        # Whether or not the commit succeeds, these are done with: should another run keep
        # the file locked, the rows are only sent once more next time (never skipped),
        # and closing the ledger does not wait for the lock a second time.
        self._pending.clear()
        self._forgotten.clear()
        with self._named_lock_errors():
            write_immediately(self._db, [
                ("DELETE FROM accepted WHERE business_unit = ? AND scope = ? AND key = ?", gone),
                ("INSERT OR REPLACE INTO accepted (business_unit, scope, key, fingerprint) "
                 "VALUES (?, ?, ?, ?)", rows),
            ])  # fmt: skip

    def _named_lock_errors(self) -> contextlib.AbstractContextManager[None]:
        return lock_errors_named(self.path, LOCK_WAIT_SECONDS)


def _create_private(path: Path) -> None:
    """Create the ledger readable by its owner only: its keys are emails and ids of
    people (personal data). SQLite gives its -wal and -shm files the database's mode."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def ledger_file(path: str | None, business_unit: str) -> Path:
    """The file `ledger_path` names, or the default one of the business unit."""
    return Path(path).expanduser() if path else default_ledger_path(business_unit)


def open_ledger(
    path: str | None, business_unit: str, *, pardot_domain: str, read_only: bool = False
) -> Ledger:
    return Ledger(ledger_file(path, business_unit), account_key(pardot_domain, business_unit),
                  read_only=read_only)  # fmt: skip


def ledger_announcement(path: Path, uses: Sequence[str]) -> tuple[bool, str]:
    """(is it a warning, the line) saying where the ledger of ``uses`` lives, and its size.

    A ledger that does not exist yet is a warning: on a first run that is expected, but a
    container that forgets its cache directory starts from nothing on every run, which
    quietly makes `skip_unchanged` send every row and the identity map spend one call per
    row each time.
    """
    what = " and ".join(uses)
    try:
        size = path.stat().st_size
    except OSError:
        return True, (
            f"Ledger {path} ({what}) does not exist yet: this run starts with no entries. "
            "If every run says this (a container that forgets ~/.cache), set 'ledger_path' "
            "to a file on storage that outlives the run."
        )
    return False, f"Ledger {path} ({what}): {size} bytes."
