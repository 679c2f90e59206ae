"""The baseline of benchmark 3: a singer-sdk target whose BatchSink does nothing.

It pays exactly what every singer-sdk target pays before it can load a row: reading and
parsing each line, the SDK's record handling, and record validation (the SDK default
validator, `validate_records` as configured). Run it like any target:

    python bench/noop_target.py --config config.json < input.singer
"""

from __future__ import annotations

from singer_sdk import typing as th
from singer_sdk.sinks import BatchSink
from singer_sdk.target_base import Target


class NoopSink(BatchSink):
    """Buffers rows the SDK way and drops each batch."""

    def process_batch(self, context: dict) -> None:
        return


class NoopTarget(Target):
    """Reads a Singer stream and loads nothing."""

    name = "target-noop"
    config_jsonschema = th.PropertiesList().to_dict()
    default_sink_class = NoopSink


if __name__ == "__main__":
    NoopTarget.cli()
