"""The account's lists, as far as this run needs them: names to ids, and which lists the
API may change.

* **Names.** The first name a run meets reads every list once (v5 list query,
  ``fields=id,name,isDynamic``, pages of 1,000 by ascending id). A name that matches no
  list is created once (v5 list create) unless ``create_missing_lists`` is false; a name
  that matches several stops the stream that uses it, naming their ids. List names are
  not unique in Pardot, so the target never guesses between them.
* **Never two lists with one name.** One lock covers the read and the create, so two
  streams naming the same new list create it once. The create is not replayed: if its
  reply is lost, the lists are read again, and if the new list does not show yet (v5
  reads may lag a write by up to 60 s [doc]) the stream stops and asks for a rerun, which
  finds the list instead of creating a second one.
* **Dynamic lists.** Their members come from rules; neither a user nor the API can add or
  remove one [doc], and Pardot publishes no error code for the attempt. Every list a stream
  writes to is checked before the stream's first write (one read per list id the run has
  not seen in a list query), and a dynamic one stops the stream.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from target_pardot.errors import EXIT_FAILURE, PardotApiError, RetryableError, TargetPardotError
from target_pardot.rows.audiences import ListRef, name_key
from target_pardot.run.stats import RunStats

logger = logging.getLogger("target-pardot")

#: Lists per query page: the v5 maximum [doc].
PAGE = 1000
#: Up to this many lists not seen yet are read one by one; more read every list (one
#: call per 1,000 lists, and a second when the last page is full).
READ_ONE_AT_MOST = 2


class StreamStopped(TargetPardotError):
    """A stream cannot be written as asked (a dynamic list, a list name that matches
    several lists): nothing of it is written, and the run ends with exit code 1."""

    exit_code = EXIT_FAILURE


class NoSuchList(Exception):
    """A list name that matches no list, with create_missing_lists false: the row is
    rejected (reason ``no_such_list``)."""


@dataclass(frozen=True)
class ListInfo:
    list_id: int
    name: str | None
    dynamic: bool


def list_info(value: Any) -> ListInfo | None:
    """One list of a v5 reply (``id``, ``name``, ``isDynamic``), or None if unusable."""
    if not isinstance(value, Mapping):
        return None
    list_id = value.get("id")
    if not isinstance(list_id, int) or isinstance(list_id, bool):
        return None
    name = value.get("name")
    return ListInfo(list_id, name if isinstance(name, str) else None,
                    value.get("isDynamic") is True)


def v4_list_ids(body: Any) -> list[int]:
    """The ids of a v3/v4 list query reply: ``result.list`` is one object, or an array
    when several match, or absent when none does."""
    result = body.get("result") if isinstance(body, Mapping) else None
    found = result.get("list") if isinstance(result, Mapping) else None
    items = found if isinstance(found, list) else [found]
    ids = []
    for item in items:
        value = item.get("id") if isinstance(item, Mapping) else None
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            ids.append(value)
    return ids


class ListDirectory:
    """Names and kinds of the account's lists. Thread-safe; one per run."""

    def __init__(self, client: Any, stats: RunStats, *, create_missing: bool,
                 dry_run: bool, offline: bool) -> None:  # fmt: skip
        self._client = client
        self._stats = stats
        self._create_missing = create_missing
        self._dry_run = dry_run
        self._offline = offline
        self._lock = threading.Lock()
        self._by_id: dict[int, ListInfo] = {}
        self._by_name: dict[str, list[int]] | None = None
        #: Dry run: names that would be created, with the placeholder id (negative).
        self._would_create: dict[str, int] = {}

    # -- names ------------------------------------------------------------------------

    def resolve(self, ref: ListRef, stream: str, *, create: bool = True) -> int:
        """The list id a reference names; creates a missing list once (unless ``create``
        is false: a stream that only deletes memberships never makes a list). Raises
        StreamStopped (several lists have the name, or a lost create reply) or NoSuchList."""
        if ref.list_id is not None:
            return ref.list_id
        name = str(ref.name)
        key = name_key(name)
        with self._lock:
            if key in self._would_create:
                return self._would_create[key]
            if self._offline:
                return self._placeholder(key, name, "lists are not read offline")
            ids = self._names().get(key, [])
            if len(ids) > 1:
                raise StreamStopped(
                    f"Stream '{stream}': the list name {name!r} matches {len(ids)} lists "
                    f"(ids {', '.join(map(str, sorted(ids)))}); nothing of the stream was "
                    "written. Rename all but one in Pardot, or give the rows a 'list_id'."
                )
            if ids:
                return ids[0]
            if not self._create_missing or not create:
                why = "create_missing_lists is false" if create else "the stream only deletes"
                raise NoSuchList(f"no list is named {name!r}, and {why}")
            if self._dry_run:
                return self._placeholder(key, name, "no list has this name")
            return self._create(name, key, stream)

    def _placeholder(self, key: str, name: str, why: str) -> int:
        placeholder = -(len(self._would_create) + 1)
        self._would_create[key] = placeholder
        self._stats.plan("v5/lists/create", 1)
        if not self._offline:
            self._stats.add("lists_created")  # the dry run's summary: "would create"
        logger.info("Dry run: %s; would create the list %r (shown as list %d).",
                    why, name, placeholder)
        return placeholder

    def _names(self) -> dict[str, list[int]]:
        if self._by_name is None:
            self._read_all()
        assert self._by_name is not None
        return self._by_name

    def _read_all(self) -> None:
        by_name: dict[str, list[int]] = {}
        after = 0
        while True:
            params = {"fields": "id,name,isDynamic", "orderBy": "id", "limit": str(PAGE)}
            if after:
                params["idGreaterThan"] = str(after)
            reply = self._client.endpoints.v5_lists(params)
            values = reply.body.get("values") if isinstance(reply.body, dict) else None
            found = [info for info in map(list_info, values or []) if info is not None]
            for info in found:
                self._by_id[info.list_id] = info
                if info.name is not None:
                    by_name.setdefault(name_key(info.name), []).append(info.list_id)
            if len(values or []) < PAGE or not found:
                break
            after = max(info.list_id for info in found)
        self._by_name = by_name

    def _create(self, name: str, key: str, stream: str) -> int:
        found = self._named_in_v4(name)
        if len(found) > 1:
            raise StreamStopped(
                f"Stream '{stream}': the list name {name!r} matches {len(found)} lists (ids "
                f"{', '.join(map(str, sorted(found)))}); nothing of the stream was written. "
                "Rename all but one in Pardot, or give the rows a 'list_id'."
            )
        if found:  # made a moment ago: v5's list query did not show it yet
            assert self._by_name is not None
            self._by_name.setdefault(key, []).append(found[0])
            return found[0]
        try:
            reply = self._client.endpoints.v5_list_create(name)
        except RetryableError as exc:
            if not exc.ambiguous:
                raise
            self._by_name = None
            ids = self._names().get(key, [])
            if len(ids) == 1:
                return ids[0]
            raise StreamStopped(
                f"Stream '{stream}': Pardot may have created the list {name!r}, but its reply "
                f"was lost ({exc}) and the list does not show yet; nothing of the stream was "
                "written. Run again in a minute: the run will find the list, not create a "
                "second one."
            ) from None
        info = list_info(reply.body)
        if info is None:
            raise PardotApiError(f"Pardot's reply to creating the list {name!r} has no id")
        self._by_id[info.list_id] = info
        assert self._by_name is not None
        self._by_name.setdefault(key, []).append(info.list_id)
        self._stats.add("lists_created")
        logger.info("Created the list %r (id %d), which no list had as its name.",
                    name, info.list_id)
        return info.list_id

    def _named_in_v4(self, name: str) -> list[int]:
        """Lists with exactly this name, by the v3/v4 list query, which is not served from
        v5's cache: the last guard against a second list when a rerun follows a create
        within the minute v5 reads may lag (docs/wire-contract.md R25)."""
        try:
            reply = self._client.api_version.run(
                lambda version: self._client.endpoints.list_query_by_name(name, version=version)
            )
        except PardotApiError as exc:
            if isinstance(exc, RetryableError):
                raise
            logger.info("Could not query lists named %r by v3/v4 (%s).", name, exc)
            return []
        return v4_list_ids(reply.body)

    # -- kinds ------------------------------------------------------------------------

    def check_writable(self, list_ids: Iterable[int], stream: str) -> None:
        """Raise StreamStopped if one of these lists is dynamic (read once per list)."""
        if self._offline:
            return
        with self._lock:
            wanted = sorted(i for i in set(list_ids) if i > 0)  # <= 0: a dry run's new list
            unseen = [i for i in wanted if i not in self._by_id]
            if len(unseen) > READ_ONE_AT_MOST and self._by_name is None:
                self._read_all()  # one call per 1,000 lists instead of one per list
            for list_id in wanted:
                info = self._by_id.get(list_id) or self._read_one(list_id)
                if info is not None and info.dynamic:
                    shown = f"{info.name!r} (id {list_id})" if info.name else f"{list_id}"
                    raise StreamStopped(
                        f"Stream '{stream}' writes to the dynamic list {shown}, whose "
                        "members come from its rules: neither the API nor a user can add or "
                        "remove one. Nothing of the stream was written. Use a static list."
                    )

    def _read_one(self, list_id: int) -> ListInfo | None:
        try:
            reply = self._client.endpoints.v5_list_read(list_id)
        except PardotApiError as exc:
            if isinstance(exc, RetryableError):
                raise
            # An unknown list is refused by the writes themselves (error 55, row by row);
            # a read the user may not make (no Lists > View ability) must not stop a load
            # that worked before this check existed.
            logger.info("Could not read list %d before writing to it (%s).", list_id, exc)
            info = ListInfo(list_id, None, False)
        else:
            info = list_info(reply.body) or ListInfo(list_id, None, False)
        self._by_id[list_id] = info
        return info
