"""The adaptive limit on calls in flight: down on error 66, slowly back up, never above."""

from __future__ import annotations

import threading

from target_pardot.pardot.concurrency import ROUNDS_BEFORE_INCREASE, AdaptiveLimit


def accept(limit: AdaptiveLimit, calls: int) -> None:
    for _ in range(calls):
        ticket = limit.acquire()
        limit.release()
        limit.feedback(ticket, refused=False)


def test_starts_at_the_ceiling_and_never_goes_above_it():
    limit = AdaptiveLimit(5)
    assert limit.limit == 5
    accept(limit, 1_000)
    assert limit.limit == 5


def test_a_refusal_lowers_the_limit_and_accepted_calls_raise_it_one_by_one():
    limit = AdaptiveLimit(5)
    ticket = limit.acquire()
    limit.release()
    limit.feedback(ticket, refused=True)
    assert limit.limit == 3
    accept(limit, ROUNDS_BEFORE_INCREASE * 3 - 1)
    assert limit.limit == 3
    accept(limit, 1)
    assert limit.limit == 4
    accept(limit, ROUNDS_BEFORE_INCREASE * 4)
    assert limit.limit == 5
    assert limit.lowest == 3


def test_refusals_from_one_overload_lower_the_limit_once():
    limit = AdaptiveLimit(5)
    tickets = [limit.acquire() for _ in range(5)]
    for ticket in tickets:
        limit.release()
        limit.feedback(ticket, refused=True)
    assert limit.limit == 3
    ticket = limit.acquire()
    limit.release()
    limit.feedback(ticket, refused=True)
    assert limit.limit == 2
    for _ in range(5):
        ticket = limit.acquire()
        limit.release()
        limit.feedback(ticket, refused=True)
    assert limit.limit == 1, "never below one call"


def test_acquire_waits_while_the_limit_is_reached():
    limit = AdaptiveLimit(2)
    limit.acquire()
    limit.acquire()
    third = threading.Event()
    waiter = threading.Thread(target=lambda: (limit.acquire(), third.set()))
    waiter.start()
    assert not third.wait(0.1)
    limit.release()
    assert third.wait(5)
    waiter.join()


def test_threads_never_exceed_the_limit():
    limit = AdaptiveLimit(3)
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def call():
        nonlocal in_flight, peak
        for _ in range(200):
            ticket = limit.acquire()
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            with lock:
                in_flight -= 1
            limit.release()
            limit.feedback(ticket, refused=False)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 1 <= peak <= 3


def test_slots_go_to_waiting_threads_in_order():
    limit = AdaptiveLimit(1)
    limit.acquire()
    order = []
    waiting = []
    for name in ("first", "second"):
        ready = threading.Event()

        def take(name=name, ready=ready):
            ready.set()
            limit.acquire()
            order.append(name)
            limit.release()

        thread = threading.Thread(target=take)
        thread.start()
        ready.wait(5)
        # the ticket is taken under the lock right after `ready`; wait until it is
        while limit.queued < len(waiting) + 1:
            threading.Event().wait(0.001)
        waiting.append(thread)
    limit.release()
    limit.acquire()  # a thread that just released must queue behind both waiters
    order.append("again")
    limit.release()
    for thread in waiting:
        thread.join(5)
    assert order == ["first", "second", "again"]
