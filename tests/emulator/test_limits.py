"""Concurrency and daily limits, URI and body size limits, latency, token lifetime."""

from __future__ import annotations

import random
import socket
import threading
import time

import pytest
import requests

from pardot_emulator import PardotEmulator

from .conftest import BU, Api, get_token

MSG_66 = "You have exceeded your concurrent request limit. Please wait, before trying again"
EMPTY = {"prospects": '{"prospects":[]}'}
CREATE = "/api/prospect/version/4/do/batchCreate?format=json"


def parallel_calls(emu: PardotEmulator, n: int) -> list[requests.Response]:
    """n calls at once, each on its own connection (the emulator must be slow enough)."""
    token = get_token(emu)
    headers = {"Authorization": f"Bearer {token}", "Pardot-Business-Unit-Id": BU}
    results: list[requests.Response] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n)

    def call(i: int) -> None:
        with requests.Session() as s:
            barrier.wait()
            r = s.post(emu.url + CREATE, headers=headers, timeout=10,
                       data={"prospects": f'{{"prospects":[{{"email":"c{i}@example.com"}}]}}'})
        with lock:
            results.append(r)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def err_codes(results: list[requests.Response]) -> list[int | None]:
    return sorted((r.json()["@attributes"].get("err_code") or 0) for r in results)


def test_sixth_concurrent_call_gets_66(emu: PardotEmulator) -> None:
    emu.configure(latency_ms=800)
    results = parallel_calls(emu, 6)
    assert err_codes(results) == [0, 0, 0, 0, 0, 66]
    [rejected] = [r for r in results if r.json()["@attributes"].get("err_code") == 66]
    # Pardot's own clients read 66 from an HTTP 200 reply (docs/wire-contract.md, H6)
    assert rejected.status_code == 200
    assert rejected.json() == {"@attributes": {"stat": "fail", "version": 1, "err_code": 66},
                               "err": MSG_66}
    counters = emu.counters()
    assert counters["max_in_flight"] == 6  # it counts the rejected call too
    assert counters["rejected_concurrency"] == 1
    assert len(emu.prospects()) == 5  # the rejected call changed nothing


def test_five_concurrent_calls_are_fine(emu: PardotEmulator) -> None:
    emu.configure(latency_ms=300)
    results = parallel_calls(emu, 5)
    assert err_codes(results) == [0] * 5
    assert emu.counters()["max_in_flight"] == 5


def test_reserved_slots_shrink_the_limit(emu: PardotEmulator) -> None:
    emu.configure(latency_ms=800, reserved_slots=3)
    results = parallel_calls(emu, 3)
    assert err_codes(results) == [0, 0, 66]


def test_concurrency_limit_is_configurable(emu: PardotEmulator) -> None:
    emu.configure(latency_ms=800, concurrency_limit=2)
    assert err_codes(parallel_calls(emu, 3)) == [0, 0, 66]


@pytest.mark.parametrize("status", [200, 400, 429])
def test_66_http_status_is_selectable(emu: PardotEmulator, api: Api, status: int) -> None:
    # An effective limit of 0 (all slots held by the "other integration") refuses every call.
    emu.configure(concurrency_limit=1, reserved_slots=1, rate_limit_status=status)
    r = api.post(CREATE, data=EMPTY)
    assert r.status_code == status
    assert r.json()["@attributes"]["err_code"] == 66


def test_66_and_122_on_v3_and_v4_come_with_http_200_by_default(emu: PardotEmulator,
                                                              api: Api) -> None:
    emu.configure(concurrency_limit=1, reserved_slots=1)
    r = api.post(CREATE, data=EMPTY)
    assert (r.status_code, r.json()["@attributes"]["err_code"]) == (200, 66)
    emu.configure(concurrency_limit=5, reserved_slots=0, daily_limit=0)
    r = api.post(CREATE, data=EMPTY)
    assert (r.status_code, r.json()["@attributes"]["err_code"]) == (200, 122)


@pytest.mark.parametrize("status", [200, 400, 429])
def test_66_on_v5_uses_the_v5_envelope(emu: PardotEmulator, api: Api, status: int) -> None:
    emu.configure(concurrency_limit=1, reserved_slots=1, rate_limit_status=status)
    r = api.upsert_v5({"matchEmail": "a@example.com", "prospect": {}, "fields": ["id"]})
    assert (r.status_code, r.json()) == (429, {"code": 66, "message": MSG_66})


@pytest.mark.parametrize("status", [200, 400, 429])
def test_daily_limit_gives_122_on_every_later_call(emu: PardotEmulator, api: Api,
                                                   status: int) -> None:
    emu.configure(daily_limit=2, rate_limit_status=status)
    assert api.post(CREATE, data=EMPTY).status_code == 200
    assert api.post(CREATE, data=EMPTY).status_code == 200
    for _ in range(2):
        r = api.post(CREATE, data=EMPTY)
        assert r.status_code == status
        assert r.json() == {"@attributes": {"stat": "fail", "version": 1, "err_code": 122},
                            "err": "Daily API rate limit met"}
    assert emu.counters()["daily_calls_used"] == 4


def test_daily_limit_resets_with_reset(emu: PardotEmulator, api: Api) -> None:
    emu.configure(daily_limit=1)
    api.post(CREATE, data=EMPTY)
    assert api.post(CREATE, data=EMPTY).json()["@attributes"]["err_code"] == 122
    emu.reset()
    api.token = get_token(emu)
    assert api.post(CREATE, data=EMPTY).status_code == 200


def test_long_uri_gets_414(emu: PardotEmulator, api: Api) -> None:
    rows = ",".join(f'{{"email":"p{i}@example.com","comments":"{"x" * 200}"}}' for i in range(40))
    r = api.post("/api/prospect/version/4/do/batchCreate",
                 params={"format": "json", "prospects": f'{{"prospects":[{rows}]}}'})
    assert r.status_code == 414
    assert emu.prospects() == []


def test_uri_limit_is_configurable(emu: PardotEmulator, api: Api) -> None:
    emu.configure(uri_limit=100)
    ok = api.post(CREATE, data=EMPTY)
    assert ok.status_code == 200
    r = api.post(CREATE + "&" + "x" * 100, data=EMPTY)
    assert r.status_code == 414
    assert emu.counters()["http_status_counts"]["414"] == 1


def test_large_body_gets_413(emu: PardotEmulator, api: Api) -> None:
    emu.configure(max_body_bytes=1000)
    r = api.post(CREATE, data={"prospects": '{"prospects":[]}', "pad": "x" * 2000})
    assert r.status_code == 413
    assert api.post(CREATE, data=EMPTY).status_code == 200  # a fresh connection still works


def test_latency_is_added_to_each_call(emu: PardotEmulator, api: Api) -> None:
    emu.configure(latency_ms=250)
    t0 = time.perf_counter()
    api.post(CREATE, data=EMPTY)
    assert time.perf_counter() - t0 >= 0.25


def test_latency_jitter_is_uniform_and_reproducible_with_a_seed(emu: PardotEmulator,
                                                                api: Api) -> None:
    # With a seed, the jitter of each call is the seed's next uniform(0, 150 ms) draw.
    rng = random.Random(7)
    expected = [rng.uniform(0.0, 150.0) / 1000 for _ in range(6)]
    assert max(expected) - min(expected) > 0.02  # the draws do vary
    emu.configure(latency_jitter_ms=150, seed=7)
    for want in expected:
        t0 = time.perf_counter()
        api.post(CREATE, data=EMPTY)
        took = time.perf_counter() - t0
        assert want <= took < want + 0.5


def test_no_latency_by_default(emu: PardotEmulator, api: Api) -> None:
    t0 = time.perf_counter()
    for _ in range(20):
        api.post(CREATE, data=EMPTY)
    assert time.perf_counter() - t0 < 1.0


def test_token_lifetime_in_calls(emu: PardotEmulator, api: Api) -> None:
    emu.configure(token_lifetime_calls=2)
    assert [api.post(CREATE, data=EMPTY).status_code for _ in range(3)] == [200, 200, 401]
    assert api.post(CREATE, data=EMPTY).status_code == 401  # it stays expired
    api.token = get_token(emu)
    assert api.post(CREATE, data=EMPTY).status_code == 200


def test_token_lifetime_in_seconds(emu: PardotEmulator, api: Api) -> None:
    emu.configure(token_lifetime_seconds=0.5)
    api.token = get_token(emu)
    assert api.post(CREATE, data=EMPTY).status_code == 200
    time.sleep(0.6)
    r = api.post(CREATE, data=EMPTY)
    assert r.status_code == 401
    assert r.json()["@attributes"]["err_code"] == 184


def test_keep_alive_connections_are_reused(emu: PardotEmulator) -> None:
    token = get_token(emu)
    host, port = emu.url.removeprefix("http://").split(":")
    body = b'prospects={"prospects":[]}'
    request = (f"POST {CREATE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
               f"Pardot-Business-Unit-Id: {BU}\r\n"
               "Content-Type: application/x-www-form-urlencoded\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request + request)  # two requests on one connection, pipelined
        data = b""
        while data.count(b"HTTP/1.1 200 OK") < 2:
            chunk = sock.recv(65536)
            assert chunk, "connection closed early"
            data += chunk
    assert b"Connection: close" not in data


def test_expect_100_continue_is_answered_only_below_the_body_limit(emu: PardotEmulator) -> None:
    # curl sends "Expect: 100-continue" for larger bodies and waits for the go-ahead.
    emu.configure(max_body_bytes=100)
    host, port = emu.url.removeprefix("http://").split(":")
    first_lines = []
    for size in (50, 500):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(f"POST {CREATE} HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n"
                         "Expect: 100-continue\r\n\r\n".encode())
            first_lines.append(sock.recv(4096).split(b"\r\n")[0])
    assert first_lines == [b"HTTP/1.1 100 Continue", b"HTTP/1.1 413 Request Entity Too Large"]
