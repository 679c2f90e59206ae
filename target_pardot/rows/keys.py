"""The one rule for key cells, on every path (sync, update, import, mirror, memberships,
API v3, v4 and v5): a key cell that holds nothing is absent.

CSV taps, and many database taps, write an empty cell as ``""``. Read as a key, such a
cell would name a prospect that does not exist: ``salesforce_id: ""`` would turn an email
row into a row keyed by Salesforce id (which ``batchUpsert`` never matches, so it creates
a prospect on every load), and ``id: ""`` would be refused as "not a whole number" when
the row's email identifies it perfectly well.
"""

from __future__ import annotations

from typing import Any

#: Prospect fields (v4 names) that identify a prospect or choose its campaign, and the
#: columns of a list membership. ``match_email`` is a column of its own (not a field).
KEY_FIELDS = frozenset({"id", "fid", "email", "campaign_id", "list_id", "prospect_id"})


def is_absent_key(value: Any) -> bool:
    """True for a key cell that names nothing: null, or text that is empty or only
    whitespace. Any other value (0 included) is a key, valid or not."""
    if value is None:
        return True
    return isinstance(value, str) and not value.strip()
