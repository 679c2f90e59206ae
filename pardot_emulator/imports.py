"""Pardot API v5 Import API: create, add batches, submit, poll, download errors.

Follows Pardot's published server code for v5 imports (ImportSaveManager,
ImportColumnHelper; see docs/wire-contract.md): parts ``input`` and ``file`` only;
``status`` (never ``state``); v5 column names; one match column at most; refused
columns; ``email`` and ``campaignId`` whenever rows may be created; ``addToList`` and
``removeFromList``; 413 for a batch over 10 MB, 429 for an 11th batch; reads answer
only the requested ``fields``; the errors endpoint redirects to the error file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from . import customfields
from .fields import (
    V5_TO_STORE,
)
from .import_processing import MATCH_COLUMNS, process_import
from .records import ImportJob, OpError, iso_now
from .v5 import V5Error, error
from .wire import CSV_TYPE, TEXT_TYPE, MultipartError, Part, Reply, parse_multipart

if TYPE_CHECKING:
    from .account import Account
    from .request import Incoming

JSON_PART_NAME = "input"
FILE_PART_NAME = "file"
MAX_BATCH_BYTES = 10 * 1024 * 1024
MAX_BATCHES_PER_IMPORT = 10
LIST_COLUMNS = ("addtolist", "removefromlist")
#: Columns Pardot refuses in an import (its INVALID_IMPORT_FIELDS, by their v5 names).
REFUSED_COLUMNS = frozenset({
    "id", "unsubscribe", "subscribe", "optedout", "pardothardbounced",
    "emailbouncedreason", "emailbounceddate", "lastscoredat",
})
INPUT_KEYS = frozenset(
    {"operation", "object", "createOnNoMatch", "restoreDeleted", "status", "fields"}
)
#: Fields a read of an import may ask for.
IMPORT_FIELDS = ("id", "status", "isExpired", "createdCount", "updatedCount", "errorCount",
                 "errorsRef", "batchesRef", "createdAt", "updatedAt")
ERROR_FILE_PREFIX = "import-errors/"
#: The error file's message column (Pardot's own name is not published).
ERROR_COLUMN = "error"


def _parts(req: Incoming) -> list[Part]:
    ctype = req.content_type.split(";", 1)[0].strip().lower()
    if ctype != "multipart/form-data":
        raise V5Error(400, 151, "Unsupported content-type")
    try:
        return parse_multipart(req.body, req.content_type)
    except MultipartError:
        raise V5Error(400, 158, "Uploading a file was unsuccessful") from None


def _file_parts(parts: list[Part]) -> list[Part]:
    files = [p for p in parts if p.name == FILE_PART_NAME]
    if len(files) > 1:
        raise V5Error(400, 163, "Too many files were specified or uploaded")
    return files


def _fields(req: Incoming, *, default: tuple[str, ...] | None) -> tuple[str, ...]:
    """The ``fields`` query parameter: required on reads (default None)."""
    raw = dict(parse_qsl(req.query, keep_blank_values=True)).get("fields", "")
    names = tuple(f.strip() for f in raw.split(",") if f.strip())
    if not names:
        if default is None:
            raise V5Error(400, 153, "Missing required property in request: fields")
        return default
    bad = [f for f in names if f not in IMPORT_FIELDS]
    if bad:
        raise V5Error(400, 154, "Invalid property in request: fields: " + ", ".join(bad))
    return names


def _view(app: Account, job: ImportJob, names: tuple[str, ...]) -> dict[str, Any]:
    full = job.public()
    full["errorsRef"] = (f"{app.base_url}/api/v5/imports/{job.id}/errors"
                         if job.state == "Complete" and job.error_count else None)
    full["batchesRef"] = (f"{app.base_url}/api/v5/imports/{job.id}/batches"
                          if job.state == "Open" else None)
    return {name: full.get(name) for name in names}


# --------------------------------------------------------------------------- CSV

def _column_problem(app: Account, name: str) -> str | None:
    lowered = name.lower()
    if lowered in MATCH_COLUMNS or lowered in LIST_COLUMNS:
        return None
    if lowered in REFUSED_COLUMNS:
        return f"{name!r} cannot be imported"
    if name.endswith(customfields.V5_SUFFIX):
        if customfields.store_key_v5(app, name) is None:
            return f"{name!r} is not a custom field of this account"
        return None
    if "_" in name or name not in V5_TO_STORE:
        return f"{name!r} is not a v5 prospect field"
    return None


def check_header(app: Account, header: list[str], create_on_no_match: bool) -> None:
    """Pardot's header checks for a v5 import batch (400 on any failure)."""
    seen: set[str] = set()
    for name in header:
        if name.lower() in seen:
            raise V5Error(400, 159, "CSV header contains the same field multiple times: "
                          + name)
        seen.add(name.lower())
    bad = [problem for name in header if (problem := _column_problem(app, name))]
    if bad:
        raise V5Error(400, 159, "CSV header contains invalid fields: " + "; ".join(bad))
    matches = [name for name in header if name.lower() in MATCH_COLUMNS]
    if len(matches) > 1:
        raise V5Error(400, 159, "Only one of 'matchId', 'matchEmail', and "
                                "'matchSalesforceId' may appear in import column headers.")
    if create_on_no_match or not matches:
        missing = [f"'{n}' column" for n in ("email", "campaignId") if n not in header]
        if missing:
            raise V5Error(400, 153, "Missing required parameters: " + ", ".join(missing))


def parse_csv(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of one batch file. Raises V5Error 413 / 159."""
    if len(data) > MAX_BATCH_BYTES:
        raise V5Error(413, 204, "Limit of 10MB exceeded")
    if not data.strip():
        raise V5Error(400, 159, "The file is empty or contains no data")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise V5Error(400, 159, "The file is not in a valid CSV format: "
                                     "it is not UTF-8") from None
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise V5Error(400, 159, f"The file is not in a valid CSV format: {exc}") from None
    header = [h.strip() for h in records[0]]
    rows: list[dict[str, str]] = []
    for lineno, rec in enumerate(records[1:], start=2):
        if not rec:
            continue  # blank line
        if len(rec) != len(header):
            raise V5Error(400, 159, f"The file is not in a valid CSV format: line {lineno} "
                                         f"has {len(rec)} cells, the header has {len(header)}")
        rows.append(dict(zip(header, rec, strict=True)))
    if not rows:
        raise V5Error(400, 159, "The file is empty or contains no data")
    return header, rows


def _add_batch(app: Account, job: ImportJob, part: Part) -> None:
    """Validate and attach one CSV batch (caller holds the store lock)."""
    if job.state != "Open":
        raise V5Error(400, 161, f"Current status is {job.state}")
    if len(job.batches) >= MAX_BATCHES_PER_IMPORT:
        raise V5Error(429, 160, "Over batch per import limits (Currently set to "
                                f"{MAX_BATCHES_PER_IMPORT})")
    if app.store.import_batches_total >= app.settings.import_daily_batch_limit:
        raise V5Error(400, 164, "Daily limit of import batches has been reached")
    header, rows = parse_csv(part.data)
    check_header(app, header, job.create_on_no_match)
    if job.header is not None and header != job.header:
        raise V5Error(400, 159, "Header row for file didn't match initial file")
    job.header = header
    job.batches.append(rows)
    job.updated_at = iso_now()
    app.store.import_batches_total += 1


def _bool_prop(data: dict[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise V5Error(400, 154, f"Invalid property in request: {name} must be a boolean")
    return value


# --------------------------------------------------------------------------- handlers

def imports_collection(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    try:
        names = _fields(req, default=("id",))
        parts = _parts(req)
        inputs = [p for p in parts if p.name == JSON_PART_NAME]
        if not inputs:
            raise V5Error(400, 153, "Missing required property in request: input")
        try:
            data = json.loads(inputs[0].data)
        except ValueError:
            raise V5Error(400, 150, "Input needs to be valid JSON") from None
        if not isinstance(data, dict):
            raise V5Error(400, 150, "Input needs to be valid JSON")
        unknown = sorted(set(data) - INPUT_KEYS)
        if unknown:
            raise V5Error(400, 154, f"Invalid property in request: {unknown[0]}")
        if data.get("operation") != "Upsert":
            raise V5Error(400, 154, "Invalid property in request: operation must be "
                                         "'Upsert'")
        if data.get("object") != "Prospect":
            raise V5Error(400, 154, "Invalid property in request: object must be "
                                         "'Prospect'")
        # Pardot reads createOnNoMatch as false unless it is set.
        create = _bool_prop(data, "createOnNoMatch", False)
        restore = _bool_prop(data, "restoreDeleted", False)
        status = data.get("status", "Open")
        if status not in ("Open", "Ready"):
            raise V5Error(400, 154, "Requested state must be open or ready")
        files = _file_parts(parts)
        if status == "Ready" and not files:
            raise V5Error(400, 156, "Can't start processing. Import has no associated data.")
        job = ImportJob(0, "Upsert", "Prospect", create, restore)
        job.null_overwrite = _null_overwrite_columns(data.get("fields"))
        with app.store.lock:
            if files:
                _add_batch(app, job, files[0])
            if status == "Ready":
                _set_ready(app, job)
            app.store.register_import_locked(job)  # only once everything is valid
            body = _view(app, job, names)
        return Reply.json(201, body)
    except V5Error as exc:
        return error(exc.status, exc.code, exc.message)


def _null_overwrite_columns(options: Any) -> frozenset[str]:
    """Per-field options (`fields`: {"<v5 name>": {"overwrite": bool, "nullOverwrite":
    bool}}): the columns, lowercased, whose empty or blank cells clear the field.
    nullOverwrite defaults to false in v5 (server: ImportSaveManager
    DEFAULT_NULL_OVERWRITE, sanitizeFieldOptions)."""
    if options is None:
        return frozenset()
    if not isinstance(options, dict):
        raise V5Error(400, 154, "Invalid property in request: fields")
    clearing = set()
    for name, option in options.items():
        if not name or not isinstance(option, dict):
            raise V5Error(400, 153, "Each column option must include a field name")
        flag = option.get("nullOverwrite", False)
        if not isinstance(flag, bool):
            raise V5Error(400, 154, "Invalid property in request: nullOverwrite")
        if flag:
            clearing.add(str(name).lower())
    return frozenset(clearing)


def _get_job(app: Account, import_id: int) -> ImportJob:
    try:
        return app.store.import_get(import_id)
    except OpError:
        raise V5Error(404, 192, "Object specified does not exist") from None


def import_batches(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    try:
        parts = _parts(req)
        files = _file_parts(parts)
        if not files:
            raise V5Error(400, 162, "No file was specified or uploaded")
        with app.store.lock:
            job = _get_job(app, int(m.group(1)))
            _add_batch(app, job, files[0])
        return Reply(204, b"", TEXT_TYPE)
    except V5Error as exc:
        return error(exc.status, exc.code, exc.message)


def _set_ready(app: Account, job: ImportJob) -> None:
    if job.state != "Open":
        raise V5Error(400, 155, 'Can\'t update. Import must be in "Open" state.')
    if not job.batches:
        raise V5Error(400, 156, "Can't start processing. Import has no associated data.")
    job.state = "Waiting"
    job.polls_left = app.settings.import_processing_polls
    job.updated_at = iso_now()


def import_item(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    import_id = int(m.group(1))
    try:
        if req.method == "GET":
            return Reply.json(200, poll(app, import_id, _fields(req, default=None)))
        names = _fields(req, default=())
        ctype = req.content_type.split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            raise V5Error(400, 151, "Unsupported content-type")
        try:
            data = json.loads(req.body or b"null")
        except ValueError:
            raise V5Error(400, 150, "Input needs to be valid JSON") from None
        if not isinstance(data, dict):
            raise V5Error(400, 150, "Input needs to be valid JSON")
        unknown = sorted(set(data) - {"status"})
        if unknown:  # `state` is the v4 Import API's word; v5 sets only `status`
            raise V5Error(400, 154, f"Invalid property in request: {unknown[0]}. Only "
                                    "status can be set")
        if "status" not in data:
            raise V5Error(400, 153, "Missing required property in request: status")
        with app.store.lock:
            job = _get_job(app, import_id)
            if data["status"] != "Ready":
                raise V5Error(400, 154, 'Requested state must be "Ready"')
            _set_ready(app, job)
            body = _view(app, job, names)
        if not names:  # v5: an update with no `fields` answers 204, no body
            return Reply(204, b"", TEXT_TYPE)
        return Reply.json(200, body)
    except V5Error as exc:
        return error(exc.status, exc.code, exc.message)


def poll(app: Account, import_id: int, names: tuple[str, ...] = IMPORT_FIELDS) -> dict[str, Any]:
    """One status poll: a submitted import shows Processing for N polls, then completes."""
    with app.store.lock:
        job = _get_job(app, import_id)
        if job.state in ("Waiting", "Processing"):
            if job.polls_left > 0:
                job.polls_left -= 1
                job.state = "Processing"
            else:
                process_import(app, job)
        return _view(app, job, names)


def import_errors(app: Account, req: Incoming, m: re.Match[str]) -> Reply:
    """Pardot answers with a redirect to the error file (its doDownloadErrors)."""
    try:
        with app.store.lock:
            job = _get_job(app, int(m.group(1)))
            if job.state != "Complete":
                raise V5Error(400, 161, "Import is not finished processing")
        location = f"{app.base_url}/_emulator/{ERROR_FILE_PREFIX}{job.id}.csv"
        return Reply(302, b"", TEXT_TYPE, headers=[("Location", location)])
    except V5Error as exc:
        return error(exc.status, exc.code, exc.message)


def error_file(app: Account, name: str) -> Reply:
    """The error file of a completed import: its v5 header, plus the error column."""
    found = re.fullmatch(r"(\d+)\.csv", name)
    with app.store.lock:
        try:
            job = app.store.import_get(int(found.group(1))) if found else None
        except OpError:
            job = None
        if job is None or job.state != "Complete":
            return Reply(404, b"Not Found\n", TEXT_TYPE)
        header = list(job.header or [])
        errors = list(job.errors)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*header, ERROR_COLUMN])
    for row, message in errors:
        writer.writerow([*(row.get(h, "") for h in header), message])
    return Reply(200, out.getvalue().encode("utf-8"), CSV_TYPE)
