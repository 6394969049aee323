"""pydantic-ai message history in convstore: an `Agent` on `FunctionModel`, several turns."""

from __future__ import annotations

import asyncio

from pydantic_ai import Agent, ModelRetry
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from convstore.pydantic_ai import ConvstoreMessageHistory


def user_prompts(messages: list[ModelMessage]) -> list[str]:
    return [
        part.content
        for m in messages
        if isinstance(m, ModelRequest)
        for part in m.parts
        if isinstance(part, UserPromptPart)
    ]


def model_fn(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """A scripted model: asks the weather tool about the newest prompt's city, then answers."""
    last = messages[-1]
    returns = [p for p in last.parts if isinstance(p, ToolReturnPart)]
    prompts = user_prompts(messages)
    if returns and returns[0].outcome == "success":
        return ModelResponse(parts=[TextPart(f"It is {returns[0].content}.")])
    if returns:  # the tool asked for a retry: give the country too
        return ModelResponse(parts=[ToolCallPart("weather", {"city": "Paris, France"}, "call_2")])
    if prompts[-1].startswith("Weather"):
        return ModelResponse(parts=[ToolCallPart("weather", {"city": "Paris"}, "call_1")])
    return ModelResponse(parts=[TextPart(f"Before this you asked: {' | '.join(prompts[:-1])}")])


def weather_agent() -> Agent:
    agent = Agent(FunctionModel(model_fn), system_prompt="You answer about the weather.")

    @agent.tool_plain
    def weather(city: str) -> str:
        if "," not in city:
            raise ModelRetry("Give the country too.")
        return f"sunny in {city}"

    return agent


def test_an_agent_runs_several_turns_on_history_from_convstore(store):
    agent = weather_agent()
    history = ConvstoreMessageHistory("feishu:group:user123", store, max_turns=10)

    first = agent.run_sync("Weather in Paris?", message_history=history.load())
    assert first.output == "It is sunny in Paris, France."
    history.save(first)
    assert history.load() == first.new_messages()  # tool calls, a retry, returns: all equal

    second = agent.run_sync("What did I ask?", message_history=history.load())
    assert second.output == "Before this you asked: Weather in Paris?"
    history.save(second)
    history.save(second)  # saved twice: stored once
    assert history.load() == first.new_messages() + second.new_messages()

    conv = store.get_conversation_by_user("feishu:group:user123")
    assert [m.role for m in store.load_history(conv.id, max_turns=10)] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
    ]
    stored = store.load_history(conv.id, max_turns=10)
    assert stored[0].content == "Weather in Paris?"  # the system prompt part is not the user's
    assert stored[1].content == 'weather({"city":"Paris"})'
    assert stored[4].content == "sunny in Paris, France"
    assert stored[5].tokens == first.new_messages()[5].usage.output_tokens

    last_turn = ConvstoreMessageHistory("feishu:group:user123", store, max_turns=1).load()
    assert last_turn == second.new_messages()


def test_a_turn_key_makes_a_redelivered_turn_store_once(store):
    agent = weather_agent()
    history = ConvstoreMessageHistory("u", store)
    for _ in range(2):  # the platform delivers message om_1 twice: the bot runs twice
        result = agent.run_sync("Hello?", message_history=history.load())
        history.save(result, turn_key="om_1")
    assert len(history.load()) == 2


def test_messages_saved_without_the_adapter_are_read_by_role(store):
    conv = store.get_or_create("u", "feishu")
    store.save_message(conv.id, "user", "plain question")
    store.save_message(conv.id, "assistant", "", metadata={"tool_calls": [{"id": "c1"}]})
    store.save_message(conv.id, "tool", "42", metadata={"tool_name": "calc", "tool_call_id": "c1"})
    store.save_message(conv.id, "assistant", "plain answer")
    loaded = ConvstoreMessageHistory("u", store).load()
    assert [type(m) for m in loaded] == [ModelRequest, ModelResponse, ModelRequest, ModelResponse]
    assert loaded[2].parts[0].tool_name == "calc"
    assert loaded[3].parts[0].content == "plain answer"
    # The agent takes such a history as it is.
    result = weather_agent().run_sync("What now?", message_history=loaded)
    assert result.output == "Before this you asked: plain question"


def test_an_unknown_user_key_loads_an_empty_history_and_creates_nothing(store):
    assert ConvstoreMessageHistory("nobody", store).load() == []
    assert store.get_conversation_by_user("nobody") is None


def test_on_the_async_engine(engine):
    async def scenario() -> None:
        async with engine.async_store() as store:
            history = ConvstoreMessageHistory("u", store, max_tokens=10_000)
            result = await weather_agent().run(
                "Weather in Paris?", message_history=await history.aload()
            )
            await history.asave(result)
            assert await history.aload() == result.new_messages()

    asyncio.run(scenario())
