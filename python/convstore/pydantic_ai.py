"""pydantic-ai message history kept in convstore.

    history = ConvstoreMessageHistory("feishu:group:user123", convstore.Client(url), max_turns=10)
    result = await agent.run(prompt, message_history=await history.aload())
    await history.asave(result)                 # result.new_messages(), stored once

`load()` reads a turn-safe window in the store (`max_turns`, `max_tokens`; every message
when neither is set) as `list[ModelMessage]`, starting at a user prompt, so a tool return
never comes without its call. `save(result_or_messages)` stores `result.new_messages()`
(or the list given) in one all-or-nothing batch.

How a message is stored: one convstore message per `ModelMessage`, the message itself in
`metadata["pydantic_ai"]` as `{"version": 1, "data": <ModelMessagesTypeAdapter's JSON
form>}`, so it comes back equal (user and system prompts, text, tool calls, tool
returns, retry prompts, thinking, usage, timestamps, run ids). The role: a request with a
user prompt is `user`, one answering the model (tool returns, retry feedback) `tool`, any
other request `system`; a response is `assistant`. The content: the prompt, tool-return
or retry text of a request, the text of a response (its tool calls as `name(args)` when
it has none). Tokens: a response's `usage.output_tokens`, else about four characters a
token, unless `count_tokens` says otherwise. A stored message without the envelope is
read from its role and content (`tool_name` / `tool_call_id` from its metadata).

Idempotency: the messages are saved under the keys `pai:<turn>:<n>`, the turn being
`turn_key` when given (e.g. the chat platform's message id), else the run id of the
messages, so saving the same result twice stores it once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from convstore._adapters import (
    Binding,
    TokenCounter,
    chunks,
    envelope,
    estimate_tokens,
    readable,
    unwrap,
)
from convstore.model import Message, NewMessage, exported_messages

FRAMEWORK = "pydantic_ai"
"""The metadata key of the envelope."""

_USER_PARTS = {"user-prompt", "speech"}
_ANSWER_PARTS = {
    "tool-return",
    "retry-prompt",
    "retry-feedback",
    "tool-search-return",
    "capability-load-return",
}


def role_of(message: ModelMessage) -> str:
    """The convstore role of a pydantic-ai message."""
    if isinstance(message, ModelResponse):
        return "assistant"
    kinds = {getattr(part, "part_kind", None) for part in message.parts}
    if kinds & _USER_PARTS:
        return "user"
    if kinds & _ANSWER_PARTS:
        return "tool"
    return "system"


def _part_text(part: Any) -> str:
    kind = getattr(part, "part_kind", None)
    if kind == "tool-return":
        return part.model_response_str()
    if kind in ("retry-prompt", "retry-feedback"):
        return part.model_response()
    content = getattr(part, "content", None)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(item for item in content if isinstance(item, str))
    return ""


def content_of(message: ModelMessage) -> str:
    """The readable text of a pydantic-ai message: that of the parts that give its role."""
    if isinstance(message, ModelResponse):
        if message.text is not None:
            return message.text
        calls = [p for p in message.parts if isinstance(p, ToolCallPart)]
        return "\n".join(f"{p.tool_name}({p.args_as_json_str()})" for p in calls)
    role = role_of(message)
    kinds = _USER_PARTS if role == "user" else _ANSWER_PARTS if role == "tool" else None
    parts = [p for p in message.parts if kinds is None or getattr(p, "part_kind", None) in kinds]
    return "\n".join(text for text in map(_part_text, parts) if text)


def default_tokens(message: ModelMessage) -> int:
    """A response's output tokens, else an estimate from the message's text."""
    if isinstance(message, ModelResponse) and message.usage.output_tokens:
        return int(message.usage.output_tokens)
    return estimate_tokens(content_of(message))


def _serialized(message: ModelMessage) -> Any:
    return ModelMessagesTypeAdapter.dump_python([message], mode="json")[0]


def to_new_message(
    message: ModelMessage, idempotency_key: str | None, count_tokens: TokenCounter | None = None
) -> NewMessage:
    """The convstore message that stores `message`."""
    counter = count_tokens or default_tokens
    return NewMessage(
        role=role_of(message),  # type: ignore[arg-type]
        content=readable(content_of(message)),
        tokens=counter(message),
        metadata={FRAMEWORK: envelope(_serialized(message))},
        idempotency_key=idempotency_key,
    )


def from_stored(message: Message) -> ModelMessage:
    """The pydantic-ai message a stored message holds."""
    data = unwrap(message, FRAMEWORK)
    if data is not None:
        return ModelMessagesTypeAdapter.validate_python([data])[0]
    when = message.timestamp
    if message.role == "assistant":
        return ModelResponse(parts=[TextPart(message.content)], timestamp=when)
    if message.role == "system":
        return ModelRequest(
            parts=[SystemPromptPart(message.content, timestamp=when)], timestamp=when
        )
    if message.role == "tool":
        part = ToolReturnPart(
            tool_name=str(message.metadata.get("tool_name", "")),
            content=message.content,
            tool_call_id=str(message.metadata.get("tool_call_id", "")),
            timestamp=when,
        )
        return ModelRequest(parts=[part], timestamp=when)
    return ModelRequest(parts=[UserPromptPart(message.content, timestamp=when)], timestamp=when)


def turn_of(messages: Sequence[ModelMessage], turn_key: str | None) -> str:
    """The turn part of the messages' idempotency keys."""
    if turn_key is not None:
        return turn_key
    for message in messages:
        if getattr(message, "run_id", None):
            return str(message.run_id)
    serialized = json.dumps([_serialized(m) for m in messages], sort_keys=True)
    return hashlib.sha256(serialized.encode()).hexdigest()[:32]


def _new_messages(result_or_messages: Any) -> list[ModelMessage]:
    if hasattr(result_or_messages, "new_messages"):
        return list(result_or_messages.new_messages())
    return list(result_or_messages)


class ConvstoreMessageHistory:
    """The message history of one conversation (found by its user key) for pydantic-ai.

    `store` is a `Store`, `Client` or `AsyncClient` (the latter for `aload` / `asave`).
    Options: `platform` (default `"pydantic-ai"`) and `chat_id` for the conversation it
    creates; `max_turns` / `max_tokens`, the window `load` reads; `count_tokens`, a
    function of a message giving the tokens stored with it.
    """

    def __init__(
        self,
        user_key: str,
        store: Any,
        *,
        platform: str = "pydantic-ai",
        chat_id: str | None = None,
        max_turns: int | None = None,
        max_tokens: int | None = None,
        count_tokens: TokenCounter | None = None,
    ):
        self.max_turns = max_turns
        self.max_tokens = max_tokens
        self.count_tokens = count_tokens
        self._conversation = Binding(store, user_key, platform, chat_id)

    def _window(self) -> tuple[str, tuple[Any, ...]]:
        if self.max_turns is None and self.max_tokens is None:
            return "export_conversation", ()
        return "load_history", (self.max_turns, None, self.max_tokens)

    @staticmethod
    def _decoded(answer: Any) -> list[ModelMessage]:
        if answer is None:
            return []
        stored = exported_messages(answer) if isinstance(answer, dict) else answer
        return [from_stored(m) for m in stored]

    def _batches(self, result_or_messages: Any, turn_key: str | None) -> list[list[NewMessage]]:
        messages = _new_messages(result_or_messages)
        turn = turn_of(messages, turn_key)
        stored = [
            to_new_message(m, f"pai:{turn}:{n}", self.count_tokens) for n, m in enumerate(messages)
        ]
        return chunks(stored)

    def load(self) -> list[ModelMessage]:
        """The conversation's window as `message_history` for `Agent.run`."""
        operation, arguments = self._window()
        return self._decoded(self._conversation.call(operation, *arguments, create=False))

    async def aload(self) -> list[ModelMessage]:
        """`load`, without blocking the event loop."""
        operation, arguments = self._window()
        return self._decoded(await self._conversation.acall(operation, *arguments, create=False))

    def save(self, result_or_messages: Any, *, turn_key: str | None = None) -> None:
        """Store a run's `new_messages()` (or the messages given), once."""
        for batch in self._batches(result_or_messages, turn_key):
            self._conversation.call("save_messages", batch)

    async def asave(self, result_or_messages: Any, *, turn_key: str | None = None) -> None:
        """`save`, without blocking the event loop."""
        for batch in self._batches(result_or_messages, turn_key):
            await self._conversation.acall("save_messages", batch)
