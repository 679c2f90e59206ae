"""Background sending: the reading thread hands calls over and goes on reading.

The SDK drains a sink by calling process_batch in its main thread, which is also the
thread that reads stdin. If process_batch made the calls itself, reading would stop for
every drain and the slots would sit idle while the next rows are parsed. Instead the
sinks turn rows into jobs (one job is one call, or a small chain of them) and submit them
here; worker threads run them while the main thread reads on.

Three rules keep this safe:

* Bounded: at most ``max_queued`` jobs wait at any time. ``submit`` blocks beyond that,
  so a fast tap is slowed to Pardot's pace instead of filling memory.
* STATE follows delivery: the target calls :meth:`Sender.wait` before it writes a STATE
  message, and that waits for every job submitted so far (rows before the STATE).
* Failures surface: the first job that raises stops new jobs from starting (those in
  flight finish, so their outcome is known) and is raised again, in the main thread, by
  the next ``submit`` or ``wait``. ``wait`` raises it instead of letting STATE through.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

Job = Callable[[], None]


class Sender:
    """Worker threads running delivery jobs. ``submit`` and ``wait`` are for the main
    thread; ``submit_followup`` is for jobs that produce more work."""

    def __init__(self, *, workers: int, max_queued: int, name: str = "pardot-send") -> None:
        self._queue: queue.SimpleQueue[tuple[Job, bool] | None] = queue.SimpleQueue()
        self._room = threading.Semaphore(max_queued)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._outstanding = 0
        self._scheduled = 0  # of the outstanding jobs, those waiting for their time
        self._failure: BaseException | None = None
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def failed(self) -> bool:
        return self._failure is not None

    def submit(self, job: Job) -> None:
        """Queue a job, waiting while the queue is full; raise an earlier job's failure."""
        self.raise_failure()
        self._room.acquire()
        self._enqueue(job, holds_room=True)

    def submit_followup(self, job: Job) -> None:
        """Queue a job from inside another job. Never blocks: a worker that waited for
        room could wait for itself."""
        self._enqueue(job, holds_room=False)

    def submit_later(self, delay: float, job: Job) -> None:
        """Queue a job after ``delay`` seconds without tying up a worker meanwhile (for
        polls). It counts as outstanding from now, so ``wait`` waits for it too."""
        with self._lock:
            self._outstanding += 1
            self._scheduled += 1

        def due() -> None:
            with self._lock:
                self._scheduled -= 1
            self._queue.put((job, False))

        timer = threading.Timer(delay, due)
        timer.daemon = True
        timer.start()

    def wait(self, *, raise_failure: bool = True) -> None:
        """Block until every job submitted so far has finished; then raise the first
        failure (unless the caller is already handling one: ``raise_failure=False``)."""
        # After a failure, jobs still waiting for their time would only be skipped: do
        # not wait for them (a poll may be a minute away).
        with self._idle:
            while self._outstanding - (self._scheduled if self._failure else 0) > 0:
                self._idle.wait()
        if raise_failure:
            self.raise_failure()

    def wait_until(self, condition: Callable[[], bool]) -> None:
        """Block until ``condition()`` holds, re-checking whenever a job finishes; raise
        the first failure instead if there is one. For callers that bound their own
        work in flight (a few large uploads rather than many small calls)."""
        with self._idle:
            while not condition() and self._failure is None:
                self._idle.wait()
        self.raise_failure()

    def raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def close(self) -> None:
        """Stop the workers once the jobs already queued are done (or skipped)."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def _enqueue(self, job: Job, *, holds_room: bool) -> None:
        with self._lock:
            self._outstanding += 1
        self._queue.put((job, holds_room))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            job, holds_room = item
            try:
                if self._failure is None:
                    job()
            except BaseException as exc:  # re-raised in the main thread by wait/submit
                with self._lock:
                    if self._failure is None:
                        self._failure = exc
            finally:
                if holds_room:
                    self._room.release()
                with self._lock:
                    self._outstanding -= 1
                    # Waiters are the main thread only: wait() and wait_until().
                    self._idle.notify_all()
