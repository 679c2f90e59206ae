"""The client's retry policy, without HTTP."""

from __future__ import annotations

import pytest

from target_pardot.errors import RetryableError
from target_pardot.pardot.call import Call, retry_reason, retry_wait, should_retry

BATCH = Call("POST", "/api/prospect/version/4/do/batchUpsert", "prospect/batchUpsert", False)
UPDATE = Call("POST", "/api/prospect/version/4/do/batchUpdate", "prospect/batchUpdate", True)


def test_a_transient_failure_is_retried_until_the_retries_run_out():
    busy = RetryableError("Pardot error 66", code=66)
    assert should_retry(busy, BATCH, retries_done=0, max_retries=2)
    assert should_retry(busy, BATCH, retries_done=1, max_retries=2)
    assert not should_retry(busy, BATCH, retries_done=2, max_retries=2)


def test_an_ambiguous_failure_is_retried_only_when_the_call_is_idempotent():
    lost = RetryableError("HTTP 502 from Pardot", status=502, ambiguous=True)
    assert not should_retry(lost, BATCH, retries_done=0, max_retries=5)
    assert should_retry(lost, UPDATE, retries_done=0, max_retries=5)


@pytest.mark.parametrize(("retries_done", "ceiling"), [(0, 1.0), (1, 2.0), (3, 8.0), (9, 120.0)])
def test_the_wait_doubles_up_to_the_maximum_with_full_jitter(retries_done, ceiling):
    assert retry_wait(retries_done, 1.0, 120.0, draw=lambda: 1.0) == ceiling
    assert retry_wait(retries_done, 1.0, 120.0, draw=lambda: 0.0) == 0.0


def test_the_retry_reason_names_the_code_or_the_status():
    assert retry_reason(RetryableError("x", code=66)) == "code_66"
    assert retry_reason(RetryableError("x", status=503)) == "http_503"
    assert retry_reason(RetryableError("x")) == "connection"
