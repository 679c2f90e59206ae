"""PardotEmulator: the emulator as a Python object for tests and scripts."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from .app import App
from .server import LOOPBACK, EmulatorServer


class PardotEmulator:
    """A real HTTP Pardot + Salesforce OAuth emulator on 127.0.0.1, in a thread.

    >>> with PardotEmulator(latency_ms=0, fault_rate=0.0) as emu:
    ...     emu.url  # doctest: +SKIP
    'http://127.0.0.1:54321'

    Keyword arguments are the emulator settings (see docs/emulator.md or
    ``pardot-emulator --help``); ``port`` picks the port (0 = a free one).
    """

    def __init__(self, port: int = 0, **settings: Any) -> None:
        self.app = App(**settings)
        self._port = port
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> PardotEmulator:
        if self._server is not None:
            return self
        server = EmulatorServer(self.app, self._port)
        self._server = server
        self.app.base_url = f"http://{LOOPBACK}:{server.port}"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="pardot-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> PardotEmulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ identity

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() or use 'with'")
        return self.app.base_url

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return self._server.port

    @property
    def client_id(self) -> str:
        return str(self.app.settings.client_id)

    @property
    def client_secret(self) -> str:
        return str(self.app.settings.client_secret)

    @property
    def refresh_token(self) -> str:
        return str(self.app.settings.refresh_token)

    @property
    def business_unit(self) -> str:
        return str(self.app.settings.business_unit)

    # ------------------------------------------------------------------ inspection

    def prospects(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        return self.app.store.prospect_list(include_deleted)

    def memberships(self) -> list[dict[str, Any]]:
        return self.app.store.members.rows()

    def imports(self) -> list[dict[str, Any]]:
        return self.app.store.import_list()

    def counters(self) -> dict[str, Any]:
        return self.app.counters.snapshot()

    def state(self) -> dict[str, Any]:
        return self.app.state()

    def issued_tokens(self) -> list[str]:
        return self.app.tokens.issued_list()

    # ------------------------------------------------------------------ control

    def add_prospect(self, email: str | None = None, *, deleted: bool = False,
                     last_activity_at: float | None = None, **fields: Any) -> int:
        """Seed a prospect (v4 snake_case names; ``crm_fid`` or ``fid`` for the
        Salesforce id). Returns its id."""
        if "fid" in fields:
            fields["crm_fid"] = fields.pop("fid")
        if email is not None:
            fields["email"] = email
        return self.app.store.add_prospect(fields, deleted=deleted,
                                           last_activity_at=last_activity_at)

    def edit_prospect(self, prospect_id: int, **fields: Any) -> dict[str, Any]:
        """Change a prospect's fields as a Pardot user would (v4 snake_case names)."""
        return self.app.store.edit_prospect(prospect_id, fields)

    def delete_prospect(self, prospect_id: int) -> None:
        """Delete a prospect in Pardot (it moves to the recycle bin)."""
        self.app.store.delete_prospect(prospect_id)

    def add_membership(self, list_id: int, prospect_id: int, opted_out: bool = False) -> int:
        return self.app.store.members.add(list_id, prospect_id, opted_out)

    def add_list(self, name: str, *, dynamic: bool = False) -> int:
        """Seed a list as a Pardot user would make it (``dynamic``: from rules, in the
        UI; the API cannot make one). Returns its id."""
        app = self.app
        record = app.lists.create({"name": name, "title": name, "is_dynamic": dynamic},
                                  app.settings.lists, app.store.stamp())
        app.configure(lists=app.settings.lists | {record["id"]})
        return int(record["id"])

    def lists(self) -> list[dict[str, Any]]:
        """Every list (configured ids and those created), as the v4 list object."""
        return self.app.lists.all(self.app.settings.lists)

    def configure(self, **settings: Any) -> dict[str, Any]:
        return self.app.configure(**settings)

    def reset(self) -> None:
        self.app.reset()

    def new_day(self) -> None:
        """The daily API count starts again (midnight in the account's time zone)."""
        self.app.counters.new_day()
        self.app.configure(others_daily_calls=0)

    def issued_codes(self) -> list[str]:
        """Every authorization code handed out (check none leaks into any output)."""
        return list(self.app.codes.issued)

    def received_assertions(self) -> list[str]:
        """Every JWT bearer assertion a client sent to the token endpoint."""
        return list(self.app.codes.assertions)

    def received_verifiers(self) -> list[str]:
        """Every PKCE code_verifier a client sent to the token endpoint."""
        return list(self.app.codes.verifiers)

    def expire_tokens(self) -> int:
        """Invalidate every access token issued so far (the next call gets 184)."""
        return self.app.tokens.expire_all()
