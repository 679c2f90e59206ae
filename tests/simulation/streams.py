"""Singer text for a step's rows: SCHEMA, RECORDs as the tap's shape writes them, and a
STATE every few rows that says how far the stream got."""

from __future__ import annotations

import json
from typing import Any

from tests.simulation.model import key_value
from tests.simulation.scenario import Step

INTEGER_COLUMNS = ("id", "score", "list_id", "prospect_id")


def schema_for(stream: str, columns: list[str], shape: str) -> dict[str, Any]:
    def column(name: str) -> dict[str, Any]:
        if shape == "db" and name in INTEGER_COLUMNS:
            return {"type": ["integer", "null"]}
        return {"type": ["string", "null"]}

    schema: dict[str, Any] = {"type": "object",
                              "properties": {name: column(name) for name in columns}}
    if stream == "list_memberships":
        schema["required"] = ["list_id", "prospect_id"]
    return schema


def columns_of(rows: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def shaped(row: dict[str, Any], columns: list[str], shape: str) -> dict[str, Any]:
    """A CSV tap writes every column, as text, and an empty cell for a missing value."""
    if shape != "csv":
        return row
    return {name: "" if row.get(name) is None else str(row[name]) for name in columns}


def shape_rows(step: Step, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    columns = columns_of(rows)
    return [shaped(row, columns, step.shape) for row in rows]


def singer_text(step: Step, rows: list[dict[str, Any]], start: int, index: int) -> str:
    """The stream from row ``start`` on (a resume), with STATE markers by absolute row."""
    columns = columns_of(rows)
    lines = [{"type": "SCHEMA", "stream": step.stream, "key_properties": [],
              "schema": schema_for(step.stream, columns, step.shape)}]
    for position in range(start, len(rows)):
        lines.append({"type": "RECORD", "stream": step.stream, "record": rows[position]})
        done = position + 1
        if done % step.state_every == 0 or done == len(rows):
            lines.append({"type": "STATE", "value": {"sim": {"step": index, "upto": done}}})
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


def split_by_identity(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], ...]:
    """Two streams with no prospect in common (an email renamed by `match_email` stays
    with its old address's stream)."""
    halves: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
    side: dict[Any, int] = {}
    for row in rows:
        keys = [("id", key_value(row.get("id"))), ("fid", key_value(row.get("fid")))]
        for name in ("match_email", "email"):
            value = key_value(row.get(name))
            keys.append(("email", value.lower() if isinstance(value, str) else value))
        keys = [k for k in keys if k[1] is not None]
        known = [side[k] for k in keys if k in side]
        half = known[0] if known else len(side) % 2
        for k in keys:
            side.setdefault(k, half)
        halves[half].append(row)
    return halves
