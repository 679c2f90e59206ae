"""What happens to a row that cannot be delivered: skip-and-report, or stop the run."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from target_pardot.errors import ConfigError, RecordRejected, TargetPardotError
from target_pardot.pardot.limits import REJECTED_ROWS_LOGGED
from target_pardot.rows.payloads import to_json
from target_pardot.rows.unusable import json_safe
from target_pardot.run.stats import RunStats

#: Rejected rows are whole input rows (emails, names, phone numbers): personal data, so
#: the file is readable by its owner only, like an SSH key.
PRIVATE_FILE_MODE = 0o600


class RejectedFileFailed(TargetPardotError):
    """Writing rejected_records_path failed mid-run: the row cannot be reported, so the
    run stops (its STATE does not cover that row)."""


def check_writable_file(path: Path, setting: str) -> None:
    """Raise ConfigError unless ``path`` is, or can be created as, a writable file."""
    if path.is_dir():
        raise ConfigError(f"Setting '{setting}' is {path}, which is a directory; name a file.")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise ConfigError(f"Setting '{setting}': {path} is not writable by this user.")
        return
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(
            f"Setting '{setting}': cannot create {path}, because {folder} is not a writable "
            "folder."
        )


def open_private(path: Path, mode: str = "a") -> IO[str]:
    """Open for appending, creating the file readable and writable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE_MODE)
    return os.fdopen(fd, mode, encoding="utf-8")


def strict_json_line(entry: dict[str, Any]) -> str:
    """One line of strict JSON: values JSON cannot hold are written as their input text.
    A row nested too deeply to be written at all is left out, and the reason says so."""
    try:
        try:
            text = to_json(entry)
            text.encode("utf-8")  # a lone surrogate cannot be written as UTF-8
        except (ValueError, TypeError):
            return to_json(json_safe(entry))
    except RecursionError:
        reason = f"{entry.get('reason')} (the row is nested too deeply to be written here)"
        return to_json({**entry, "record": None, "reason": reason})
    return text

logger = logging.getLogger("target-pardot")


class RejectionReporter:
    """Counts, logs and files rejected rows; raises when `skip_invalid_records` is false.

    Thread-safe: rows rejected by Pardot are reported from the delivery threads.
    """

    def __init__(self, *, skip: bool, path: str | None, stats: RunStats) -> None:
        self.skip = skip
        #: Every line this run appends carries these two, so that runs sharing the file
        #: (it is appended, never truncated) can be told apart.
        self.run_id = uuid.uuid4().hex[:12]
        self.started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.path = Path(path).expanduser() if path else None
        if self.path is not None:
            check_writable_file(self.path, "rejected_records_path")
        self.stats = stats
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._logged = 0

    def reject(
        self,
        *,
        stream: str,
        position: int,
        record: dict[str, Any],
        key: str,
        category: str,
        reason: str,
        code: int | str | None,
        during_delivery: bool,
    ) -> None:
        self.stats.reject(category)
        where = f"row {position} of stream '{stream}' ({key})"
        if not self.skip:
            raise RecordRejected(
                f"Stopped at {where}: {reason}. Fix the row, or set skip_invalid_records: "
                "true to skip such rows and list them in rejected_records_path.",
                during_delivery=during_delivery,
            )
        self._report(where, reason, {"stream": stream, "position": position,
                                     "record": record, "reason": reason, "code": code})

    def reject_line(self, *, line: int, stream: Any, reason: str) -> None:
        """A line of input that is no usable message (skip_invalid_records is true)."""
        self.stats.reject("invalid_line")
        self._report(
            f"line {line} of the input",
            reason,
            {"stream": stream if isinstance(stream, str) else None, "record": None,
             "line": line, "reason": reason, "code": "invalid_line"},
        )  # fmt: skip

    def _report(self, where: str, reason: str, entry: dict[str, Any]) -> None:
        with self._lock:
            if self._logged < REJECTED_ROWS_LOGGED:
                self._logged += 1
                logger.warning("Skipped %s: %s", where, reason)
                if self._logged == REJECTED_ROWS_LOGGED:
                    logger.warning(
                        "Further rejected rows are counted in the run summary%s.",
                        " and written to rejected_records_path" if self.path else "",
                    )
            if self.path is not None:
                stamped = {"run_id": self.run_id, "run_started_at": self.started_at, **entry}
                self._write(strict_json_line(stamped) + "\n")

    def _write(self, line: str) -> None:
        try:
            if self._file is None:
                self._file = open_private(self.path)  # type: ignore[arg-type]
            self._file.write(line)
            self._file.flush()
        except OSError as exc:
            self._abandon_file()
            raise RejectedFileFailed(
                f"Could not write a rejected row to rejected_records_path {self.path} "
                f"({exc.strerror or exc}); stopping, so that no rejected row goes unreported."
            ) from None

    def _abandon_file(self) -> None:
        """After a failed write: close without a second report of the same failure."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                try:
                    self._file.close()
                except OSError as exc:
                    logger.error("Could not finish writing %s: %s", self.path, exc)
                self._file = None
