"""What the end of a run says beyond its counts: the share of rows rejected, prospects an
email-only batch created, case variants of emails, and whether more slots would have
made it faster. Pure functions of the summary's figures."""

from __future__ import annotations

from typing import Any

from target_pardot.pardot.limits import MAX_CONCURRENT_REQUESTS

#: The hint about parallel_tasks needs a saving at least this large, in seconds and as
#: a share of the run: a few seconds on a short run are noise.
HINT_MIN_SAVING_SECONDS = 1.0
HINT_MIN_SAVING_SHARE = 0.25


def rejected_share_problem(summary: dict[str, Any], max_percent: float) -> str | None:
    """The error line when the run rejected more than `max_rejected_percent` of its rows."""
    rejected = summary["rows_rejected"]
    rows = summary["rows_received"] + summary["rejected_by_reason"].get("invalid_line", 0)
    if not rejected or not rows:
        return None
    share = 100.0 * rejected / rows
    if share <= max_percent:
        return None
    return (
        f"{rejected} of {rows} rows ({share:.1f}%) were rejected, more than "
        f"max_rejected_percent ({max_percent:g}%). The other rows were delivered and their "
        "STATE written; the reasons are counted in the summary. Fix the input, or raise "
        "max_rejected_percent."
    )


def email_batch_warning(summary: dict[str, Any]) -> str | None:
    created = summary["prospects_created_from_email_only_rows"]
    if not created:
        return None
    return (
        f"{created} prospects were created from email-only rows in v4 batches "
        "(upsert_by_email: false). This account has AMPSEA on, where every such row creates "
        "a new prospect on every run, even when one with that email exists. Set "
        "upsert_by_email: true (the default) to update the existing prospect instead."
    )


def case_variant_warning(count: int) -> str | None:
    if not count:
        return None
    return (
        f"{count} emails in this run differ only in case from another row's email; Pardot "
        "matches emails case-sensitively, so each becomes a prospect of its own. Set "
        "lowercase_emails: true to send every email in lowercase."
    )


def slow_run_hint(
    *, parallel_tasks: int, wall_seconds: float, busy_seconds: float, call_seconds: float
) -> str | None:
    """When most of the run was spent waiting on Pardot with slots free: how long it
    would have taken with every slot. An estimate: the calls' own time spread over
    MAX_CONCURRENT_REQUESTS slots, the rest of the run unchanged."""
    if parallel_tasks >= MAX_CONCURRENT_REQUESTS or wall_seconds <= 0:
        return None
    if busy_seconds < wall_seconds / 2:
        return None
    estimate = wall_seconds - busy_seconds + call_seconds / MAX_CONCURRENT_REQUESTS
    saving = wall_seconds - estimate
    if saving < max(HINT_MIN_SAVING_SECONDS, HINT_MIN_SAVING_SHARE * wall_seconds):
        return None
    return (
        f"This run spent {busy_seconds:.0f} s of {wall_seconds:.0f} s waiting on Pardot with "
        f"{MAX_CONCURRENT_REQUESTS - parallel_tasks} of its {MAX_CONCURRENT_REQUESTS} slots "
        f"free: with parallel_tasks: {MAX_CONCURRENT_REQUESTS} it would have taken about "
        f"{estimate:.0f} s ({wall_seconds / max(estimate, 1e-9):.1f} times faster)."
    )
