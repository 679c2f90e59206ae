"""How many calls may be in flight: an additive-increase, multiplicative-decrease limit.

Pardot allows 5 calls in flight per account, and other integrations of the account use
the same 5. When Pardot refuses a call with error 66, someone else holds some slots:
this limit drops (multiplicative decrease) so that our calls stop colliding with theirs,
and climbs back one slot at a time after a long enough run of accepted calls (additive
increase), never above `parallel_tasks`. Each climb is a probe: if the other integration
is still there, the probe costs one refused call, so probes are spaced far enough apart
that refusals stay a few percent of our calls.
"""

from __future__ import annotations

import logging
import math
import threading

logger = logging.getLogger("target-pardot")

#: Multiplicative decrease on error 66. Three quarters, not half: with 5 slots a halving
#: from 4 lands on 2 and leaves a free slot idle until the next climb.
DECREASE_FACTOR = 0.75
#: Additive increase: one more slot after this many rounds (a round is `limit` calls)
#: of accepted calls. At 3 slots that is one probe per 60 calls, under 2% refused.
ROUNDS_BEFORE_INCREASE = 20


class AdaptiveLimit:
    """A counting gate whose size adapts to error 66. Thread-safe.

    ``acquire`` returns a ticket (the decrease epoch when the call started); report the
    call's outcome with ``feedback``. Several calls refused by the same overload only
    decrease the limit once: a refusal of a call that started before the last decrease
    says nothing new.
    """

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self._limit = ceiling
        self._in_flight = 0
        self._accepted_in_a_row = 0
        self._epoch = 0
        self._lowest = ceiling
        self._condition = threading.Condition()
        self._next_turn = 0  # tickets of the threads that asked for a slot, in order
        self._serving = 0

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def queued(self) -> int:
        """Threads that asked for a slot and have not got one yet."""
        with self._condition:
            return self._next_turn - self._serving

    @property
    def lowest(self) -> int:
        """The lowest limit this run had to use."""
        return self._lowest

    def acquire(self) -> int:
        # First come, first served: a thread that just released a slot must not take it
        # back ahead of one already waiting, or an early batch can wait for the whole run
        # (and the STATE after it with it).
        with self._condition:
            turn = self._next_turn
            self._next_turn += 1
            while turn != self._serving or self._in_flight >= self._limit:
                self._condition.wait()
            self._serving += 1
            self._in_flight += 1
            self._condition.notify_all()
            return self._epoch

    def release(self) -> None:
        with self._condition:
            self._in_flight -= 1
            self._condition.notify_all()

    def feedback(self, ticket: int, *, refused: bool) -> None:
        """Adapt to one finished call: ``refused`` when Pardot answered error 66."""
        with self._condition:
            if refused:
                self._accepted_in_a_row = 0
                if ticket != self._epoch:
                    return
                lowered = max(1, math.floor(self._limit * DECREASE_FACTOR))
                self._epoch += 1
                if lowered < self._limit:
                    first = self._lowest == self.ceiling
                    self._limit = lowered
                    self._lowest = min(self._lowest, lowered)
                    (logger.info if first else logger.debug)(
                        "Pardot refused a call with error 66: other integrations are using "
                        "some of the account's concurrent slots. Now at most %d calls in "
                        "flight; climbing back while no call is refused.",
                        lowered,
                    )
                return
            if self._limit >= self.ceiling:
                return
            self._accepted_in_a_row += 1
            if self._accepted_in_a_row >= ROUNDS_BEFORE_INCREASE * self._limit:
                self._accepted_in_a_row = 0
                self._limit += 1
                self._condition.notify_all()
                logger.debug("No error 66 for a while: now at most %d in flight.", self._limit)
