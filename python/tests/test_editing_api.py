"""The editing-and-context operations of the one API, on every engine.

Truncate, delete one message, fork, summary checkpoints and the context of a turn.
"""

from __future__ import annotations

import pytest

from convstore import Conflict, InvalidInput, NotFound


def conversation_with_turns(store, turns: int = 3, user_key: str = "u"):
    """A conversation of `turns` turns: question (10 tokens), tool call, result, answer (5 each)."""
    conv = store.get_or_create(user_key, "feishu", "chat")
    for turn in range(turns):
        store.save_message(conv.id, "user", f"question {turn}", tokens=10)
        store.save_message(
            conv.id, "assistant", "", tokens=5, metadata={"tool_calls": [{"id": f"c{turn}"}]}
        )
        store.save_message(
            conv.id, "tool", f"result {turn}", tokens=5, metadata={"tool_call_id": f"c{turn}"}
        )
        store.save_message(conv.id, "assistant", f"answer {turn}", tokens=5)
    return conv, store.load_history(conv.id, max_turns=100)


def test_truncate_after_an_id_and_the_newest_n(store):
    conv, messages = conversation_with_turns(store)
    store.update_conversation_stats(conv.id, 7)  # usage no message carries
    cut = store.truncate(conv.id, after_id=messages[7].id)
    assert [m.id for m in cut.removed] == [m.id for m in messages[8:]]
    assert (cut.conversation.message_count, cut.conversation.total_tokens) == (8, 50 + 7)
    undo = store.truncate(conv.id, last=1)
    assert [m.content for m in undo.removed] == ["answer 1"]
    assert [m.id for m in store.load_history(conv.id, max_turns=100)] == [
        m.id for m in messages[:7]
    ]
    conv = store.get_conversation(conv.id)
    assert (conv.message_count, conv.total_tokens) == (7, 45 + 7)


def test_truncate_refuses_bad_input_and_changes_nothing(store):
    conv, _messages = conversation_with_turns(store, 1)
    _other, others = conversation_with_turns(store, 1, user_key="other")
    for arguments, field in [
        ({"last": 0}, "last"),
        ({"after_id": others[0].id}, "after_id"),
        ({"after_id": 1, "last": 1}, "after_id"),
        ({}, "after_id"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            store.truncate(conv.id, **arguments)
        assert caught.value.field in (field, "last", "body"), arguments
    assert store.get_conversation(conv.id).message_count == 4


def test_delete_one_message(store):
    conv, messages = conversation_with_turns(store, 1)
    store.delete_message(conv.id, messages[3].id)
    assert [m.id for m in store.load_history(conv.id)] == [m.id for m in messages[:3]]
    conv = store.get_conversation(conv.id)
    assert (conv.message_count, conv.total_tokens) == (3, 20)
    with pytest.raises(NotFound):
        store.delete_message(conv.id, messages[3].id)


def test_a_checkpoint_shapes_the_context_and_goes_with_its_message(store):
    conv, messages = conversation_with_turns(store)
    updated = store.set_summary(conv.id, "Asked twice.", covers_through_id=messages[7].id, tokens=4)
    assert (updated.summary_covers_through_id, updated.summary_tokens) == (messages[7].id, 4)
    context = store.load_context(conv.id)
    assert (context.summary, context.summary_covers_through_id, context.summary_tokens) == (
        "Asked twice.",
        messages[7].id,
        4,
    )
    assert [m.id for m in context.messages] == [m.id for m in messages[8:]]
    assert (context.omitted_turns, context.omitted_tokens, context.total_tokens) == (0, 0, 4 + 25)
    with pytest.raises(InvalidInput) as caught:
        store.set_summary(conv.id, "x", covers_through_id=10**9)
    assert caught.value.field == "covers_through_id"
    store.truncate(conv.id, after_id=messages[3].id)
    cleared = store.get_conversation(conv.id)
    assert (cleared.summary_covers_through_id, cleared.summary_tokens) == (None, 0)


def test_context_holds_the_newest_whole_turns_that_fit(store):
    conv, messages = conversation_with_turns(store)
    store.set_active_persona_id(conv.id, "pirate")
    context = store.load_context(conv.id, max_tokens=50)
    assert context.persona_id == "pirate"
    assert [m.id for m in context.messages] == [m.id for m in messages[4:]]
    assert (context.omitted_turns, context.omitted_tokens) == (1, 25)
    assert [m.id for m in store.load_context(conv.id, max_turns=1).messages] == [
        m.id for m in messages[8:]
    ]
    with pytest.raises(InvalidInput) as caught:
        store.load_context(conv.id, max_tokens=0)
    assert caught.value.field == "max_tokens"


def test_fork_copies_the_messages_up_to_an_id(engine, store):
    conv, messages = conversation_with_turns(store)
    store.set_summary(conv.id, "First turn.", covers_through_id=messages[3].id, tokens=3)
    fork = store.fork(conv.id, "u-branch", through_id=messages[7].id)
    assert (fork.platform, fork.chat_id, fork.message_count) == ("feishu", "chat", 8)
    assert fork.summary_covers_through_id is not None
    copied = store.load_history(fork.id, max_turns=100)
    assert [(m.role, m.content, m.tokens, m.metadata, m.timestamp) for m in copied] == [
        (m.role, m.content, m.tokens, m.metadata, m.timestamp) for m in messages[:8]
    ]
    with pytest.raises(Conflict) as caught:
        store.fork(conv.id, "u-branch")
    assert caught.value.status == (409 if engine.name == "remote" else None)


def test_export_and_import_carry_the_checkpoint(store):
    conv, messages = conversation_with_turns(store, 2)
    store.set_summary(conv.id, "First turn.", covers_through_id=messages[3].id, tokens=3)
    document = store.export_conversation(conv.id)
    document["conversation"]["user_key"] = "copy"
    copy = store.import_conversation(document)
    assert (copy.summary, copy.summary_tokens) == ("First turn.", 3)
    assert copy.summary_covers_through_id == store.load_history(copy.id, max_turns=100)[3].id
