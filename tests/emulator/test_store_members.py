"""The store's membership operations are a collaborator it holds, over its tables."""

from __future__ import annotations

from pardot_emulator.store import Store


def test_the_store_keeps_its_membership_operations_in_a_collaborator():
    store = Store()
    pid = store.add_prospect({"email": "a@example.com"})
    mid = store.members.add(4, pid, opted_out=True)
    assert store.members.get(mid)["opted_out"] is True
    store.reset()
    assert store.members.rows() == [], "the operations follow the store's tables after a reset"
