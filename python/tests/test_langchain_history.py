"""`ConvstoreChatMessageHistory` against langchain-core, on every engine."""

from __future__ import annotations

import asyncio

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory

from convstore.langchain import ConvstoreChatMessageHistory


def every_kind() -> list:
    return [
        SystemMessage("You are terse.", id="s1"),
        HumanMessage(
            content=[
                {"type": "text", "text": "What is this?"},
                {"type": "image", "url": "https://x/y.png"},
            ],
            id="h1",
            additional_kwargs={"platform_message_id": "om_1"},
        ),
        AIMessage(
            content="",
            tool_calls=[
                {"name": "weather", "args": {"city": "Paris"}, "id": "call_1", "type": "tool_call"}
            ],
            id="a1",
            response_metadata={"model_name": "gpt-x", "finish_reason": "tool_calls"},
            usage_metadata={"input_tokens": 30, "output_tokens": 12, "total_tokens": 42},
        ),
        ToolMessage(
            content='{"sky": "clear"}', tool_call_id="call_1", id="t1", artifact={"raw": [1]}
        ),
        AIMessage("Sunny in Paris.", id="a2"),
        ChatMessage(role="critic", content="Too short."),
        HumanMessage("And tomorrow?"),
    ]


def test_every_kind_of_message_comes_back_equal(store):
    history = ConvstoreChatMessageHistory("feishu:group:user123", store)
    assert isinstance(history, BaseChatMessageHistory)
    sent = every_kind()
    history.add_messages(sent)
    assert history.messages == sent
    conv = store.get_conversation_by_user("feishu:group:user123")
    stored = store.load_history(conv.id, max_messages=100)
    assert [m.role for m in stored] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "user",
    ]
    assert stored[1].content == "What is this?"
    assert stored[2].tokens == 12  # the AI message's output tokens
    assert stored[4].tokens == len("Sunny in Paris.") // 4 + 1
    assert stored[1].idempotency_key == "lc:h1"


def test_adding_a_message_with_an_id_again_stores_it_once(store):
    history = ConvstoreChatMessageHistory("u", store)
    history.add_messages([HumanMessage("hi", id="m1"), AIMessage("hello", id="m2")])
    history.add_messages([AIMessage("hello", id="m2"), HumanMessage("bye", id="m3")])
    history.add_message(HumanMessage("no id"))
    history.add_message(HumanMessage("no id"))
    assert [m.text for m in history.messages] == ["hi", "hello", "bye", "no id", "no id"]


def test_windows_are_read_in_the_store_and_keep_tool_results_with_their_calls(store):
    earlier = [HumanMessage("earlier", id="h0"), AIMessage("ok", id="a0")]
    later = [HumanMessage("next", id="h2")]
    ConvstoreChatMessageHistory("u", store).add_messages(earlier + every_kind()[1:5] + later)
    last_turn = ConvstoreChatMessageHistory("u", store, max_turns=1).messages
    assert [m.id for m in last_turn] == ["h2"]
    two_turns = ConvstoreChatMessageHistory("u", store, max_turns=2).messages
    assert [m.id for m in two_turns] == ["h1", "a1", "t1", "a2", "h2"]
    budget = ConvstoreChatMessageHistory("u", store, max_tokens=2).messages
    assert [m.id for m in budget] == ["h2"]


def test_messages_saved_without_the_adapter_are_read_by_role(store):
    conv = store.get_or_create("u", "feishu")
    store.save_message(conv.id, "user", "plain question")
    store.save_message(conv.id, "tool", "42", metadata={"tool_call_id": "c9"})
    store.save_message(conv.id, "assistant", "plain answer")
    assert ConvstoreChatMessageHistory("u", store).messages == [
        HumanMessage("plain question"),
        ToolMessage("42", tool_call_id="c9"),
        AIMessage("plain answer"),
    ]


def test_reading_a_session_never_written_creates_nothing(store):
    assert ConvstoreChatMessageHistory("nobody", store).messages == []
    assert ConvstoreChatMessageHistory("nobody", store, max_turns=3).messages == []
    ConvstoreChatMessageHistory("nobody", store).clear()
    assert store.get_conversation_by_user("nobody") is None


def test_clear_keeps_the_conversation(store):
    history = ConvstoreChatMessageHistory("u", store)
    history.add_messages([HumanMessage("hi")])
    conv = store.get_conversation_by_user("u")
    history.clear()
    assert history.messages == []
    assert store.get_conversation(conv.id).message_count == 0


def test_async_methods_on_the_async_engine(engine):
    async def scenario() -> None:
        async with engine.async_store() as store:
            history = ConvstoreChatMessageHistory("u", store, max_turns=5)
            await history.aadd_messages(every_kind())
            assert await history.aget_messages() == every_kind()
            await history.aclear()
            assert await history.aget_messages() == []

    asyncio.run(scenario())


class Replies(GenericFakeChatModel):
    """langchain-core's fake chat model, noting the messages each call was given."""

    seen: list

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.seen.append(list(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def test_runnable_with_message_history_reads_and_writes_through_convstore(store):
    model = Replies(
        messages=iter([AIMessage("Hi Ada!", id="r1"), AIMessage("You are Ada.", id="r2")]),
        seen=[],
    )
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Be brief."), MessagesPlaceholder("history"), ("human", "{question}")]
    )
    chain = RunnableWithMessageHistory(
        prompt | model,
        lambda session_id: ConvstoreChatMessageHistory(session_id, store),
        input_messages_key="question",
        history_messages_key="history",
    )
    config = {"configurable": {"session_id": "feishu:private:ada"}}
    assert chain.invoke({"question": "I am Ada."}, config=config).text == "Hi Ada!"
    assert chain.invoke({"question": "Who am I?"}, config=config).text == "You are Ada."
    second_call = model.seen[-1]
    assert [m.text for m in second_call] == ["Be brief.", "I am Ada.", "Hi Ada!", "Who am I?"]
    conv = store.get_conversation_by_user("feishu:private:ada")
    assert [(m.role, m.content) for m in store.load_history(conv.id)] == [
        ("user", "I am Ada."),
        ("assistant", "Hi Ada!"),
        ("user", "Who am I?"),
        ("assistant", "You are Ada."),
    ]
