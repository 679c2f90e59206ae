"""HTTP plumbing: a threaded HTTP/1.1 keep-alive server on loopback."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
import traceback
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from .app import App
from .request import Headers, Incoming
from .wire import TEXT_TYPE, Reply

LOOPBACK = "127.0.0.1"
TOKEN_PATH = "/services/oauth2/token"
_MAX_LINE = 65536
_MAX_HEADERS = 100

_PHRASES = {s.value: s.phrase for s in HTTPStatus}
_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    global _date_cache  # noqa: PLW0603 - a one-second cache, racing writers are harmless
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


class BodyError(Exception):
    pass


class EmulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PardotEmulator/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections are closed after this
    server: EmulatorServer

    # -- logging: silent unless verbose ------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.app.settings.verbose:
            sys.stderr.write(f"{self.address_string()} - [{self.log_date_time_string()}] "
                             f"{format % args}\n")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.app.settings.verbose:
            super().log_request(code, size)

    # -- request line and headers -------------------------------------------------------
    # BaseHTTPRequestHandler parses headers with the email package, which cost
    # more than a whole 50-row batch; this is a minimal HTTP/1.x header parser.

    def parse_request(self) -> bool:
        self.command = None  # type: ignore[assignment]
        self.request_version = self.default_request_version
        self.close_connection = True
        raw: bytes = getattr(self, "raw_requestline", b"")
        requestline = str(raw, "iso-8859-1").rstrip("\r\n")
        self.requestline = requestline
        words = requestline.split()
        if not words:
            return False
        if len(words) != 3:
            self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request line {requestline!r}")
            return False
        command, target, version = words
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            self.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED)
            return False
        self.command, self.path, self.request_version = command, target, version
        headers = Headers()
        while True:
            line = self.rfile.readline(_MAX_LINE + 1)
            if len(line) > _MAX_LINE:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Header line too long")
                return False
            if line in (b"\r\n", b"\n", b""):
                break
            name, sep, value = line.decode("iso-8859-1").partition(":")
            if not sep or not name.strip():
                self.send_error(HTTPStatus.BAD_REQUEST, "Bad header line")
                return False
            headers.add(name.strip(), value.strip())
            if len(headers) > _MAX_HEADERS:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
                return False
        self.headers = cast(Any, headers)
        conn = (headers.get("Connection") or "").lower()
        if version == "HTTP/1.1":
            self.close_connection = "close" in conn
        else:
            self.close_connection = "keep-alive" not in conn
        return True

    # -- connection tracking (so stop() can close idle keep-alive sockets) -------------

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    # -- methods -------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def _read_body(self, limit: int | None) -> bytes:
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks: list[bytes] = []
            total = 0
            while True:
                line = self.rfile.readline(65537)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BodyError("bad chunk size") from None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if limit is not None and total > limit:
                    raise BodyError("too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        return self.rfile.read(int(length))

    def _handle(self) -> None:
        app = self.server.app
        target = self.path
        path, _, query = target.partition("?")
        raw_len = self.headers.get("Content-Length")
        try:
            content_length = int(raw_len) if raw_len else None
            if content_length is not None and content_length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            self._send(Reply(400, b"Bad Content-Length\n", TEXT_TYPE))
            return
        pre = app.precheck(path, target, content_length)
        if pre is not None:
            self.close_connection = True  # the body is left unread
            self._send(pre)
            return
        expect = (self.headers.get("Expect") or "").lower()
        if expect == "100-continue" and self.request_version == "HTTP/1.1":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # only once 413 is ruled out
        limit = app.settings.max_body_bytes if path.startswith("/api/") else None
        try:
            body = self._read_body(limit)
        except BodyError:
            self.close_connection = True
            self._send(Reply(413, b"Request Entity Too Large\n", TEXT_TYPE))
            return
        req = Incoming(self.command, path, query, cast(Headers, self.headers), body)
        try:
            reply = app.dispatch(req)
        except Exception:  # an emulator bug: say so loudly, never hang the client
            traceback.print_exc(file=sys.stderr)
            reply = Reply(500, b"emulator internal error (see its stderr)\n", TEXT_TYPE,
                          err_code="emulator_bug")
        self._send(reply, counted=path.startswith("/api/") or path == TOKEN_PATH)

    def _send(self, reply: Reply, counted: bool = True) -> None:
        app = self.server.app
        if reply.drop:
            app.counters.status("dropped", None)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if counted:  # control endpoints (/_emulator/...) are not client traffic
            app.counters.status(reply.status, reply.err_code)
        phrase = _PHRASES.get(reply.status, "Unknown")
        head = [f"HTTP/1.1 {reply.status} {phrase}",
                f"Server: {self.server_version}",
                f"Date: {_http_date()}"]
        if reply.status != 204:
            if reply.content_type:
                head.append(f"Content-Type: {reply.content_type}")
            head.append(f"Content-Length: {len(reply.body)}")
        for name, value in reply.headers:
            head.append(f"{name}: {value}")
        if self.close_connection:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if reply.status != 204 and self.command != "HEAD":
            data += reply.body
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True
        self.log_request(reply.status, len(reply.body))


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, app: App, port: int = 0) -> None:
        self.app = app
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__((LOOPBACK, port), EmulatorHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conns_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
            self._conns.clear()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Client resets (e.g. a test closing its socket mid-request) are not errors here.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout)):
            return
        super().handle_error(request, client_address)
