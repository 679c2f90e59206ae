from __future__ import annotations

import json

import pytest

from target_pardot.errors import (
    AuthFailed,
    DailyLimitReached,
    PardotApiError,
    PayloadTooLarge,
    RateLimited,
    RetryableError,
    TokenExpired,
)
from target_pardot.pardot.responses import batch_row_errors, classify, row_error_code


def v4_error(code: int, message: str = "msg") -> bytes:
    return json.dumps(
        {"@attributes": {"stat": "fail", "version": 1, "err_code": code}, "err": message}
    ).encode()


@pytest.mark.parametrize("status", [200, 400, 429])
def test_code_66_is_rate_limited_whatever_the_status(status):
    with pytest.raises(RateLimited):
        classify(status, v4_error(66))


@pytest.mark.parametrize("status", [200, 400, 429])
def test_code_122_stops_the_run_whatever_the_status(status):
    with pytest.raises(DailyLimitReached, match="daily API limit"):
        classify(status, v4_error(122, "Daily API rate limit met"))


@pytest.mark.parametrize("status", [400, 401])
def test_code_184_means_refresh_the_token(status):
    with pytest.raises(TokenExpired):
        classify(status, v4_error(184))


def test_v5_envelope_code_is_read():
    with pytest.raises(TokenExpired):
        classify(401, b'{"code":184,"message":"access_token is invalid"}')
    with pytest.raises(RateLimited):
        classify(429, b'{"code":66,"message":"too many"}')


@pytest.mark.parametrize(
    "xml",
    [
        b'<?xml version="1.0"?><rsp stat="fail" version="1.0"><err code="184">x</err></rsp>',
        b'<rsp stat="fail" err_code="184"><err>x</err></rsp>',
        b"<error><code>184</code><message>x</message></error>",
    ],
)
def test_xml_auth_failures_are_read(xml):
    with pytest.raises(TokenExpired):
        classify(400, xml)


@pytest.mark.parametrize("code", [62, 183, 214, 85])
def test_transient_codes_are_retryable_and_not_ambiguous(code):
    with pytest.raises(RetryableError) as info:
        classify(200, v4_error(code))
    assert info.value.ambiguous is False


@pytest.mark.parametrize(
    ("status", "ambiguous"), [(500, True), (502, True), (503, False), (504, True)]
)
def test_server_errors(status, ambiguous):
    with pytest.raises(RetryableError) as info:
        classify(status, b"<html>oops</html>")
    assert info.value.ambiguous is ambiguous


@pytest.mark.parametrize("status", [413, 414])
def test_too_large(status):
    with pytest.raises(PayloadTooLarge):
        classify(status, b"")


def test_181_and_201_name_the_setting():
    with pytest.raises(AuthFailed, match="business_unit"):
        classify(400, v4_error(181))
    with pytest.raises(AuthFailed, match="pardot_domain"):
        classify(400, v4_error(201))


def test_http_401_without_code_is_token_expired():
    with pytest.raises(TokenExpired):
        classify(401, b"")


def test_other_errors_are_not_retried():
    with pytest.raises(PardotApiError) as info:
        classify(400, v4_error(55, "Invalid list ID"))
    assert not isinstance(info.value, RetryableError)
    assert info.value.code == 55


def test_success_and_partial_batch():
    reply = classify(201, b'{"@attributes":{"stat":"ok","version":1},"errors":{}}')
    assert reply.status == 201
    assert batch_row_errors(reply.body) == {}
    reply = classify(
        200,
        b'{"@attributes":{"stat":"fail","version":1},'
        b'"errors":{"1":"Invalid prospect email address"}}',
    )
    assert batch_row_errors(reply.body) == {1: "Invalid prospect email address"}


def test_row_error_codes():
    assert row_error_code("Invalid prospect email address") == 4
    assert row_error_code("Invalid list ID: 99") == 55
    assert row_error_code("Something else") is None
