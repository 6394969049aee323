"""How a LangChain message is stored as a convstore message, and read back.

| LangChain | role | tokens |
| --- | --- | --- |
| `HumanMessage` | user | estimate |
| `AIMessage` (tool calls included) | assistant | `usage_metadata["output_tokens"]`, else estimate |
| `SystemMessage` | system | estimate |
| `ToolMessage`, `FunctionMessage` | tool | estimate |
| `ChatMessage(role=r)` | r when it is one of the four, else user | estimate |

The content is `message.text` (the text of string content or of the text blocks).

The whole message is kept in `metadata["langchain"]` as `{"version": 1, "data":
message_to_dict(message)}` (langchain-core's own serialized form: type, content blocks,
`tool_calls`, `tool_call_id`, `additional_kwargs`, `response_metadata`, `id`, ...), so it
comes back equal. A stored message without it (saved by the drop-in or by hand) is read as
the message of its role with its content (a tool message takes `tool_call_id` from the
metadata when there is one). The estimate is about four characters a token; pass
`count_tokens` to the adapters to count another way.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
    message_to_dict,
    messages_from_dict,
)

from convstore._adapters import TokenCounter, envelope, estimate_tokens, readable, unwrap
from convstore.errors import InvalidInput
from convstore.model import Message, NewMessage

FRAMEWORK = "langchain"
"""The metadata key of the envelope."""

_ROLES = ("user", "assistant", "system", "tool")


def role_of(message: BaseMessage) -> str:
    """The convstore role of a LangChain message."""
    if isinstance(message, RemoveMessage):
        raise InvalidInput(
            "messages: a RemoveMessage is an instruction, not a message", field="messages"
        )
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, (ToolMessage, FunctionMessage)):
        return "tool"
    if isinstance(message, ChatMessage) and message.role in _ROLES:
        return message.role
    return "user"


def default_tokens(message: BaseMessage) -> int:
    """The output tokens an AI message reports, else an estimate from its text."""
    usage = getattr(message, "usage_metadata", None)
    if isinstance(message, AIMessage) and usage and usage.get("output_tokens"):
        return int(usage["output_tokens"])
    return estimate_tokens(message.text)


def to_new_message(
    message: BaseMessage, idempotency_key: str | None, count_tokens: TokenCounter | None = None
) -> NewMessage:
    """The convstore message that stores `message`."""
    counter = count_tokens or default_tokens
    return NewMessage(
        role=role_of(message),  # type: ignore[arg-type]
        content=readable(message.text),
        tokens=counter(message),
        metadata={FRAMEWORK: envelope(message_to_dict(message))},
        idempotency_key=idempotency_key,
    )


def from_stored(message: Message) -> BaseMessage:
    """The LangChain message a stored message holds."""
    data: Any = unwrap(message, FRAMEWORK)
    if data is not None:
        return messages_from_dict([data])[0]
    if message.role == "user":
        return HumanMessage(message.content)
    if message.role == "assistant":
        return AIMessage(message.content)
    if message.role == "system":
        return SystemMessage(message.content)
    return ToolMessage(message.content, tool_call_id=str(message.metadata.get("tool_call_id", "")))
