"""The parsed incoming request handed to the handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .wire import MultipartError, Params, parse_params


class HeaderLookup(Protocol):
    def get(self, name: str, default: str | None = None) -> str | None: ...


class Headers:
    """Case-insensitive request headers (a repeated header's values are joined)."""

    __slots__ = ("_items",)

    def __init__(self, items: dict[str, str] | None = None) -> None:
        self._items: dict[str, str] = {}
        for name, value in (items or {}).items():
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        key = name.lower()
        if key in self._items:
            self._items[key] = f"{self._items[key]}, {value}"
        else:
            self._items[key] = value

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._items.get(name.lower(), default)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def items(self) -> list[tuple[str, str]]:
        return list(self._items.items())


@dataclass
class Incoming:
    method: str
    path: str
    query: str
    headers: HeaderLookup
    body: bytes
    _params: Params | None = field(default=None, repr=False)
    _params_error: str | None = field(default=None, repr=False)

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "") or ""

    def params(self) -> Params:
        """Query-string and form-body parameters (parsed once). A broken
        multipart body yields the query parameters only; see params_error."""
        if self._params is None:
            try:
                self._params = parse_params(self.query, self.body, self.content_type)
            except MultipartError as exc:
                self._params_error = str(exc)
                self._params = parse_params(self.query, b"", "")
        return self._params

    @property
    def params_error(self) -> str | None:
        self.params()
        return self._params_error

    def wants_json(self) -> bool:
        """v4 answers JSON only with format=json (query string or form body)."""
        fmt = self.params().get("format")
        return fmt is not None and fmt.lower() == "json"
