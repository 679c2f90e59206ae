"""Pure functions for API v3 batch calls (accounts with AMPSEA off).

A v3 batch call carries its prospects as a JSON object keyed by each prospect's
identifier, its Pardot id or its email, and "each prospect should have a unique
identifier which will be used in the return output" (pardot/api-docs,
docs/kb/api-version-3/prospects.md, "Endpoints for Batch Processing"). v4 takes an array
and keys its per-row errors by index. v3 has no `fid` (it came with v4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from target_pardot.rows.payloads import form_quote, to_json

Item = TypeVar("Item")

#: What a v3 call cannot carry: a row whose only key is a Salesforce id.
FID_NEEDS_V4 = (
    "the row's only key is 'fid', and API v3 (accounts without AMPSEA) cannot address a "
    "prospect by Salesforce id; add 'email' or 'id' to the row"
)


def v3_identifier(element: Mapping[str, Any]) -> str | None:
    """The key of the element in a v3 batch: its Pardot id, else its email; None when
    it has neither (a fid-only row)."""
    if element.get("id") is not None:
        return str(element["id"])
    email = element.get("email")
    return str(email) if email else None


def v3_fields(element: Mapping[str, Any], identifier: str) -> dict[str, Any]:
    """The element's fields under its identifier: without `id` and `fid`, and without
    `email` when the email is the identifier (an id-keyed row keeps it: it sets the email)."""
    keyed_by_email = "id" not in element
    return {
        name: value
        for name, value in element.items()
        if name not in ("id", "fid") and not (keyed_by_email and name == "email")
    }


def folded(identifier: str) -> str:
    return identifier.lower()


def v3_batch_body(entries: Iterable[tuple[str, str]]) -> str:
    """The urlencoded body `prospects={"prospects":{"<identifier>":{...},...}}` from
    (identifier, fields as JSON) pairs."""
    inner = ",".join(f"{to_json(identifier)}:{text}" for identifier, text in entries)
    return "prospects=" + form_quote('{"prospects":{' + inner + "}}")


def unique_identifier_batches(
    items: Iterable[Item], identifier_of: Callable[[Item], str]
) -> list[list[Item]]:
    """Split items so that no call carries two identifiers equal but for case.

    A JSON object cannot hold one key twice, and on an account that matches emails
    case-insensitively `Ann@x.com` and `ann@x.com` are one prospect, so the reply could
    not say which row an error belongs to. Later occurrences go to later calls, which the
    caller sends in order.
    """
    batches: list[list[Item]] = []
    seen: list[set[str]] = []
    for item in items:
        key = folded(identifier_of(item))
        for batch, keys in zip(batches, seen, strict=True):
            if key not in keys:
                batch.append(item)
                keys.add(key)
                break
        else:
            batches.append([item])
            seen.append({key})
    return batches


def v3_calls(
    items: Iterable[Item], element_of: Callable[[Item], Mapping[str, Any]]
) -> tuple[list[Item], list[tuple[list[Item], list[str], str]]]:
    """Plan v3 calls for items already batched for v4: the items no v3 call can carry
    (fid-only), and per call its items, their identifiers and the urlencoded body."""
    keyless: list[Item] = []
    keyed: list[tuple[Item, str]] = []
    for item in items:
        identifier = v3_identifier(element_of(item))
        if identifier is None:
            keyless.append(item)
        else:
            keyed.append((item, identifier))
    calls = []
    for part in unique_identifier_batches(keyed, lambda pair: pair[1]):
        identifiers = [identifier for _, identifier in part]
        body = v3_batch_body(
            (identifier, to_json(v3_fields(element_of(item), identifier)))
            for item, identifier in part
        )
        calls.append(([item for item, _ in part], identifiers, body))
    return keyless, calls


def v3_row_errors(body: Any, identifiers: Sequence[str]) -> tuple[dict[int, str], list[str]]:
    """Per-row errors of a v3 batch reply, by position in ``identifiers``; and the error
    keys that name no row of the call.

    Errors are keyed by identifier, matched exactly, then ignoring case (the account may
    report an email as it stores it). [guess] A key that is a position (as in v4) is
    accepted too, when it is not itself one of the identifiers.
    """
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, dict):
        return {}, []
    exact = {identifier: index for index, identifier in enumerate(identifiers)}
    by_fold = {folded(identifier): index for index, identifier in enumerate(identifiers)}
    result: dict[int, str] = {}
    unmatched: list[str] = []
    for key, value in errors.items():
        message = value if isinstance(value, str) else to_json(value)
        text = str(key)
        if text in exact:
            result[exact[text]] = message
        elif folded(text) in by_fold:
            result[by_fold[folded(text)]] = message
        elif text.isdigit() and int(text) < len(identifiers):
            result[int(text)] = message
        else:
            unmatched.append(text)
    return result, unmatched
