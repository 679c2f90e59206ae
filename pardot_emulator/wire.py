"""Wire formats: replies, Pardot envelopes, form and multipart parsing.

Everything here is pure (no server state), so the handlers stay small.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus
from xml.sax.saxutils import escape, quoteattr

#: Exactly what Pardot sends (recorded traffic); pypardot parses only this exact value.
JSON_TYPE = "application/json"
XML_TYPE = "text/xml; charset=utf-8"
CSV_TYPE = "text/csv; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"


def dumps(obj: Any) -> bytes:
    """Compact JSON, as Pardot and Salesforce send it: no spaces after separators."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass
class Reply:
    """One HTTP answer, or an instruction to drop the connection without one."""

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False
    # Pardot error code carried by this reply (for the errors_by_code counter).
    err_code: int | str | None = None

    @classmethod
    def json(cls, status: int, obj: Any, err_code: int | str | None = None) -> Reply:
        return cls(status, dumps(obj), JSON_TYPE, err_code=err_code)

    @classmethod
    def dropped(cls) -> Reply:
        return cls(0, drop=True)


# --------------------------------------------------------------------------- envelopes


def v4_error_body(code: int, message: str) -> dict[str, Any]:
    return {"@attributes": {"stat": "fail", "version": 1, "err_code": code}, "err": message}


def v4_ok_body(**payload: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"@attributes": {"stat": "ok", "version": 1}}
    body.update(payload)
    return body


def v5_error_body(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def _xml_value(name: str, value: Any, indent: str) -> str:
    if isinstance(value, dict):
        inner = "".join(_xml_value(k, v, indent + "   ") for k, v in value.items())
        return f"{indent}<{name}>\n{inner}{indent}</{name}>\n" if inner else f"{indent}<{name}/>\n"
    if value is None:
        return f"{indent}<{name}/>\n"
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"{indent}<{name}>{escape(str(value))}</{name}>\n"


def v4_xml(body: dict[str, Any]) -> bytes:
    """Render a v4 JSON-style body the way Pardot answers without format=json (XML).

    Only used when a client forgets ``format=json``: the point is that a JSON
    parser on the client side fails loudly, as it would against Pardot.
    """
    attrs = body.get("@attributes", {})
    stat = attrs.get("stat", "ok")
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', f'<rsp stat="{stat}" version="1.0">\n']
    if "err" in body:
        out.append(
            f"   <err code={quoteattr(str(attrs.get('err_code')))}>"
            f"{escape(str(body['err']))}</err>\n"
        )
    for key, value in body.items():
        if key in ("@attributes", "err"):
            continue
        if key == "errors" and isinstance(value, dict):
            if not value:
                out.append("   <errors/>\n")
            else:
                out.append("   <errors>\n")
                for idx, msg in value.items():
                    out.append(
                        f"      <error identifier={quoteattr(str(idx))}>"
                        f"{escape(str(msg))}</error>\n"
                    )
                out.append("   </errors>\n")
            continue
        out.append(_xml_value(key, value, "   "))
    out.append("</rsp>\n")
    return "".join(out).encode("utf-8")


def auth_xml(code: int, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rsp stat="fail" version="1.0">\n'
        f'   <err code="{code}">{escape(message)}</err>\n'
        "</rsp>\n"
    ).encode()


# --------------------------------------------------------------------------- bodies


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


_PARAM_RE = re.compile(r';\s*([A-Za-z0-9_.*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def header_params(value: str) -> tuple[str, dict[str, str]]:
    """Split ``type/sub; a=b; c="d"`` into the main value and its parameters."""
    main, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for m in _PARAM_RE.finditer(";" + rest):
        v = m.group(2).strip()
        if len(v) >= 2 and v[0] == v[-1] == '"':
            v = v[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        params[m.group(1).lower()] = v
    return main.strip().lower(), params


class MultipartError(ValueError):
    pass


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """Parse a multipart/form-data body (RFC 7578) without the cgi module."""
    _, params = header_params(content_type)
    boundary = params.get("boundary")
    if not boundary:
        raise MultipartError("multipart body without a boundary")
    delim = b"--" + boundary.encode("latin-1")
    chunks = body.split(delim)
    if len(chunks) < 3:
        raise MultipartError("multipart body without parts")
    parts: list[Part] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # closing delimiter
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        elif chunk.startswith(b"\n"):
            chunk = chunk[1:]
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            head, sep, data = chunk.partition(b"\n\n")
            if not sep:
                raise MultipartError("multipart part without a header block")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        elif data.endswith(b"\n"):
            data = data[:-1]
        name = None
        filename = None
        ctype = None
        for line in head.decode("utf-8", "replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key == "content-disposition":
                _, dparams = header_params(value)
                name = dparams.get("name")
                filename = dparams.get("filename")
            elif key == "content-type":
                ctype = value.strip()
        if name is None:
            raise MultipartError("multipart part without a name")
        parts.append(Part(name, filename, ctype, data))
    return parts


def unquote_form(raw: bytes) -> str:
    """``application/x-www-form-urlencoded`` value decoding (``+`` and ``%XX``).

    urllib's unquote is pure Python and dominated the cost of a 50-row batch;
    this hands the %XX escapes to the C-level escape decoder instead, and falls
    back to urllib for malformed escapes."""
    raw = raw.replace(b"+", b" ")
    if b"%" not in raw:
        return raw.decode("utf-8", "replace")
    try:
        decoded = codecs.escape_decode(raw.replace(b"\\", b"\\\\").replace(b"%", b"\\x"))[0]
    except ValueError:
        return unquote_plus(raw.decode("latin-1"), encoding="utf-8", errors="replace")
    return decoded.decode("utf-8", "replace")


def parse_form(raw: str | bytes) -> dict[str, str]:
    """Urlencoded pairs to a dict (the last value of a repeated key wins)."""
    data = raw.encode("latin-1", "replace") if isinstance(raw, str) else raw
    out: dict[str, str] = {}
    for pair in data.split(b"&"):
        if not pair:
            continue
        key, _, value = pair.partition(b"=")
        out[unquote_form(key)] = unquote_form(value)
    return out


@dataclass
class Params:
    """Request parameters the way Pardot v4 merges them: query string + form body."""

    query: dict[str, str]
    form: dict[str, str]
    parts: list[Part]

    def get(self, name: str) -> str | None:
        if name in self.form:
            return self.form[name]
        return self.query.get(name)

    def names(self) -> set[str]:
        return set(self.query) | set(self.form)

    def merged(self) -> dict[str, str]:
        out = dict(self.query)
        out.update(self.form)
        return out


def parse_params(query: str, body: bytes, content_type: str) -> Params:
    """Collect form-style parameters from the query string and an urlencoded or
    multipart body. Raises MultipartError for a broken multipart body."""
    q = parse_form(query) if query else {}
    form: dict[str, str] = {}
    parts: list[Part] = []
    ctype = content_type.split(";", 1)[0].strip().lower()
    if body:
        if ctype == "multipart/form-data":
            parts = parse_multipart(body, content_type)
            for p in parts:
                if p.filename is None or p.name == "prospects":
                    form[p.name] = p.data.decode("utf-8", "replace")
        elif ctype in ("application/x-www-form-urlencoded", ""):
            form = parse_form(body)
    return Params(q, form, parts)
