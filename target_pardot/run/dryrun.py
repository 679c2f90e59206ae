"""Dry runs: what they say before and after the stream, and why they emit no STATE.

`dry_run: true` reads and validates every row, plans every call (the sinks record them in
RunStats.plan) and sends no write call; its reads (a token request, which checks the
credentials, the account's custom fields, a mirrored list's members) still go out.
`dry_run_offline: true` does the same without that token call, so it needs no reachable
host at all. The run summary lists the planned calls per endpoint and the rows they carry.
"""

from __future__ import annotations

from target_pardot.run.stats import RunStats
from target_pardot.settings import Settings


def banner(settings: Settings) -> str:
    if settings.dry_run_offline:
        return (
            "Dry run, offline: rows are validated and calls planned; nothing is sent, not "
            "even a token request, so the credentials are not checked."
        )
    return (
        "Dry run: rows are validated and calls planned; no row is sent, only reads (a token "
        "request, which checks the credentials, and the reads the plan needs)."
    )


def verdict(settings: Settings, stats: RunStats) -> str | None:
    """The failure a real run would meet, if any.

    A dry run reports every invalid row instead of stopping at the first one, so that one
    dry run shows them all; with `skip_invalid_records: false` a real run would stop.
    """
    if not settings.dry_run or settings.skip_invalid_records:
        return None
    rejected = sum(stats.snapshot()["rejected_by_reason"].values())
    if not rejected:
        return None
    return (
        f"Dry run: {rejected} invalid rows (reasons above and in the summary). With "
        "skip_invalid_records false a real run stops at the first of them; fix the rows, or "
        "set skip_invalid_records: true to skip them."
    )


def state_note(state_json: str) -> str:
    # STATE tells the orchestrator that rows up to here are loaded; after a dry run none
    # is, and Meltano would otherwise save the bookmark and skip these rows next time.
    return f"Dry run: STATE not emitted, since no row was loaded: {state_json}"
