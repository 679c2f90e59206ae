"""Pardot API v5 Import API: create, add batches, set Ready, poll, download errors.

Multipart part names (the emulator's choice, documented in docs/emulator.md):
the JSON part is ``input`` (``importInput`` also accepted, the v4 name) and
the CSV part is ``file`` (``importFile`` and ``files`` also accepted). A CSV
part is recognised by those names only; any other part name is ignored, so a
request whose file is under another name fails with 162.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import TYPE_CHECKING, Any

from .fields import (
    V5_TO_STORE,
    FieldValueError,
    coerce_int,
    csv_value,
    is_custom,
    valid_email,
)
from .store import ImportJob, OpError, iso_now
from .v5 import V5Error, error
from .wire import CSV_TYPE, MultipartError, Part, Reply, parse_multipart

if TYPE_CHECKING:
    from .app import App
    from .request import Incoming

JSON_PART_NAMES = ("input", "importInput")
FILE_PART_NAMES = ("file", "importFile", "files")
MAX_BATCH_BYTES = 10 * 1024 * 1024
MAX_BATCHES_PER_IMPORT = 10
MATCH_COLUMNS = ("matchId", "matchSalesforceId", "matchEmail")
INPUT_KEYS = frozenset({"operation", "object", "createOnNoMatch", "restoreDeleted", "state"})


def _parts(req: Incoming) -> list[Part]:
    ctype = req.content_type.split(";", 1)[0].strip().lower()
    if ctype != "multipart/form-data":
        raise V5Error(400, 151, "Unsupported content-type")
    try:
        return parse_multipart(req.body, req.content_type)
    except MultipartError:
        raise V5Error(400, 158, "Uploading a file was unsuccessful") from None


def _file_parts(parts: list[Part]) -> list[Part]:
    files = [p for p in parts if p.name in FILE_PART_NAMES]
    if len(files) > 1:
        raise V5Error(400, 163, "Too many files were specified or uploaded")
    return files


# --------------------------------------------------------------------------- CSV

def _valid_column(name: str) -> bool:
    return name in V5_TO_STORE or name in MATCH_COLUMNS or is_custom(name)


def parse_csv(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of one batch file. Raises V5Error 159 / 204."""
    if len(data) > MAX_BATCH_BYTES:
        raise V5Error(400, 204, "File size exceeds the max post size or the body "
                                     "message can't be empty")
    if not data.strip():
        raise V5Error(400, 159, "The file is not in a valid CSV format: the file is empty")
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
    bad = [h for h in header if not _valid_column(h)]
    if bad:
        raise V5Error(400, 159, "The file is not in a valid CSV format: unknown column(s) "
                           + ", ".join(repr(b) for b in bad))
    if len(set(header)) != len(header):
        raise V5Error(400, 159, "The file is not in a valid CSV format: duplicate columns")
    rows: list[dict[str, str]] = []
    for lineno, rec in enumerate(records[1:], start=2):
        if not rec:
            continue  # blank line
        if len(rec) != len(header):
            raise V5Error(400, 159, f"The file is not in a valid CSV format: line {lineno} "
                                         f"has {len(rec)} cells, the header has {len(header)}")
        rows.append(dict(zip(header, rec, strict=True)))
    return header, rows


def _add_batch(app: App, job: ImportJob, part: Part) -> None:
    """Validate and attach one CSV batch (caller holds the store lock)."""
    if job.state != "Open":
        raise V5Error(400, 161, "The current state of the import does not allow the "
                                     "operation")
    if len(job.batches) >= MAX_BATCHES_PER_IMPORT:
        raise V5Error(400, 160, "The limit of batches per import has been reached")
    if app.store.import_batches_total >= app.settings["import_daily_batch_limit"]:
        raise V5Error(400, 164, "Daily limit of import batches has been reached")
    header, rows = parse_csv(part.data)
    if job.header is not None and header != job.header:
        raise V5Error(400, 159, "The file is not in a valid CSV format: every batch must "
                                     "have the same columns in the same order")
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

def imports_collection(app: App, req: Incoming, m: re.Match[str]) -> Reply:
    try:
        parts = _parts(req)
        inputs = [p for p in parts if p.name in JSON_PART_NAMES]
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
        create = _bool_prop(data, "createOnNoMatch", True)
        restore = _bool_prop(data, "restoreDeleted", False)
        state = data.get("state", "Open")
        if state not in ("Open", "Ready"):
            raise V5Error(400, 154, "Invalid property in request: state")
        files = _file_parts(parts)
        if state == "Ready" and not files:
            raise V5Error(400, 156, "Can't start processing. Import has no associated data.")
        job = ImportJob(0, "Upsert", "Prospect", create, restore)
        with app.store.lock:
            if files:
                _add_batch(app, job, files[0])
            if state == "Ready":
                _set_ready(app, job)
            app.store.register_import_locked(job)  # only once everything is valid
            body = job.public()
        return Reply.json(201, body)
    except V5Error as exc:
        return error(exc.status, exc.code, exc.message)


def _get_job(app: App, import_id: int) -> ImportJob:
    try:
        return app.store.import_get(import_id)
    except OpError:
        raise V5Error(404, 192, "Object specified does not exist") from None


def import_batches(app: App, req: Incoming, m: re.Match[str]) -> Reply:
    try:
        parts = _parts(req)
        files = _file_parts(parts)
        if not files:
            raise V5Error(400, 162, "No file was specified or uploaded")
        with app.store.lock:
            job = _get_job(app, int(m.group(1)))
            _add_batch(app, job, files[0])
            body = job.public()
        return Reply.json(200, body)
    except V5Error as exc:
        return error(exc.status, exc.code, exc.message)


def _set_ready(app: App, job: ImportJob) -> None:
    if job.state != "Open":
        raise V5Error(400, 155, 'Can\'t update. Import must be in "Open" state.')
    if not job.batches:
        raise V5Error(400, 156, "Can't start processing. Import has no associated data.")
    job.state = "Ready"
    job.polls_left = app.settings["import_processing_polls"]
    job.updated_at = iso_now()


def import_item(app: App, req: Incoming, m: re.Match[str]) -> Reply:
    import_id = int(m.group(1))
    try:
        if req.method == "GET":
            return Reply.json(200, poll(app, import_id))
        ctype = req.content_type.split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            raise V5Error(400, 151, "Unsupported content-type")
        try:
            data = json.loads(req.body or b"null")
        except ValueError:
            raise V5Error(400, 150, "Input needs to be valid JSON") from None
        if not isinstance(data, dict) or "state" not in data:
            raise V5Error(400, 153, "Missing required property in request: state")
        unknown = sorted(set(data) - {"state"})
        if unknown:
            raise V5Error(400, 154, f"Invalid property in request: {unknown[0]}")
        with app.store.lock:
            job = _get_job(app, import_id)
            if data["state"] != "Ready":
                raise V5Error(400, 154, "Invalid property in request: state can only be "
                                             "set to 'Ready'")
            _set_ready(app, job)
            body = job.public()
        return Reply.json(200, body)
    except V5Error as exc:
        return error(exc.status, exc.code, exc.message)


def poll(app: App, import_id: int) -> dict[str, Any]:
    """One status poll: a Ready import shows Processing for N polls, then completes."""
    with app.store.lock:
        job = _get_job(app, import_id)
        if job.state in ("Ready", "Processing"):
            if job.polls_left > 0:
                job.polls_left -= 1
                job.state = "Processing"
            else:
                _process(app, job)
        return job.public()


def _row_plan(row: dict[str, str], has_match_columns: bool
              ) -> tuple[str | None, Any, dict[str, Any]]:
    kind: str | None = None
    value: Any = None
    if has_match_columns:
        given = [(c, row[c]) for c in MATCH_COLUMNS if row.get(c, "") != ""]
        if len(given) > 1:
            raise OpError(154, "Only one match value can be set per record")
        if given:
            col, value = given[0]
            kind = {"matchId": "id", "matchSalesforceId": "salesforceId",
                    "matchEmail": "email"}[col]
    else:
        for col in ("id", "salesforceId", "email"):
            if row.get(col, "") != "":
                kind, value = col, row[col]
                break
    if kind == "id":
        value = coerce_int(str(value).strip())
        if value is None:
            raise OpError(3, "Invalid prospect ID")
    updates: dict[str, Any] = {}
    for col, cell in row.items():
        if cell == "" or col in MATCH_COLUMNS or col == "id":
            continue  # an empty cell never clears a field
        try:
            if col in V5_TO_STORE:
                updates[V5_TO_STORE[col]] = csv_value(V5_TO_STORE[col], cell)
            else:
                updates[col] = cell
        except FieldValueError as exc:
            raise OpError(exc.code, exc.message) from None
    if kind == "email" and not valid_email(value):
        raise OpError(4, "Invalid prospect email address")
    return kind, value, updates


def _process(app: App, job: ImportJob) -> None:
    """Apply every row (caller holds the store lock). Failed rows go to job.errors."""
    has_match = job.header is not None and any(c in job.header for c in MATCH_COLUMNS)
    created = updated = 0
    for rows in job.batches:
        for row in rows:
            try:
                kind, value, updates = _row_plan(row, has_match)
                if app.store.import_match_and_write(job, kind, value, updates):
                    created += 1
                else:
                    updated += 1
            except OpError as exc:
                job.errors.append((row, exc.message))
    job.created_count = created
    job.updated_count = updated
    job.error_count = len(job.errors)
    job.state = "Complete"
    job.updated_at = iso_now()
    app.counters.rows(created, updated, len(job.errors))


def import_errors(app: App, req: Incoming, m: re.Match[str]) -> Reply:
    try:
        with app.store.lock:
            job = _get_job(app, int(m.group(1)))
            if job.state != "Complete":
                raise V5Error(400, 161, "The current state of the import does not allow "
                                             "the operation")
            header = list(job.header or [])
            errors = list(job.errors)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*header, "error"])
        for row, message in errors:
            writer.writerow([*(row.get(h, "") for h in header), message])
        return Reply(200, out.getvalue().encode("utf-8"), CSV_TYPE)
    except V5Error as exc:
        return error(exc.status, exc.code, exc.message)
