"""The one API on every engine: each operation of today's store, its results and errors."""

from __future__ import annotations

import asyncio
import inspect
import threading
from datetime import datetime, timezone

import pytest

import convstore
from convstore import (
    ConvstoreAPI,
    InvalidInput,
    NewMessage,
    NotFound,
    TooLarge,
    Unauthorized,
)
from convstore.api import AsyncConvstoreAPI, operation_names


def test_every_engine_has_the_same_methods_arguments_and_results():
    names = operation_names()
    assert {"load_context", "truncate", "fork", "delete_message", "set_summary"} <= set(names)
    for name in names:
        declared = inspect.signature(getattr(ConvstoreAPI, name))
        assert inspect.signature(getattr(convstore.Client, name)) == declared, name
        assert inspect.signature(getattr(convstore.AsyncClient, name)) == declared, name
        assert inspect.signature(getattr(AsyncConvstoreAPI, name)) == declared, name
        assert inspect.iscoroutinefunction(getattr(convstore.AsyncClient, name)), name
    assert issubclass(convstore.Client, ConvstoreAPI)
    assert issubclass(convstore.AsyncClient, AsyncConvstoreAPI)


def test_get_or_create_returns_the_same_conversation_and_updates_chat_id(store):
    first = store.get_or_create("feishu:group:user123", "feishu", "chat456")
    assert first.user_key == "feishu:group:user123"
    assert (first.platform, first.chat_id) == ("feishu", "chat456")
    assert first.created_at.tzinfo == timezone.utc
    assert (first.message_count, first.total_tokens, first.summary) == (0, 0, None)
    again = store.get_or_create("feishu:group:user123", "feishu")
    assert again.id == first.id
    assert again.chat_id == "chat456"
    moved = store.get_or_create("feishu:group:user123", "qq", "chat789")
    assert (moved.id, moved.platform, moved.chat_id) == (first.id, "qq", "chat789")
    assert store.get_conversation(first.id) == moved


def test_user_keys_with_url_characters_are_found(store):
    key = "feishu:group/a b%2F?x#y"
    created = store.get_or_create(key, "feishu")
    assert store.get_conversation_by_user(key) == created
    assert store.get_conversation_by_user("nobody") is None
    assert store.check_token_budget(key, budget=10).user_key == key


def test_unknown_ids_raise_not_found_with_the_contract_code(engine, store):
    with pytest.raises(NotFound) as caught:
        store.get_conversation(999)
    # The HTTP status comes with an error that came over HTTP.
    status = 404 if engine.name == "remote" else None
    assert (caught.value.code, caught.value.status) == ("not_found", status)
    assert str(caught.value) == "conversation 999 not found"
    assert isinstance(caught.value, LookupError)
    with pytest.raises(NotFound):
        store.save_message(999, "user", "hi")
    with pytest.raises(NotFound):
        store.load_history(999)


def test_an_id_that_is_not_a_positive_integer_is_refused_before_it_reaches_a_path(store):
    for bad in ("1/messages", 0, -3, True, 1.5):
        with pytest.raises(InvalidInput) as caught:
            store.get_conversation(bad)
        assert caught.value.field == "conversation_id"


def test_save_message_is_idempotent_per_key(store):
    conv = store.get_or_create("u", "feishu")
    saved = store.save_message(conv.id, "user", "Hello", tokens=15, idempotency_key="om_1")
    assert saved.created is True
    assert (saved.role, saved.content, saved.tokens, saved.metadata) == ("user", "Hello", 15, {})
    assert saved.idempotency_key == "om_1"
    assert saved.timestamp.tzinfo == timezone.utc
    repeat = store.save_message(conv.id, "user", "Hello again", tokens=99, idempotency_key="om_1")
    assert repeat.created is False
    assert (repeat.id, repeat.content, repeat.tokens) == (saved.id, "Hello", 15)
    conv = store.get_conversation(conv.id)
    assert (conv.message_count, conv.total_tokens) == (1, 15)


def test_metadata_round_trips_and_history_keeps_tool_results_with_their_call(store):
    conv = store.get_or_create("u", "feishu")
    meta = {"tool_calls": [{"id": "call_1", "args": {"city": "Paris", "n": [1, 2.5, None]}}]}
    store.save_message(conv.id, "user", "first", tokens=5)
    store.save_message(conv.id, "assistant", "one", tokens=5)
    store.save_message(conv.id, "user", "weather?", tokens=5)
    store.save_message(conv.id, "assistant", "", tokens=5, metadata=meta)
    store.save_message(conv.id, "tool", '{"result": "sunny"}', metadata={"tool_call_id": "call_1"})
    store.save_message(conv.id, "assistant", "It is sunny", tokens=5)
    last_turn = store.load_history(conv.id, max_turns=1)
    assert [m.role for m in last_turn] == ["user", "assistant", "tool", "assistant"]
    assert last_turn[1].metadata == meta
    assert last_turn[2].metadata == {"tool_call_id": "call_1"}
    # Two messages would start at the tool result: the window leaves it out with its call.
    assert [m.content for m in store.load_history(conv.id, max_messages=2)] == ["It is sunny"]
    assert len(store.load_history(conv.id)) == 6
    older = store.load_history(conv.id, max_turns=1, before_id=last_turn[0].id)
    assert [m.content for m in older] == ["first", "one"]
    assert [m.content for m in store.load_history(conv.id, max_tokens=15)] == [
        "weather?",
        "",
        '{"result": "sunny"}',
        "It is sunny",
    ]


def test_bad_input_names_the_field_and_writes_nothing(store):
    conv = store.get_or_create("u", "feishu")
    with pytest.raises(InvalidInput) as caught:
        store.save_message(conv.id, "wizard", "hi")
    assert caught.value.field == "role"
    assert isinstance(caught.value, ValueError)
    with pytest.raises(InvalidInput) as caught:
        store.save_messages(
            conv.id, [NewMessage("user", "fine"), NewMessage("assistant", "bad", tokens=-1)]
        )
    assert caught.value.field == "messages[1].tokens"
    with pytest.raises(InvalidInput) as caught:
        store.load_history(conv.id, max_turns=0)
    assert caught.value.field == "max_turns"
    with pytest.raises(InvalidInput) as caught:
        store.get_or_create("", "feishu")
    assert caught.value.field == "user_key"
    assert store.get_conversation(conv.id).message_count == 0


def test_save_messages_stores_a_batch_in_order_and_repeats_keys_once(store):
    conv = store.get_or_create("u", "feishu")
    batch = [
        NewMessage("assistant", "", tokens=3, metadata={"tool_calls": [{"id": "c1"}]}),
        NewMessage(
            "tool", "sunny", tokens=2, metadata={"tool_call_id": "c1"}, idempotency_key="t1"
        ),
    ]
    saved = store.save_messages(conv.id, batch)
    assert [(m.role, m.content, m.tokens) for m in saved] == [
        ("assistant", "", 3),
        ("tool", "sunny", 2),
    ]
    again = store.save_messages(conv.id, [batch[1]])
    assert again[0].id == saved[1].id
    assert store.get_conversation(conv.id).message_count == 2


def test_usage_summary_persona_clear_and_delete(store):
    conv = store.get_or_create("u", "feishu")
    store.save_message(conv.id, "user", "hi", tokens=10)
    assert store.update_conversation_stats(conv.id, 150).total_tokens == 160
    assert store.set_summary(conv.id, "greetings").summary == "greetings"
    assert store.set_active_persona_id(conv.id, "pirate").active_persona_id == "pirate"
    assert store.get_active_persona_id(conv.id) == "pirate"
    assert store.set_active_persona_id(conv.id, None).active_persona_id is None
    assert store.get_active_persona_id(conv.id) is None
    store.clear_conversation(conv.id)
    cleared = store.get_conversation(conv.id)
    assert (cleared.message_count, cleared.total_tokens, cleared.summary) == (0, 0, None)
    assert store.load_history(conv.id) == []
    store.delete_conversation(conv.id)
    with pytest.raises(NotFound):
        store.get_conversation(conv.id)


def test_list_conversations_pages_newest_activity_first(store):
    ids = [store.get_or_create(f"user{i}", "qq" if i % 2 else "feishu").id for i in range(5)]
    store.save_message(ids[0], "user", "now the most recent")
    first = store.list_conversations(limit=2)
    assert next(c.id for c in first.conversations) == ids[0]
    assert len(first.conversations) == 2 and first.next_after_id is not None
    seen = [c.id for c in first.conversations]
    page = first
    while page.next_after_id is not None:
        page = store.list_conversations(limit=2, after_id=page.next_after_id)
        seen += [c.id for c in page.conversations]
    assert sorted(seen) == sorted(ids)
    assert {c.platform for c in store.list_conversations(platform="qq").conversations} == {"qq"}
    assert [c.id for c in store.list_conversations(user_key="user3").conversations] == [ids[3]]


def test_export_then_import_under_another_key_keeps_everything(store):
    conv = store.get_or_create("u", "feishu", "chat")
    store.save_message(conv.id, "user", "Hello", tokens=5, metadata={"a": 1})
    store.save_message(conv.id, "assistant", "Hi", tokens=7)
    document = store.export_conversation(conv.id)
    assert document["format"] == "convstore/1"
    assert [m["content"] for m in document["messages"]] == ["Hello", "Hi"]
    assert store.import_conversation(document).id == conv.id  # same user key: skipped
    document["conversation"]["user_key"] = "copy"
    copy = store.import_conversation(document)
    assert copy.id != conv.id and copy.user_key == "copy"
    assert (copy.message_count, copy.total_tokens) == (2, 12)
    copied = store.load_history(copy.id)
    assert [(m.role, m.content, m.metadata) for m in copied] == [
        ("user", "Hello", {"a": 1}),
        ("assistant", "Hi", {}),
    ]
    assert [m.timestamp for m in copied] == [
        datetime.fromisoformat(m["timestamp"].replace("Z", "+00:00")) for m in document["messages"]
    ]


def test_the_originals_export_documents_import(store):
    document = {
        "conversation": {
            "id": 7,
            "user_key": "feishu:group:old",
            "platform": "feishu",
            "chat_id": None,
            "created_at": "2025-01-08T10:00:00.123456",
            "last_activity": "2025-01-08T11:30:00",
            "summary": None,
            "total_tokens": 5000,
            "message_count": 1,
        },
        "messages": [
            {
                "id": 1,
                "conversation_id": 7,
                "role": "user",
                "content": "Hello",
                "timestamp": "2025-01-08T10:00:00",
                "tokens": 5,
                "metadata": None,
            }
        ],
    }
    imported = store.import_conversation(document)
    assert (imported.total_tokens, imported.message_count) == (5000, 1)
    assert imported.created_at == datetime(2025, 1, 8, 10, 0, 0, 123456, tzinfo=timezone.utc)
    # Idle since January 2025: a cleanup of conversations idle for 30 days removes it.
    store.get_or_create("fresh", "feishu")
    assert store.cleanup_old_conversations(days=30) == 1
    assert store.get_conversation_by_user("feishu:group:old") is None
    assert store.get_conversation_by_user("fresh") is not None


def test_stats_budget_and_vacuum(engine, store):
    empty = store.get_stats()
    assert empty.to_dict() == {
        "total_conversations": 0,
        "total_messages": 0,
        "total_tokens": 0,
        "average_messages_per_conversation": 0.0,
        "average_tokens_per_conversation": 0.0,
        "longest_conversation_messages": 0,
        "longest_conversation_user": None,
    }
    a = store.get_or_create("a", "feishu")
    b = store.get_or_create("b", "feishu")
    for text in ("1", "2", "3"):
        store.save_message(a.id, "user", text, tokens=10)
    store.save_message(b.id, "user", "x", tokens=10)
    stats = store.get_stats()
    assert (stats.total_conversations, stats.total_messages, stats.total_tokens) == (2, 4, 40)
    assert (stats.longest_conversation_messages, stats.longest_conversation_user) == (3, "a")
    assert stats.average_messages_per_conversation == 2.0
    within = store.check_token_budget("a", budget=31)
    assert (within.total_tokens, within.budget, within.within_budget) == (30, 31, True)
    assert store.check_token_budget("a", budget=30).within_budget is False
    assert store.vacuum().backend == engine.backend


def test_a_wrong_token_is_unauthorized(daemon):
    client = convstore.Client(daemon.url, token="wrong")
    with pytest.raises(Unauthorized) as caught:
        client.get_stats()
    assert caught.value.status == 401
    client.close()


def test_a_body_over_the_limit_is_too_large(engine, store):
    conv = store.get_or_create("u", "feishu")
    with pytest.raises(ValueError) as caught:
        store.save_message(conv.id, "user", "x" * (3 * 1024 * 1024))
    if engine.name == "remote":  # the request body is over the daemon's limit
        assert isinstance(caught.value, TooLarge)
        assert caught.value.status == 413
    else:  # no request body: the content is over the store's limit
        assert isinstance(caught.value, InvalidInput)
        assert caught.value.field == "content"
    assert store.get_conversation(conv.id).message_count == 0


def test_one_client_shared_by_threads_counts_every_save(store):
    conv = store.get_or_create("u", "feishu")
    errors: list[BaseException] = []

    def saver(worker: int) -> None:
        try:
            for n in range(25):
                store.save_message(conv.id, "user", f"{worker}-{n}", tokens=2)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=saver, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    conv = store.get_conversation(conv.id)
    assert (conv.message_count, conv.total_tokens) == (200, 400)
    contents = {m.content for m in store.load_history(conv.id, max_messages=1000)}
    assert contents == {f"{w}-{n}" for w in range(8) for n in range(25)}


def test_the_async_client_has_the_same_operations(engine):
    async def scenario() -> None:
        async with engine.async_store() as store:
            conv = await store.get_or_create("u", "feishu")
            saved = await store.save_message(conv.id, "user", "hi", tokens=3, idempotency_key="k")
            again = await store.save_message(conv.id, "user", "hi", idempotency_key="k")
            assert (saved.created, again.created, again.id) == (True, False, saved.id)
            await store.save_messages(conv.id, [NewMessage("assistant", "hello", tokens=4)])
            history = await store.load_history(conv.id, max_turns=5)
            assert [m.content for m in history] == ["hi", "hello"]
            assert (await store.get_stats()).total_messages == 2
            assert await store.get_conversation_by_user("nobody") is None
            with pytest.raises(NotFound):
                await store.get_conversation(12345)
            many = await asyncio.gather(
                *(store.save_message(conv.id, "user", str(n)) for n in range(20))
            )
            assert len({m.id for m in many}) == 20
            assert (await store.get_conversation(conv.id)).message_count == 22

    asyncio.run(scenario())


def test_async_calls_leave_the_event_loop_free(engine):
    """While saves wait for their commit, other tasks of the loop go on running."""

    async def scenario() -> None:
        async with engine.async_store() as store:
            conv = await store.get_or_create("u", "feishu")
            ticks, saving = 0, True

            async def ticker() -> None:
                nonlocal ticks
                while saving:
                    ticks += 1
                    await asyncio.sleep(0)

            running = asyncio.create_task(ticker())
            await asyncio.gather(*(store.save_message(conv.id, "user", str(n)) for n in range(20)))
            saving = False
            await running
            # A call that blocked the loop would let the ticker run once or twice in all,
            # not once per loop iteration while the commits are on disk.
            assert ticks >= 10

    asyncio.run(scenario())


def test_the_client_picks_its_transport_by_url():
    assert convstore.Client("http://127.0.0.1:1").transport == "native"
    assert convstore.Client("http://127.0.0.1:1", transport="httpx").transport == "httpx"
    assert convstore.Client("https://convstore.example").transport == "httpx"
    with pytest.raises(ValueError, match="transport='native'"):
        convstore.Client("https://convstore.example", transport="native")
    with pytest.raises(ValueError, match="transport"):
        convstore.Client("http://127.0.0.1:1", transport="carrier-pigeon")  # type: ignore[arg-type]
