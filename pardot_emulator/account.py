"""What an endpoint handler may use of the emulated account: the store, the lists, the
counters, the clock and the typed settings. ``App`` provides it; handlers are typed
against this protocol, never against ``App``, so no handler module imports app.py."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Protocol

from .faults import Counters
from .list_book import ListBook
from .settings import EmulatorSettings
from .store import Store


class Account(Protocol):
    #: The settings in force: a frozen value, replaced whole by each change.
    settings: EmulatorSettings
    store: Store
    lists: ListBook
    counters: Counters
    #: Where the emulator listens (``http://127.0.0.1:PORT``), for URLs in replies.
    base_url: str

    def now(self) -> datetime:
        """The emulator's present (the frozen time when one is set), as aware UTC."""
        ...

    def zone(self) -> tzinfo:
        """The account's time zone, in which v3/v4 show times."""
        ...

    def add_list(self, list_id: int) -> None:
        """A list created through the API joins the ids that exist."""
        ...
