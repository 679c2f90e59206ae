"""The background sender: bounded, waits for everything, and surfaces the first failure."""

from __future__ import annotations

import threading
import time

import pytest

from target_pardot.run.sender import Sender


class Boom(Exception):
    pass


@pytest.fixture
def sender():
    s = Sender(workers=3, max_queued=4)
    yield s
    s.close()


def test_wait_returns_after_every_job_and_followup(sender):
    done = []
    lock = threading.Lock()

    def job(i):
        time.sleep(0.001)
        with lock:
            done.append(i)
        if i % 10 == 0:
            sender.submit_followup(lambda: done.append(-i))

    for i in range(50):
        sender.submit(lambda i=i: job(i))
    sender.wait()
    # 50 jobs, and a follow-up from each of jobs 0, 10, 20, 30, 40 (recorded as -i).
    assert len(done) == 55
    assert sorted(set(done)) == sorted({*range(50), -10, -20, -30, -40})


def test_submit_blocks_while_the_queue_is_full(sender):
    release = threading.Event()
    started = threading.Semaphore(0)

    def blocked():
        started.release()
        release.wait(5)

    for _ in range(4):
        sender.submit(blocked)
    submitted = threading.Event()
    extra = threading.Thread(target=lambda: (sender.submit(lambda: None), submitted.set()))
    extra.start()
    assert not submitted.wait(0.2), "a fifth job must wait for room"
    release.set()
    assert submitted.wait(5)
    extra.join()
    sender.wait()


def test_first_failure_is_raised_by_wait_and_submit_and_stops_new_jobs(sender):
    gate = threading.Event()
    ran = []

    def failing():
        gate.wait(5)
        raise Boom("first")

    sender.submit(failing)
    sender.submit(lambda: (gate.wait(5), ran.append("in flight")))
    gate.set()
    with pytest.raises(Boom, match="first"):
        sender.wait()
    with pytest.raises(Boom):
        sender.submit(lambda: ran.append("after the failure"))
    assert "after the failure" not in ran


def test_jobs_queued_behind_a_failure_are_skipped():
    sender = Sender(workers=1, max_queued=10)
    ran = []
    sender.submit(lambda: (_ for _ in ()).throw(Boom("x")))
    for i in range(5):
        sender.submit_followup(lambda i=i: ran.append(i))
    with pytest.raises(Boom):
        sender.wait()
    sender.close()
    assert ran == []


def test_a_scheduled_job_runs_later_and_is_waited_for(sender):
    ran = []
    started = time.monotonic()
    sender.submit_later(0.1, lambda: ran.append(time.monotonic() - started))
    sender.wait()
    assert len(ran) == 1
    assert ran[0] >= 0.1


def test_after_a_failure_wait_does_not_wait_for_scheduled_jobs(sender):
    sender.submit_later(3600, lambda: None)
    sender.submit(lambda: (_ for _ in ()).throw(Boom("now")))
    started = time.monotonic()
    with pytest.raises(Boom):
        sender.wait()
    assert time.monotonic() - started < 600, "it waited for the scheduled job"
