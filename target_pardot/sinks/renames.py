"""A change of a prospect's address (a ``match_email`` row) sent once, never twice blindly.

upsertLatestByEmail with ``matchEmail`` = the old address moves the prospect to the new
one (docs/wire-contract.md, R20). Sent a second time (its reply was lost, or the run
stopped before its STATE and is resumed), the old address names no prospect any more
and the call creates a second prospect with the new address. So before each attempt the
target reads both addresses (R30, real-time v3/v4 reads):

* the old address is held: the change is still to be made; it is sent as it is, and an
  ambiguous failure is followed by these reads again, never by the same call;
* the old address is gone and the new one is held: an earlier attempt made the change;
  the row is sent keyed by the new address (an update, safe to repeat);
* neither is held: upsertLatestByEmail creates the prospect with the new address, as
  it would have on the first attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from target_pardot.errors import PardotApiError, RetriesExhausted, RetryableError
from target_pardot.pardot.api_version import ApiVersion
from target_pardot.pardot.endpoints import Endpoints
from target_pardot.pardot.responses import CODE_INVALID_EMAIL, Reply

logger = logging.getLogger("target-pardot")

#: The body of the row's upsertLatestByEmail call, matching on the address given
#: (None: on the row's own, new address).
BodyFor = Callable[[str | None], Mapping[str, Any]]


def prospects_in(reply: Reply) -> list[Mapping[str, Any]]:
    """The prospects of a v3/v4 read: one object, or a list when several share the
    address (an AMPSEA account; G35)."""
    body = reply.body if isinstance(reply.body, dict) else {}
    found = body.get("prospect")
    if isinstance(found, dict):
        return [found]
    return [p for p in found if isinstance(p, dict)] if isinstance(found, list) else []


def holds(reply: Reply, email: str) -> bool:
    """Whether the read found a prospect with exactly this address. upsertLatestByEmail
    matches the address as written, so a prospect found under another case (G35) is not
    the one a matchEmail of this spelling reaches; a reply that shows no email at all is
    taken at its word."""
    found = prospects_in(reply)
    emails = [p.get("email") for p in found if isinstance(p.get("email"), str)]
    return bool(found) and (not emails or email in emails)


class RenameSender:
    """Sends the rows that change their prospect's address, each with the reads that keep
    a second attempt from creating a duplicate (see the module docstring)."""

    def __init__(self, endpoints: Endpoints, api_version: ApiVersion, max_attempts: int) -> None:
        self._endpoints = endpoints
        self._api_version = api_version
        self._max_attempts = max(max_attempts, 1)

    def held(self, email: str) -> bool:
        """Whether a live prospect holds this address now (R30: error 4 says none)."""

        def read(version: int) -> bool:
            try:
                reply = self._endpoints.prospect_read_by_email(email, version=version)
            except PardotApiError as exc:
                if exc.code == CODE_INVALID_EMAIL and not isinstance(exc, RetryableError):
                    return False
                raise
            return holds(reply, email)

        return self._api_version.run(read)

    def match_on(self, old: str, new: str) -> str | None:
        """The address this attempt matches on: the old one, or None when an earlier
        attempt already moved the prospect to the new one."""
        if self.held(old):
            return old
        if self.held(new):
            logger.info(
                "A row changing a prospect's email finds the new address in place and the "
                "old one gone (an earlier attempt was applied): it updates that prospect."
            )
            return None
        return old

    def send(self, old: str, new: str, body_for: BodyFor) -> Reply:
        """Send the row once its address is settled; after an ambiguous failure, read
        again and decide again, at most ``max_attempts`` times."""
        attempt = 0
        while True:
            attempt += 1
            match = self.match_on(old, new)
            try:
                # Keyed by the new address the call is an update: safe to repeat.
                return self._endpoints.v5_upsert_latest_by_email(
                    body_for(match), idempotent=match is None
                )
            except RetryableError as exc:
                if not exc.ambiguous:
                    raise
                if attempt >= self._max_attempts:
                    raise RetriesExhausted(
                        f"prospect/upsertLatestByEmail changing an address still failing "
                        f"after {attempt} attempts ({exc}). Pardot may be degraded; re-run "
                        "later, or raise 'maximum_retries'."
                    ) from None
                logger.info(
                    "A call changing a prospect's email may or may not have been applied "
                    "(%s): reading the addresses again before anything is sent again.", exc
                )
