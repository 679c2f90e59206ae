"""Which Pardot API version, v3 or v4, the account takes; and the one place that reacts
when Pardot says a call used the wrong one.

Accounts with AMPSEA ("allow multiple prospects with the same email address") take v4;
accounts without it take v3. The paths differ only in `/version/3/` or `/version/4/`.
Pardot refuses a v4 call on a v3 account with error 89, and a v3 call on a v4 account
with error 88 (pardot/api-docs, docs/kb/error-codes-messages.md). With `api_version:
auto` the run starts on v4 and follows what those errors say.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from target_pardot.errors import ApiVersionRejected, WrongApiVersion
from target_pardot.pardot.responses import CODE_CANNOT_USE_V4, CODE_MUST_USE_V4

logger = logging.getLogger("target-pardot")

T = TypeVar("T")

API_VERSION_AUTO = "auto"
API_VERSION_CHOICES = (API_VERSION_AUTO, "4", "3")
#: The version a refusal points to: 88 "must use version 4", 89 "unable to use version 4".
VERSION_AFTER_REFUSAL = {CODE_MUST_USE_V4: 4, CODE_CANNOT_USE_V4: 3}


def v3v4_path(version: int, object_name: str, action: str) -> str:
    """`/api/<object>/version/<3|4>/do/<action>`: the two versions share every path."""
    return f"/api/{object_name}/version/{version}/do/{action}"


class ApiVersion:
    """The run's current v3/v4 version. Thread-safe: every sending thread shares it.

    ``known`` is false until a call has been accepted in the current version, or a
    setting fixed it: until then a caller may still ask to try v3 first (`prefer`).
    """

    def __init__(
        self,
        setting: str,
        on_change: Callable[[int], None] = lambda _: None,
        *,
        parallel: bool = True,
    ):
        self.setting = setting
        self._fixed = setting != API_VERSION_AUTO
        self._current = 3 if setting == "3" else 4
        self._known = self._fixed
        self._refused: set[int] = set()
        self._lock = threading.Lock()
        # Held by the one call that tries v3 first: until it is answered calls go one at
        # a time, so at most one is refused (re-entrant: a call may send its parts again).
        # Without parallel calls the concurrency gate already sends one at a time.
        self._probe = threading.RLock() if parallel else None
        self._on_change = on_change
        on_change(self._current)

    @property
    def current(self) -> int:
        with self._lock:
            return self._current

    @property
    def known(self) -> bool:
        with self._lock:
            return self._known

    def run(self, send: Callable[[int], T]) -> T:
        """Run ``send(version)`` in the run's current version. When Pardot answers that the
        account takes the other one (error 88 or 89), switch the run and run it again:
        ``send`` rebuilds the call (its path, and its body where v3 differs)."""
        if self._probe is not None and self._trying_v3():
            with self._probe:
                # Only the v3 attempt holds the probe: once it is refused, the call's
                # rows go again in v4 (one v5 call each, for email-only rows) beside the
                # other calls, not one at a time behind it.
                if self._trying_v3():
                    try:
                        result = send(3)
                    except WrongApiVersion as exc:
                        self.refused(3, exc.code or 0)
                    else:
                        self.confirm(3)
                        return result
        return self._run(send)

    def _trying_v3(self) -> bool:
        """v3 tried first (see prefer) on an account not known yet: on a normal account
        every such call is refused, so they go one at a time. Calls on v4 go in parallel:
        only an old v3 account refuses them, on its first run (then it is remembered)."""
        with self._lock:
            return not self._known and self._current == 3

    def _run(self, send: Callable[[int], T]) -> T:
        while True:
            version = self.current
            try:
                result = send(version)
            except WrongApiVersion as exc:
                self.refused(version, exc.code or 0)
                continue
            self.confirm(version)
            return result

    def remember(self, version: int) -> None:
        """Start from the version this account answered in an earlier run (auto only); a
        later error 88 or 89 still switches the run."""
        with self._lock:
            if self._fixed or self._known:
                return
            self._current, self._known = version, True
        self._on_change(version)

    def prefer(self, version: int) -> None:
        """Try ``version`` first, unless the version is already fixed or learned."""
        with self._lock:
            if self._known or version in self._refused or version == self._current:
                return
            self._current = version
        self._on_change(version)

    def confirm(self, version: int) -> None:
        """A call in ``version`` was accepted: the account takes it."""
        with self._lock:
            if version != self._current or self._known:
                return
            self._known = True
        if version == 3:  # tried first (see prefer): say it once, as a switch would
            logger.info("Pardot accepted an API v3 call: this account has AMPSEA off, so "
                        "this run uses API v3 from now on.")

    def refused(self, version: int, code: int) -> None:
        """Pardot refused a call made in ``version`` with error 88 or 89: switch the run
        (once, however many calls in flight saw it), or raise when no switch can help."""
        target = VERSION_AFTER_REFUSAL[code]
        with self._lock:
            self._refused.add(version)
            if self._current != version:
                return  # another call already switched: just resend
            if self._fixed:
                raise ApiVersionRejected(
                    f"Pardot error {code}: this account takes API v{target}, but "
                    f"'api_version' is {self.setting}. Set 'api_version' to {target} or "
                    f"{API_VERSION_AUTO}."
                )
            if target in self._refused:
                raise ApiVersionRejected(
                    "Pardot refused both API v3 (error 88) and v4 (error 89) for this "
                    "account. Check 'business_unit' and 'pardot_domain'."
                )
            self._current = target
            self._known = True
        # Normal on a first run (the run remembers the answer for the next ones): no warning.
        logger.info(
            "Pardot error %d: this account %s, so this run uses API v%d from now on "
            "(set 'api_version: %d' to skip this first refused call).",
            code,
            "has AMPSEA off" if target == 3 else "has AMPSEA on",
            target,
            target,
        )
        self._on_change(target)
