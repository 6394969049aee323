"""The drop-in's records, return shapes and errors, against the original's."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from convstore.compat import ConversationRecord, MessageRecord, PersistentConversationManager

CONVERSATION_KEYS = [
    "id",
    "user_key",
    "platform",
    "chat_id",
    "created_at",
    "last_activity",
    "summary",
    "total_tokens",
    "message_count",
]


def test_records_are_constructible_with_the_original_column_names():
    when = datetime(2025, 1, 8, 10, 0, tzinfo=timezone.utc)
    conv = ConversationRecord(
        id=1,
        user_key="feishu:group:user123",
        platform="feishu",
        chat_id="chat456",
        created_at=when,
        last_activity=when,
        summary=None,
        total_tokens=5000,
        message_count=50,
    )
    assert list(conv.to_dict()) == CONVERSATION_KEYS
    assert conv.to_dict()["created_at"] == "2025-01-08T10:00:00+00:00"
    assert conv.messages == []
    message = MessageRecord(
        id=1,
        conversation_id=1,
        role="tool",
        content='{"result": "sunny"}',
        timestamp=when,
        tokens=10,
        metadata_json=json.dumps({"tool_call_id": "call_123"}),
        conversation=conv,
    )
    assert message.get_metadata() == {"tool_call_id": "call_123"}
    assert message.conversation is conv
    assert message.to_dict() == {
        "id": 1,
        "conversation_id": 1,
        "role": "tool",
        "content": '{"result": "sunny"}',
        "timestamp": "2025-01-08T10:00:00+00:00",
        "tokens": 10,
        "metadata": {"tool_call_id": "call_123"},
    }
    assert MessageRecord(role="user").tokens is None  # unset columns are None, as before a flush
    assert MessageRecord(metadata_json="not json").get_metadata() == {}
    with pytest.raises(TypeError, match="invalid keyword argument"):
        ConversationRecord(colour="red")


def test_the_manager_returns_the_originals_shapes(manager):
    conv = manager.get_or_create("feishu:group:user123", "feishu", "chat456")
    assert isinstance(conv, ConversationRecord)
    assert list(conv.to_dict()) == CONVERSATION_KEYS
    message = manager.save_message(conv.id, "assistant", "Hi", tokens=3, metadata={"m": 1})
    assert isinstance(message, MessageRecord)
    assert (message.role, message.content, message.tokens, message.metadata_json) == (
        "assistant",
        "Hi",
        3,
        '{"m": 1}',
    )
    plain = manager.save_message(conv.id, "user", "no metadata")
    assert plain.metadata_json is None and plain.get_metadata() == {}
    [first, _second] = manager.load_history(conv.id)
    assert list(first) == ["role", "content", "timestamp", "tokens", "metadata"]
    assert first["metadata"] == {"m": 1}
    assert datetime.fromisoformat(first["timestamp"]) == message.timestamp
    record = manager.get_conversation_by_user("feishu:group:user123")
    assert [m.content for m in record.messages] == ["Hi", "no metadata"]
    assert record.messages[0].to_dict()["metadata"] == {"m": 1}
    assert manager.cleanup_old_conversations() == 0
    assert manager.update_conversation_stats(conv.id, 5) is None
    assert manager.clear_conversation(conv.id) is None


def test_max_turns_counts_real_turns(manager):
    conv = manager.get_or_create("u", "feishu")
    for turn in range(3):
        manager.save_message(conv.id, "user", f"question {turn}")
        manager.save_message(
            conv.id, "assistant", "", metadata={"tool_calls": [{"id": f"c{turn}"}]}
        )
        manager.save_message(conv.id, "tool", "result", metadata={"tool_call_id": f"c{turn}"})
        manager.save_message(conv.id, "assistant", f"answer {turn}")
    two_turns = manager.load_history(conv.id, max_turns=2)
    assert [m["role"] for m in two_turns] == ["user", "assistant", "tool", "assistant"] * 2
    assert two_turns[0]["content"] == "question 1"
    assert len(manager.load_history(conv.id)) == 12  # default max_turns=10


def test_value_error_where_the_original_raises_it(manager):
    for call in (
        lambda: manager.save_message(424242, "user", "hi"),
        lambda: manager.load_history(424242),
        lambda: manager.update_conversation_stats(424242, 1),
        lambda: manager.clear_conversation(424242),
        lambda: manager.delete_conversation(424242),
        lambda: manager.export_conversation(424242),
        lambda: manager.get_active_persona_id(424242),
    ):
        with pytest.raises(ValueError, match="Conversation not found: 424242"):
            call()
    with pytest.raises(ValueError, match="conversation"):
        manager.import_conversation({"messages": []})
    with pytest.raises(ValueError):
        manager.import_conversation({"conversation": {"user_key": "u"}, "messages": []})
    conv = manager.get_or_create("u", "feishu")
    with pytest.raises(ValueError, match="role"):
        manager.save_message(conv.id, "wizard", "hi")


def test_persona_methods(manager):
    conv = manager.get_or_create("u", "feishu")
    assert manager.get_active_persona_id(conv.id) is None
    assert manager.set_active_persona_id(conv.id, "pirate") is None
    assert manager.get_active_persona_id(conv.id) == "pirate"
    assert manager.get_conversation_by_user("u").active_persona_id == "pirate"
    manager.set_active_persona_id(conv.id, None)
    assert manager.get_active_persona_id(conv.id) is None


def test_an_unreachable_daemon_is_a_value_error_at_construction(daemon):
    url = daemon.url
    daemon.kill()
    with pytest.raises(ValueError, match="Failed to initialize conversation database"):
        PersistentConversationManager(url=url, token=daemon.token)
    daemon.start()
    with pytest.raises(ValueError, match="Failed to initialize"):
        PersistentConversationManager(url=url, token="wrong")
    with pytest.raises(ValueError, match="db_url"):
        PersistentConversationManager("sqlite:///x.db", url=url)
