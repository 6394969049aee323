"""A LangChain 1.x `create_agent` agent with `ConvstoreMemory`, over several turns.

Needs the context call of the editing-and-context operations (`GET .../context`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from convstore.langchain import ConvstoreMemory
from convstore.langchain.middleware import PERSONA_ID, SUMMARY_ID


@dataclass
class Chat:
    user_key: str
    platform: str = "feishu"


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


class ToolCallingFake(GenericFakeChatModel):
    """langchain-core's fake chat model, able to take tools, noting what each call was sent."""

    seen: list

    def bind_tools(self, tools, **kwargs):
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.seen.append(list(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def weather_call(call_id: str, city: str, message_id: str) -> AIMessage:
    return AIMessage(
        "",
        id=message_id,
        tool_calls=[
            {"name": "get_weather", "args": {"city": city}, "id": call_id, "type": "tool_call"}
        ],
    )


def agent_with(store, replies, **options):
    model = ToolCallingFake(messages=iter(replies), seen=[])
    agent = create_agent(
        model,
        [get_weather],
        system_prompt="You answer about the weather.",
        middleware=[ConvstoreMemory(store, **options)],
        context_schema=Chat,
    )
    return agent, model


def stored(store, user_key):
    conv = store.get_conversation_by_user(user_key)
    return [(m.role, m.content) for m in store.load_history(conv.id, max_turns=100)]


def test_the_agent_reads_and_writes_its_conversation_through_convstore(store):
    chat = Chat("feishu:group:user123")
    agent, model = agent_with(
        store, [weather_call("call_1", "Paris", "ai-1"), AIMessage("Sunny in Paris.", id="ai-2")]
    )
    result = agent.invoke(
        {"messages": [HumanMessage("Weather in Paris?", id="om_1")]}, context=chat
    )
    assert result["messages"][-1].text == "Sunny in Paris."
    assert stored(store, chat.user_key) == [
        ("user", "Weather in Paris?"),
        ("assistant", ""),
        ("tool", "sunny in Paris"),
        ("assistant", "Sunny in Paris."),
    ]

    # A second turn in a new agent (a restarted bot): the history comes from the store.
    agent, model = agent_with(store, [AIMessage("You asked about Paris.", id="ai-3")])
    agent.invoke({"messages": [HumanMessage("What did I ask?", id="om_2")]}, context=chat)
    sent = model.seen[0]
    assert [type(m) for m in sent] == [
        SystemMessage,
        HumanMessage,
        AIMessage,
        ToolMessage,
        AIMessage,
        HumanMessage,
    ]
    assert sent[2].tool_calls[0]["args"] == {"city": "Paris"}
    assert sent[3].tool_call_id == "call_1"
    assert sent[-1].text == "What did I ask?"
    assert len(stored(store, chat.user_key)) == 6

    # The platform re-delivers om_2: the agent runs again, the store keeps the turn once.
    agent, model = agent_with(store, [AIMessage("Paris, as I said.", id="ai-4")])
    agent.invoke({"messages": [HumanMessage("What did I ask?", id="om_2")]}, context=chat)
    assert len(stored(store, chat.user_key)) == 6
    assert stored(store, chat.user_key)[-1] == ("assistant", "You asked about Paris.")


def test_persona_summary_checkpoint_and_budget_shape_what_the_model_sees(store):
    chat = Chat("feishu:private:ada")
    agent, _ = agent_with(store, [AIMessage("Noted.", id="x1")])
    agent.invoke({"messages": [HumanMessage("My name is Ada.", id="a1")]}, context=chat)
    agent, _ = agent_with(store, [AIMessage("Fine.", id="x2")])
    agent.invoke({"messages": [HumanMessage("I like rain.", id="a2")]}, context=chat)

    conv = store.get_conversation_by_user(chat.user_key)
    first_turn_end = store.load_history(conv.id, max_turns=100)[1]
    store.set_summary(conv.id, "The user is Ada.", covers_through_id=first_turn_end.id, tokens=5)
    store.set_active_persona_id(conv.id, "pirate")

    agent, model = agent_with(
        store, [AIMessage("Arr.", id="x3")], personas={"pirate": "Talk like a pirate."}
    )
    agent.invoke({"messages": [HumanMessage("Hello?", id="a3")]}, context=chat)
    sent = model.seen[0]
    assert [m.id for m in sent[1:3]] == [PERSONA_ID, SUMMARY_ID]
    assert sent[1].text == "Talk like a pirate."
    assert sent[2].text == "Summary of the conversation so far: The user is Ada."
    assert [m.text for m in sent[3:]] == ["I like rain.", "Fine.", "Hello?"]

    # With a budget of one turn, only the newest turn after the checkpoint is sent.
    agent, model = agent_with(
        store, [AIMessage("Aye.", id="x4")], max_turns=1, personas={"pirate": "Talk like a pirate."}
    )
    agent.invoke({"messages": [HumanMessage("Again?", id="a4")]}, context=chat)
    assert [m.text for m in model.seen[0][3:]] == ["Hello?", "Arr.", "Again?"]
    assert [c for _, c in stored(store, chat.user_key)][-2:] == ["Again?", "Aye."]


def test_the_user_key_may_come_from_the_config(store):
    agent = create_agent(
        ToolCallingFake(messages=iter([AIMessage("ok", id="k1")]), seen=[]),
        [],
        middleware=[ConvstoreMemory(store)],
    )
    agent.invoke({"messages": [HumanMessage("hi")]}, config={"configurable": {"thread_id": "t-1"}})
    assert stored(store, "t-1") == [("user", "hi"), ("assistant", "ok")]


def test_ainvoke_on_the_async_engine(engine):
    async def scenario() -> None:
        async with engine.async_store() as store:
            agent, _model = agent_with(
                store, [weather_call("c1", "Oslo", "o1"), AIMessage("Sunny in Oslo.", id="o2")]
            )
            chat = Chat("qq:u")
            await agent.ainvoke({"messages": [HumanMessage("Oslo?", id="q1")]}, context=chat)
            conv = await store.get_conversation_by_user("qq:u")
            history = await store.load_history(conv.id)
            assert [m.role for m in history] == ["user", "assistant", "tool", "assistant"]

    asyncio.run(scenario())
