"""The Singer SDK's standard target tests, run against the emulator.

The SDK's sample streams are not prospects: most rows have no email, and some have an
`id` column that Pardot reads as a prospect id. With skip_invalid_records the target sends
what it can, Pardot rejects the rest per row, and every test checks that the target
handles the message pattern (schema changes, several STATE messages, special characters,
records before schemas...) the way the SDK expects.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from singer_sdk.testing import get_target_test_class

from pardot_emulator import PardotEmulator
from target_pardot.target import TargetPardot
from tests.helpers import base_config, record_message, run_inprocess, schema_message

# The SDK builds the test class from a config, so the emulator must exist at import.
EMULATOR = PardotEmulator().start()

StandardTargetTests = get_target_test_class(
    TargetPardot,
    config=base_config(EMULATOR, skip_invalid_records=True),
)


@pytest.fixture(scope="module", autouse=True)
def _stop_emulator() -> Iterator[None]:
    yield
    EMULATOR.stop()


class TestTargetPardotStandard(StandardTargetTests):  # type: ignore[misc, valid-type]
    # Excluded, one test: the SDK expects MissingKeyPropertiesError for a record without
    # its stream's key property. Pardot identifies a prospect by id, fid or email, not by
    # the tap's key_properties, so such a record is delivered when it has one of those and
    # otherwise rejected like any invalid row (skipped and reported, or the run stops).
    # test_record_missing_its_key_property below checks that behaviour instead.
    @pytest.mark.skip(
        reason="replaced by test_record_missing_its_key_property: key "
        "properties do not identify a Pardot prospect"
    )
    def test_target_record_missing_key_property(self) -> None:
        raise AssertionError("excluded")


def test_record_missing_its_key_property(capsys, caplog):
    EMULATOR.reset()
    messages = [
        schema_message("prospects", key_properties=["id"]),
        record_message("prospects", {"email": "keyless@example.com"}),
        record_message("prospects", {"first_name": "no identity at all"}),
    ]
    config = base_config(EMULATOR, skip_invalid_records=True)
    result = run_inprocess(config, messages, capsys, caplog)
    assert result.exit_code == 0
    assert [p["email"] for p in EMULATOR.prospects()] == ["keyless@example.com"]
    assert result.summary["rejected_by_reason"] == {"missing_key": 1}
