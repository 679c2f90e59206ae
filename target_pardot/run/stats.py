"""Thread-safe counters for the run summary, and the summary itself."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from target_pardot.pardot.quota import QuotaWatch, usage_figure

#: The planner's name of the import lane (run/plan.py Lane.IMPORT).
IMPORT_PATH = "import"
MIRROR_FIGURES = ("size_before", "added", "removed", "unchanged")
#: Shown only when not zero: members kept because they opted out, and members whose
#: prospect is deleted in Pardot (nothing to remove).
MIRROR_EXCEPTIONS = ("kept_opted_out", "prospect_deleted")


class RunStats:
    """Everything the run summary reports. Every method is safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.monotonic()
        self.counts: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.planned_calls: Counter[str] = Counter()
        self.planned_rows: Counter[str] = Counter()
        #: Prospect rows per path the planner chose (run/plan.py Lane values).
        self.rows_by_path: Counter[str] = Counter()
        #: The account's daily usage as Pardot reports it (x-api-usage), first and latest.
        self.quota = QuotaWatch()
        #: list id -> size_before, added, removed, unchanged (list_membership_operation mirror)
        self.mirror_lists: dict[int, Counter[str]] = {}
        #: The v3/v4 API version prospect and membership calls use now ("v4", "v3").
        self.api_version = "v4"
        #: A dry run's summary speaks of what would happen (Runtime.create sets it).
        self.dry_run = False

    def set_api_version(self, version: int) -> None:
        with self._lock:
            self.api_version = f"v{version}"

    def add(self, name: str, amount: int = 1) -> None:
        if amount:
            with self._lock:
                self.counts[name] += amount

    def routed(self, rows_by_path: Mapping[str, int]) -> None:
        """Rows the planner put on each path (negative: planned again elsewhere)."""
        with self._lock:
            self.rows_by_path.update(rows_by_path)

    def reject(self, category: str) -> None:
        with self._lock:
            self.rejected[category] += 1

    def call(self, endpoint: str) -> None:
        with self._lock:
            self.calls[endpoint] += 1

    def plan(self, endpoint: str, rows: int, calls: int = 1) -> None:
        """Dry run: calls that would have been sent, and the rows they would carry."""
        with self._lock:
            self.planned_calls[endpoint] += calls
            self.planned_rows[endpoint] += rows

    def mirror(self, list_id: int, **amounts: int) -> None:
        """Add to one mirrored list's figures (size_before, added, removed, unchanged)."""
        with self._lock:
            self.mirror_lists.setdefault(list_id, Counter()).update(amounts)

    def retry(self, reason: str) -> None:
        with self._lock:
            self.retries[reason] += 1

    def _calls_under_sync(self) -> int:
        """Under the lock: see calls_under_sync; a dry run counts its planned calls."""
        calls = self.planned_calls if self.dry_run else self.calls
        return calls_under_sync(calls, self.counts, self.rows_by_path)

    @property
    def total_calls(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def snapshot(
        self, *, outcome: str = "succeeded", reason: str = "", case_variants: int = 0
    ) -> dict[str, Any]:
        with self._lock:
            elapsed = max(time.monotonic() - self.started, 1e-9)
            received = self.counts["rows_received"]
            return {
                "outcome": outcome,
                "outcome_reason": reason,
                "api_version": self.api_version,
                "rows_received": received,
                "rows_sent": self.counts["rows_sent"],
                "rows_unchanged": self.counts["unchanged"],
                "prospects_created": self.counts["created"],
                "prospects_updated": self.counts["updated"],
                "prospects_created_or_updated": self.counts["created_or_updated"],
                "prospects_created_from_email_only_rows": self.counts["created_by_email_batch"],
                "fields_skipped": self.counts["fields_skipped"],
                "fields_cleared": self.counts["fields_cleared"],
                "email_case_variants": case_variants,
                "memberships_added": self.counts["memberships_added"],
                "memberships_removed": self.counts["memberships_removed"],
                "memberships_would_add": self.counts["memberships_would_add"],
                "memberships_would_remove": self.counts["memberships_would_remove"],
                "lists_created": self.counts["lists_created"],
                "dry_run": self.dry_run,
                "rows_sent_by_mapped_id": self.counts["rows_sent_by_mapped_id"],
                "identity_map_hits": self.counts["identity_map_hits"],
                "identity_map_misses": self.counts["identity_map_misses"],
                "identity_map_fallbacks": self.counts["identity_map_fallbacks"],
                "identity_map_dropped": self.counts["identity_map_dropped"],
                "rows_rejected": sum(self.rejected.values()),
                "rejected_by_reason": dict(sorted(self.rejected.items())),
                "api_calls": sum(self.calls.values()),
                "api_calls_by_endpoint": dict(sorted(self.calls.items())),
                "retries": sum(self.retries.values()),
                "retries_by_reason": dict(sorted(self.retries.items())),
                "rows_by_path": {k: v for k, v in sorted(self.rows_by_path.items()) if v},
                "calls_under_sync": self._calls_under_sync(),
                "planned_calls_by_endpoint": dict(sorted(self.planned_calls.items())),
                "planned_rows_by_endpoint": dict(sorted(self.planned_rows.items())),
                "daily_api_calls_used_at_start": usage_figure(self.quota.first),
                "daily_api_calls_used_at_end": usage_figure(self.quota.latest),
                "mirror_lists": {
                    str(list_id): _figures_of_list(counts)
                    for list_id, counts in sorted(self.mirror_lists.items())
                },
                "wall_seconds": round(elapsed, 3),
                "rows_per_second": round(received / elapsed, 1),
            }


def calls_under_sync(
    calls: Mapping[str, int], counts: Mapping[str, int], rows_by_path: Mapping[str, int]
) -> int:
    """The calls ``prospect_operation: sync`` would have made: the calls measured, with
    those of the import lane (the imports, reading their ids back) replaced by the one
    upsertLatestByEmail call each of its rows would have cost."""
    import_calls = sum(n for endpoint, n in calls.items() if endpoint.startswith("imports/"))
    return (sum(calls.values()) - import_calls - counts.get("import_id_queries", 0)
            + rows_by_path.get(IMPORT_PATH, 0))  # fmt: skip


#: Figures shown in the table only when not zero.
_SOMETIMES_SHOWN = (
    ("prospects_created_from_email_only_rows",
     "prospects created from email-only rows (upsert_by_email: false)"),
    ("fields_skipped", "blank fields skipped (empty_values: skip)"),
    ("fields_cleared", "blank fields cleared (empty_values: clear)"),
    ("email_case_variants", "emails differing only in case from another row"),
)  # fmt: skip


def _outcome_text(summary: dict[str, Any]) -> str:
    reason = summary.get("outcome_reason")
    return f"{summary['outcome']}: {reason}" if reason else str(summary["outcome"])


def _figures_of_list(counts: Counter[str]) -> dict[str, int]:
    figures = {key: counts[key] for key in MIRROR_FIGURES}
    figures.update((key, counts[key]) for key in MIRROR_EXCEPTIONS if counts[key])
    return figures


def render_summary(summary: dict[str, Any]) -> str:
    """One structured line for log parsers, then a table for people."""
    lines = [f"run summary: {json.dumps(summary, separators=(',', ':'))}", ""]
    rows: list[tuple[str, str]] = [
        ("outcome", _outcome_text(summary)),
        ("API version (prospects, memberships)", str(summary["api_version"])),
        ("rows received", str(summary["rows_received"])),
        ("rows sent", str(summary["rows_sent"])),
        ("rows unchanged (skip_unchanged)", str(summary["rows_unchanged"])),
        ("prospects created", str(summary["prospects_created"])),
        ("prospects updated", str(summary["prospects_updated"])),
        ("prospects created or updated (v4 batch)", str(summary["prospects_created_or_updated"])),
    ]
    rows += _membership_rows(summary)
    rows.append(("rows rejected", str(summary["rows_rejected"])))
    rows += [(label, str(summary[key])) for key, label in _SOMETIMES_SHOWN if summary.get(key)]
    if summary.get("identity_map_hits", 0) or summary.get("identity_map_misses", 0):
        rows += [
            ("rows sent by mapped id (identity map)", str(summary["rows_sent_by_mapped_id"])),
            ("  identity map hits", str(summary["identity_map_hits"])),
            ("  identity map misses", str(summary["identity_map_misses"])),
            ("  identity map fallbacks to v5", str(summary["identity_map_fallbacks"])),
            ("  identity map entries dropped", str(summary["identity_map_dropped"])),
        ]
    rows += [(f"  rejected: {k}", str(v)) for k, v in summary["rejected_by_reason"].items()]
    if summary.get("rows_by_path"):
        rows.append(("prospect rows by path", ", ".join(
            f"{k} {v}" for k, v in summary["rows_by_path"].items())))  # fmt: skip
        rows.append(("  calls a sync would make",
                     str(summary["calls_under_sync"])))  # fmt: skip
    rows.append(("API calls", str(summary["api_calls"])))
    rows += [(f"  {k}", str(v)) for k, v in summary["api_calls_by_endpoint"].items()]
    rows.append(("retries", str(summary["retries"])))
    rows += [(f"  retry: {k}", str(v)) for k, v in summary["retries_by_reason"].items()]
    rows += [
        (f"  dry run, would call {k}", f"{v} times, {summary['planned_rows_by_endpoint'][k]} rows")
        for k, v in summary["planned_calls_by_endpoint"].items()
    ]
    rows += [
        (f"  mirror list {list_id}", _mirror_figures(figures, bool(summary.get("dry_run"))))
        for list_id, figures in summary.get("mirror_lists", {}).items()
    ]
    rows.append(("daily API calls used, start", str(summary["daily_api_calls_used_at_start"])))
    rows.append(("daily API calls used, end", str(summary["daily_api_calls_used_at_end"])))
    rows.append(("wall time (s)", f"{summary['wall_seconds']:.2f}"))
    rows.append(("rows/s", f"{summary['rows_per_second']:.1f}"))
    if summary.get("hint"):
        rows.append(("hint", str(summary["hint"])))
    width = max(len(k) for k, _ in rows)
    lines += [f"  {k.ljust(width)}  {v}" for k, v in rows]
    return "\n".join(lines)


def _membership_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """Past tense for a run, future tense for a dry run (nothing was added)."""
    if summary.get("dry_run"):
        rows = [
            ("memberships: would add", str(summary.get("memberships_would_add", 0))),
            ("memberships: would remove", str(summary.get("memberships_would_remove", 0))),
        ]
        if summary.get("lists_created"):
            rows.append(("lists: would create", str(summary["lists_created"])))
        return rows
    rows = [
        ("memberships added", str(summary["memberships_added"])),
        ("memberships removed", str(summary["memberships_removed"])),
    ]
    if summary.get("lists_created"):
        rows.append(("lists created", str(summary["lists_created"])))
    return rows


def _mirror_figures(figures: dict[str, int], dry_run: bool) -> str:
    exceptions = [
        f"{v} {k.replace('_', ' ')}" for k, v in figures.items() if k not in MIRROR_FIGURES
    ]
    if not dry_run:
        main = [f"{figures[k]} {k.replace('_', ' ')}" for k in MIRROR_FIGURES]
    else:
        main = [
            f"{figures['size_before']} members now, would add {figures['added']}, would "
            f"remove {figures['removed']}, would keep {figures['unchanged']}"
        ]
    return ", ".join(main + exceptions)
