"""Singer BATCH messages (the SDK's extension): the rows of each file of a manifest.

A BATCH message names files (``manifest``) that hold one JSON record per line, plain or
gzip-compressed (``encoding``: ``{"format": "jsonl", "compression": "gzip" | null}``).
The target reads them line by line and loads every record exactly as if it had arrived in
a RECORD message, so validation, rejection and STATE follow the same rules.

A file that cannot be read (missing, not gzip, cut short) stops the run: its rows are
unknown, so they can be neither loaded nor reported. The rows before it are delivered
and their STATE written, as for any other bad input.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any
from urllib.parse import unquote, urlsplit

import fsspec  # a dependency of singer-sdk, which reads batch files with it too
from singer_sdk.singerlib.exceptions import InvalidInputLine

SUPPORTED_FORMAT = "jsonl"
SUPPORTED_COMPRESSIONS = (None, "none", "gzip")
_READ_ERRORS = (OSError, EOFError, zlib.error, ValueError)


class UnreadableBatch(InvalidInputLine):
    """A BATCH message's file cannot be read: the run stops on it, whatever
    skip_invalid_records says (its rows are unknown, so none can be reported)."""


def manifest_files(message: Mapping[str, Any]) -> tuple[bool, list[str]]:
    """(gzip-compressed, file URLs) of a BATCH message; InvalidInputLine if malformed."""
    encoding = message.get("encoding")
    manifest = message.get("manifest")
    if not isinstance(encoding, dict):
        raise InvalidInputLine("the BATCH message has no 'encoding' object")
    if encoding.get("format") != SUPPORTED_FORMAT:
        raise UnreadableBatch(
            f"the BATCH message's format is {str(encoding.get('format'))[:40]!r}; this target "
            "reads 'jsonl' batch files (set the tap's batch_config encoding format to jsonl)"
        )
    compression = encoding.get("compression")
    if compression not in SUPPORTED_COMPRESSIONS:
        raise UnreadableBatch(
            f"the BATCH message's compression is {str(compression)[:40]!r}; this target reads "
            "'gzip' or uncompressed batch files"
        )
    if not isinstance(manifest, list) or not all(isinstance(url, str) for url in manifest):
        raise InvalidInputLine("the BATCH message's 'manifest' is not a list of file names")
    return compression == "gzip", manifest


def local_path(url: str) -> str | None:
    """The local file a manifest entry names (a file:// URL or a plain path), else None."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return unquote(parts.path)
    if parts.scheme == "" or (len(parts.scheme) == 1 and url[1:3] in (":\\", ":/")):
        return url  # a plain path (or a Windows drive letter)
    return None


@contextmanager
def _open(url: str) -> Iterator[IO[bytes]]:
    path = local_path(url)
    if path is not None:
        with open(path, "rb") as file:
            yield file
        return
    # Remote storage, as the SDK's own batch support reads it; only the filesystems
    # installed alongside are available (s3fs, gcsfs, ...).
    with fsspec.open(url, "rb") as file:
        yield file


def batch_lines(url: str, *, compressed: bool) -> Iterator[bytes]:
    """The lines of one batch file; UnreadableBatch if it cannot be read to its end."""
    shown = url if len(url) <= 200 else url[:200] + "..."
    try:
        with _open(url) as raw:
            source: IO[bytes] = (
                gzip.GzipFile(fileobj=raw) if compressed else raw  # type: ignore[assignment]
            )
            yield from source
    except _READ_ERRORS as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise UnreadableBatch(f"cannot read the batch file {shown} ({reason[:200]})") from None
    except ImportError:
        raise UnreadableBatch(
            f"cannot read the batch file {shown}: no filesystem for its scheme is installed"
        ) from None
