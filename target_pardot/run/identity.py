"""The identity map: which Pardot prospect id each email became, kept between runs.

With ``upsert_by_email`` an email-only row costs one v5 ``upsertLatestByEmail`` call. Every
such call returns the prospect's id, so the target remembers ``email -> id`` (the email
exactly as sent) and, next time, sends that row in a v4 ``batchUpdate`` by id: 50 rows
per call instead of one.

Rules that keep it safe:

* Only ids Pardot returned are stored, and a stored id is only ever used to *update* a
  prospect (``batchUpdate`` never creates). A stale entry therefore costs a fallback call,
  never a duplicate: the row goes through ``upsertLatestByEmail`` again, and the map
  learns the id it returns.
* The map lives in the SQLite file ``ledger_path`` names, next to the skip_unchanged
  ledger. Deleting the file is always safe: the next run falls back to v5 for every row.
* Writes are buffered and committed at every STATE and every ``FLUSH_EVERY`` changes.
  SQLite's own locking keeps two runs sharing the file from corrupting it; a run that
  cannot get the lock within ``LOCK_WAIT_SECONDS`` stops with :class:`StoreLocked`.
"""

from __future__ import annotations

import datetime
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from target_pardot.errors import ConfigError
from target_pardot.run.ledger import (
    StoreLocked,
    account_key,
    default_ledger_path,
    is_lock_error,
    reading_connection,
    store_locked,
    write_immediately,
)

#: Longest wait for another run's write lock on the file, in seconds.
LOCK_WAIT_SECONDS = 30.0
#: Buffered changes before a commit, at most (a STATE commits earlier). Small: an entry
#: lost to a crash costs one upsertLatestByEmail call next run, and a WAL commit is cheap.
FLUSH_EVERY = 1_000
#: Keys per lookup query; SQLite's oldest limit on query parameters is 999.
_CHUNK = 900


def utc_stamp(moment: datetime.datetime) -> str:
    """An ISO 8601 date-time with an explicit offset, as v5 filters take it."""
    return moment.astimezone(datetime.timezone.utc).replace(microsecond=0).isoformat()


def check_store_path(path: Path, *, create_parent: bool) -> None:
    """Fail before any call when the file cannot be written.

    ``create_parent`` is for the default path under the cache directory; a directory the
    user named must exist.
    """
    parent = path.parent
    if create_parent:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unwritable(path, f"cannot create {parent}: {exc.strerror}") from None
    if not parent.is_dir():
        raise _unwritable(path, f"the directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _unwritable(path, f"the directory {parent} is not writable")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise _unwritable(path, f"the file {path} is not writable")


def _unwritable(path: Path, why: str) -> ConfigError:
    return ConfigError(
        f"ledger_path: cannot keep the identity map and ledger at {path} ({why}). Set "
        "'ledger_path' to a file in a writable directory, or set identity_map to false."
    )


def _locked(path: Path) -> StoreLocked:
    return store_locked(path, LOCK_WAIT_SECONDS)


def _is_lock_error(exc: sqlite3.Error) -> bool:
    return is_lock_error(exc)


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS identity (business_unit TEXT NOT NULL, "
    "email TEXT NOT NULL, prospect_id INTEGER NOT NULL, "
    "PRIMARY KEY (business_unit, email)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS identity_by_id ON identity (business_unit, prospect_id)",
    "CREATE TABLE IF NOT EXISTS identity_checked (business_unit TEXT "
    "PRIMARY KEY, checked_until TEXT NOT NULL)",
)


class IdentityMap:
    """``email -> prospect id`` for one business unit. Thread-safe: the reading thread
    looks emails up, sending threads record what Pardot returned."""

    def __init__(self, path: Path, business_unit: str, *, read_only: bool = False) -> None:
        """``read_only`` (a dry run): the file is read, never created or written."""
        self.path = path
        self.business_unit = business_unit
        self.read_only = read_only
        self._lock = threading.Lock()
        #: email -> id to store, or None to delete; committed at flush().
        self._pending: dict[str, int | None] = {}
        try:
            if not path.exists() and not read_only:
                # Readable by its owner only: it names the account's prospects.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise _unwritable(path, exc.strerror or str(exc)) from None
        try:
            if read_only:
                self._db = reading_connection(path, _SCHEMA)
                return
            self._db = sqlite3.connect(
                str(path), timeout=LOCK_WAIT_SECONDS, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            with self._db:
                for statement in _SCHEMA:
                    self._db.execute(statement)
        except sqlite3.OperationalError as exc:
            if _is_lock_error(exc):
                raise _locked(path) from None
            raise _unwritable(path, str(exc)) from None
        except sqlite3.Error as exc:
            raise _unwritable(path, str(exc)) from None

    # -- reads ------------------------------------------------------------------------

    def lookup(self, emails: Iterable[str]) -> dict[str, int]:
        """The known id of each email that has one."""
        wanted = list(dict.fromkeys(emails))
        found: dict[str, int] = {}
        with self._lock:
            for chunk in _chunks(wanted):
                marks = ",".join("?" * len(chunk))
                found.update(
                    self._read(
                        "SELECT email, prospect_id FROM identity WHERE business_unit = ? "
                        f"AND email IN ({marks})",
                        (self.business_unit, *chunk),
                    )
                )
            for email in wanted:
                if email in self._pending:
                    buffered = self._pending[email]
                    if buffered is None:
                        found.pop(email, None)
                    else:
                        found[email] = buffered
        return found

    def emails_of(self, prospect_ids: Iterable[int]) -> dict[int, set[str]]:
        """Every email mapped to each of these ids (normally one)."""
        wanted = list(dict.fromkeys(prospect_ids))
        out: dict[int, set[str]] = {}
        with self._lock:
            for chunk in _chunks(wanted):
                marks = ",".join("?" * len(chunk))
                for email, pid in self._read(
                    "SELECT email, prospect_id FROM identity WHERE business_unit = ? "
                    f"AND prospect_id IN ({marks})",
                    (self.business_unit, *chunk),
                ):
                    if email not in self._pending:
                        out.setdefault(pid, set()).add(email)
            ids = set(wanted)
            for email, buffered in self._pending.items():
                if buffered is not None and buffered in ids:
                    out.setdefault(buffered, set()).add(email)
        return out

    def checked_until(self) -> str | None:
        """Up to when changes made in Pardot have been checked (see identity_check)."""
        with self._lock:
            rows = self._read(
                "SELECT checked_until FROM identity_checked WHERE business_unit = ?",
                (self.business_unit,),
            )
        return str(rows[0][0]) if rows else None

    # -- writes -----------------------------------------------------------------------

    def learn(self, email: str, prospect_id: int) -> None:
        """Pardot said this email's prospect is ``prospect_id``."""
        with self._lock:
            self._pending[email] = int(prospect_id)
            self._flush_if_full()

    def forget_all(self) -> int:
        """Drop every entry of this account (committed at once); how many there were."""
        with self._lock:
            self._pending.clear()
            rows = self._read(
                "SELECT COUNT(*) FROM identity WHERE business_unit = ?", (self.business_unit,)
            )
            self._write("DELETE FROM identity WHERE business_unit = ?", [(self.business_unit,)])
        return int(rows[0][0]) if rows else 0

    def forget(self, emails: Iterable[str]) -> None:
        with self._lock:
            for email in emails:
                self._pending[email] = None
            self._flush_if_full()

    def mark_checked(self, stamp: str) -> None:
        """Record the new watermark, committed at once: it is written rarely."""
        with self._lock:
            self._write(
                "INSERT OR REPLACE INTO identity_checked (business_unit, checked_until) "
                "VALUES (?, ?)",
                [(self.business_unit, stamp)],
            )

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def close(self) -> None:
        with self._lock:
            try:
                self._flush_locked()
            finally:
                self._db.close()

    # -- machinery --------------------------------------------------------------------

    def _flush_if_full(self) -> None:
        if len(self._pending) >= FLUSH_EVERY:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._pending:
            return
        unit = self.business_unit
        stored = [(unit, e, pid) for e, pid in self._pending.items() if pid is not None]
        dropped = [(unit, e) for e, pid in self._pending.items() if pid is None]
        # Done with, whether or not the commit succeeds: a lost entry costs one
        # upsertLatestByEmail call next run, and closing does not wait a second time.
        self._pending.clear()
        try:
            write_immediately(self._db, [
                ("DELETE FROM identity WHERE business_unit = ? AND email = ?", dropped),
                ("INSERT OR REPLACE INTO identity (business_unit, email, prospect_id) "
                 "VALUES (?, ?, ?)", stored),
            ], wait=LOCK_WAIT_SECONDS)  # fmt: skip
        except sqlite3.OperationalError as exc:
            if _is_lock_error(exc):
                raise _locked(self.path) from None
            raise

    def _read(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        try:
            return list(self._db.execute(sql, params).fetchall())
        except sqlite3.OperationalError as exc:
            if _is_lock_error(exc):
                raise _locked(self.path) from None
            raise

    def _write(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        try:
            write_immediately(self._db, [(sql, rows)], wait=LOCK_WAIT_SECONDS)
        except sqlite3.OperationalError as exc:
            if _is_lock_error(exc):
                raise _locked(self.path) from None
            raise


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def open_identity_map(path: str | None, business_unit: str, *, pardot_domain: str,
                      read_only: bool = False) -> IdentityMap:  # fmt: skip
    """Open (or create) the map of this account (host and business unit) in the
    ledger_path file; a ConfigError before any call when that file cannot be written.
    ``read_only`` (a dry run) creates nothing: it checks only a directory the user named."""
    target = Path(path).expanduser() if path else default_ledger_path(business_unit)
    if path or not read_only:
        check_store_path(target, create_parent=not path and not read_only)
    return IdentityMap(target, account_key(pardot_domain, business_unit), read_only=read_only)
