"""`ConvstoreSession` against the OpenAI Agents SDK, beside the SDK's own `SQLiteSession`."""

from __future__ import annotations

import asyncio
import copy

from agents import Agent, Runner, function_tool, set_tracing_disabled
from agents.items import ModelResponse
from agents.memory import Session, SessionSettings, SQLiteSession
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

from convstore.agents import ConvstoreSession

set_tracing_disabled(True)  # no network: traces would go to the OpenAI platform


def items() -> list[dict]:
    return [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "Need the weather tool."}],
        },
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
            "status": "completed",
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Sunny in Paris.", "annotations": []}],
        },
        {"role": "user", "content": [{"type": "input_text", "text": "Thanks!"}]},
        {
            "type": "function_call_output",
            "call_id": "call_2",
            "output": [{"type": "input_text", "text": "x"}],
        },
    ]


def run(coroutine):
    return asyncio.run(coroutine)


def test_items_come_back_equal_with_roles_and_contents(store):
    session = ConvstoreSession("feishu:group:user123", store)
    assert isinstance(session, Session)
    run(session.add_items(items()))
    assert run(session.get_items()) == items()
    conv = store.get_conversation_by_user("feishu:group:user123")
    stored = store.load_history(conv.id, max_messages=100)
    assert [(m.role, m.content) for m in stored] == [
        ("system", "Be brief."),
        ("user", "Weather in Paris?"),
        ("assistant", "Need the weather tool."),
        ("assistant", 'get_weather({"city": "Paris"})'),
        ("tool", "sunny"),
        ("assistant", "Sunny in Paris."),
        ("user", "Thanks!"),
        ("tool", "x"),
    ]


def test_get_items_with_a_limit_answers_as_sqlite_session_does(store):
    ours = ConvstoreSession("u", store)
    theirs = SQLiteSession("u")
    for chunk in (items()[:3], items()[3:5], items()[5:]):
        run(ours.add_items(chunk))
        run(theirs.add_items(chunk))
    for limit in [None, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 50]:
        # Limits 3 and 4 begin just after a function call, at its output: all the items asked for.
        assert run(ours.get_items(limit)) == run(theirs.get_items(limit)), limit
    limited = ConvstoreSession("u", store, session_settings=SessionSettings(limit=2))
    assert run(limited.get_items()) == items()[-2:]


def test_reading_a_session_never_written_creates_nothing(store):
    session = ConvstoreSession("nobody", store)
    assert run(session.get_items()) == []
    assert run(session.get_items(5)) == []
    run(session.clear_session())
    run(session.add_items([]))
    assert store.get_conversation_by_user("nobody") is None


def test_clear_session_removes_every_item(store):
    session = ConvstoreSession("u", store)
    run(session.add_items(items()))
    run(session.clear_session())
    assert run(session.get_items()) == []
    run(session.add_items(items()[:1]))
    assert run(session.get_items()) == items()[:1]


def test_on_the_async_engine(engine):
    async def scenario() -> None:
        async with engine.async_store() as store:
            session = ConvstoreSession("u", store)
            await session.add_items(items())
            assert await session.get_items(4) == items()[-4:]

    run(scenario())


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


class CannedModel(Model):
    """A local model: answers with the outputs it was given, in order, noting its inputs."""

    def __init__(self, outputs: list[list]):
        self.outputs = outputs
        self.inputs: list = []

    async def get_response(
        self,
        system_instructions,
        input,
        model_settings,
        tools,
        output_schema,
        handoffs,
        tracing,
        *,
        previous_response_id,
        conversation_id,
        prompt,
    ):
        self.inputs.append(copy.deepcopy(input))
        return ModelResponse(output=self.outputs.pop(0), usage=Usage(), response_id=None)

    def stream_response(self, *args, **kwargs):
        raise NotImplementedError("the tests do not stream")


def call(call_id: str, city: str):
    return ResponseFunctionToolCall(
        id=f"fc_{call_id}",
        call_id=call_id,
        name="get_weather",
        arguments=f'{{"city": "{city}"}}',
        type="function_call",
        status="completed",
    )


def say(message_id: str, text: str):
    return ResponseOutputMessage(
        id=message_id,
        role="assistant",
        status="completed",
        type="message",
        content=[ResponseOutputText(text=text, type="output_text", annotations=[])],
    )


def test_runner_run_reads_and_writes_the_session(store):
    model = CannedModel(
        [
            [call("call_1", "Paris")],
            [say("msg_1", "Sunny in Paris.")],
            [say("msg_2", "You asked about Paris.")],
        ]
    )
    agent = Agent(
        name="weather", instructions="Answer about the weather.", model=model, tools=[get_weather]
    )
    session = ConvstoreSession("feishu:group:user123", store)

    first = run(Runner.run(agent, "Weather in Paris?", session=session))
    assert first.final_output == "Sunny in Paris."
    # A new session object (a restarted bot) on the same conversation.
    second = run(
        Runner.run(
            agent, "What did I ask?", session=ConvstoreSession("feishu:group:user123", store)
        )
    )
    assert second.final_output == "You asked about Paris."

    sent = model.inputs[2]
    assert [item.get("type", "message") for item in sent] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
        "message",
    ]
    assert sent[2]["output"] == "sunny in Paris"
    assert sent[-1]["content"] == "What did I ask?"
    conv = store.get_conversation_by_user("feishu:group:user123")
    assert [(m.role, m.content) for m in store.load_history(conv.id, max_turns=10)] == [
        ("user", "Weather in Paris?"),
        ("assistant", 'get_weather({"city": "Paris"})'),
        ("tool", "sunny in Paris"),
        ("assistant", "Sunny in Paris."),
        ("user", "What did I ask?"),
        ("assistant", "You asked about Paris."),
    ]
    assert run(session.get_items()) == [*sent, run(session.get_items(1))[0]]
