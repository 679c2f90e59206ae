"""What happens to a row that cannot be delivered: skip-and-report, or stop the run."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import IO, Any

from target_pardot.errors import RecordRejected
from target_pardot.pardot.limits import REJECTED_ROWS_LOGGED
from target_pardot.rows.payloads import to_json
from target_pardot.run.stats import RunStats

logger = logging.getLogger("target-pardot")


class RejectionReporter:
    """Counts, logs and files rejected rows; raises when `skip_invalid_records` is false.

    Thread-safe: rows rejected by Pardot are reported from the delivery threads.
    """

    def __init__(self, *, skip: bool, path: str | None, stats: RunStats) -> None:
        self.skip = skip
        self.path = Path(path) if path else None
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
        with self._lock:
            if self._logged < REJECTED_ROWS_LOGGED:
                self._logged += 1
                logger.warning("Skipped %s: %s", where, reason)
                if self._logged == REJECTED_ROWS_LOGGED:
                    logger.warning(
                        "Further rejected rows are counted in the run summary%s.",
                        f" and written to {self.path}" if self.path else "",
                    )
            if self.path is not None:
                if self._file is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._file = self.path.open("a", encoding="utf-8")
                line = {"stream": stream, "record": record, "reason": reason, "code": code}
                self._file.write(to_json(line) + "\n")
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
