"""`ConvstoreChatMessageHistory`: LangChain's classic chat history, kept in convstore.

For apps on `RunnableWithMessageHistory` and langchain-classic. As LangChain's own SQL
history takes a session id and a connection, this takes a session id (the conversation's
user key) and a store (`Store`, `Client`, or `AsyncClient` for the async methods only):

    history = ConvstoreChatMessageHistory("feishu:group:user123", convstore.Client(url))

`messages` reads a turn-safe window in the store (`max_turns`, `max_tokens`; all
messages when neither is set), so a tool result never comes without its call.
`add_messages` saves a batch all or nothing; a message with an `id` is saved under the
idempotency key `lc:<id>`, so adding the same message again stores it once. Messages
round-trip as `convstore.langchain.codec` describes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage

from convstore._adapters import Binding, TokenCounter, chunks
from convstore.langchain.codec import from_stored, to_new_message
from convstore.model import Message, exported_messages


class ConvstoreChatMessageHistory(BaseChatMessageHistory):
    """The chat history of one session (a convstore conversation found by its user key).

    Options: `platform` (default `"langchain"`) and `chat_id` for a conversation it
    creates; `max_turns` / `max_tokens`, the window `messages` reads; `count_tokens`, a
    function of a message giving the tokens stored with it.
    """

    def __init__(
        self,
        session_id: str,
        store: Any,
        *,
        platform: str = "langchain",
        chat_id: str | None = None,
        max_turns: int | None = None,
        max_tokens: int | None = None,
        count_tokens: TokenCounter | None = None,
    ):
        self.session_id = session_id
        self.max_turns = max_turns
        self.max_tokens = max_tokens
        self.count_tokens = count_tokens
        self._conversation = Binding(store, session_id, platform, chat_id)

    @property
    def store(self) -> Any:
        """The engine the history is kept in."""
        return self._conversation.store

    def _read(self) -> tuple[str, tuple[Any, ...]]:
        """The store operation that reads the configured window (all: the export)."""
        if self.max_turns is None and self.max_tokens is None:
            return "export_conversation", ()
        return "load_history", (self.max_turns, None, self.max_tokens)

    def _batches(self, messages: Sequence[BaseMessage]) -> list[list[Any]]:
        stored = [
            to_new_message(m, None if m.id is None else f"lc:{m.id}", self.count_tokens)
            for m in messages
        ]
        return chunks(stored)

    @staticmethod
    def _decoded(answer: Any) -> list[BaseMessage]:
        """The messages of a history window or an export (`None`: no conversation yet)."""
        if answer is None:
            return []
        stored: list[Message] = exported_messages(answer) if isinstance(answer, dict) else answer
        return [from_stored(m) for m in stored]

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """The session's messages in the configured window, oldest first."""
        operation, arguments = self._read()
        return self._decoded(self._conversation.call(operation, *arguments, create=False))

    async def aget_messages(self) -> list[BaseMessage]:
        """`messages`, without blocking the event loop."""
        operation, arguments = self._read()
        return self._decoded(await self._conversation.acall(operation, *arguments, create=False))

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Save the messages, in order, all or nothing (per 1,000)."""
        for batch in self._batches(messages):
            self._conversation.call("save_messages", batch)

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """`add_messages`, without blocking the event loop."""
        for batch in self._batches(messages):
            await self._conversation.acall("save_messages", batch)

    def clear(self) -> None:
        """Remove the session's messages (the conversation record stays)."""
        self._conversation.call("clear_conversation", create=False)

    async def aclear(self) -> None:
        """`clear`, without blocking the event loop."""
        await self._conversation.acall("clear_conversation", create=False)


__all__ = ["ConvstoreChatMessageHistory"]
