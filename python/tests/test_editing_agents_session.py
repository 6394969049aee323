"""`ConvstoreSession.pop_item`, through the store's truncate (an editing operation)."""

from __future__ import annotations

from agents.memory import SQLiteSession

from convstore.agents import ConvstoreSession
from tests.test_agents_session import items, run


def test_pop_item_answers_as_sqlite_session_does(store):
    ours = ConvstoreSession("u", store)
    theirs = SQLiteSession("u")
    run(ours.add_items(items()))
    run(theirs.add_items(items()))
    for _ in range(len(items()) + 1):
        assert run(ours.pop_item()) == run(theirs.pop_item())
        assert run(ours.get_items()) == run(theirs.get_items())
    assert run(ours.pop_item()) is None
    conv = store.get_conversation_by_user("u")
    assert (conv.message_count, conv.total_tokens) == (0, 0)


def test_pop_then_add_keeps_the_order(store):
    session = ConvstoreSession("u", store)
    run(session.add_items(items()[:3]))
    popped = run(session.pop_item())
    assert popped == items()[2]
    run(session.add_items([popped, items()[3]]))
    assert run(session.get_items()) == items()[:4]


def test_popping_a_session_never_written_creates_nothing(store):
    assert run(ConvstoreSession("nobody", store).pop_item()) is None
    assert store.get_conversation_by_user("nobody") is None
