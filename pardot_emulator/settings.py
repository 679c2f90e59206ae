"""The emulator's settings as one typed, frozen value.

The table in config.py (names, defaults, coercions, help) stays the single source of the
constructor keywords, CLI flags, ``POST /_emulator/config`` keys and docs; this class
gives the same names types, so a handler reads ``settings.daily_limit`` rather than a
key of an untyped dict. tests/emulator/test_settings_model.py keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class EmulatorSettings:
    client_id: str
    client_secret: str
    refresh_token: str
    business_unit: str
    lists: frozenset[int]
    custom_fields: tuple[str, ...]
    ampsea: bool
    v3_email_case_insensitive: bool
    concurrency_limit: int
    reserved_slots: int
    daily_limit: int | None
    rate_limit_status: int
    auth_error_status: int
    auth_error_xml: bool
    v4_error_status: int
    uri_limit: int
    max_body_bytes: int
    latency_ms: float
    latency_jitter_ms: float
    token_lifetime_calls: int | None
    token_lifetime_seconds: float | None
    token_fault_rate: float
    token_race_errors: bool
    jwt_public_key: str | None
    jwt_username: str
    jwt_audience: str
    clock_offset_seconds: float
    authorize_outcome: str
    api_usage_header: str
    daily_usage_max: int
    others_daily_calls: int
    fault_rate: float
    fault_kinds: tuple[str, ...]
    slow_ms: float
    applied_but_lost_rate: float
    import_processing_polls: int
    import_daily_batch_limit: int
    timezone: str
    frozen_time: str | None
    page_token_ttl_seconds: float
    page_token_max_records: int | None
    import_list_separator: str
    seed: int | None
    verbose: bool

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> EmulatorSettings:
        """From a complete dict of coerced values (config.defaults() and coerce_settings)."""
        return cls(**values)

    def values(self) -> dict[str, Any]:
        """Name -> value, in the table's order (not deep-copied: every value is immutable)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
