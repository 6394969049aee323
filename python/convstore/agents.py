"""`ConvstoreSession`: an OpenAI Agents SDK session kept in convstore.

As the SDK's `SQLiteSession(session_id, db_path)`, it takes a session id (the
conversation's user key) and a store (`Store`, `Client` or `AsyncClient`):

    session = ConvstoreSession("feishu:group:user123", convstore.Client(url))
    result = await Runner.run(agent, "Hello", session=session)

It implements the SDK's `Session` protocol with `SQLiteSession`'s semantics:
`get_items(limit)` gives the newest `limit` items oldest first (all with `None`, or with
`session_settings.limit` when set; none for 0), `add_items` appends in order,
`pop_item` removes and returns the newest item (`None` when there is none; through the
store's truncate), `clear_session` removes every item. Reading a session that was never
written creates nothing.

How an item is stored: one convstore message per item, the item itself (the JSON the SDK
hands over) in `metadata["openai_agents"]` as `{"version": 1, "data": item}`, so it
comes back equal. The role: `user` for user messages, `system` for system and developer
messages, `tool` for tool results (every `*_output` item, `mcp_approval_response`),
`assistant` for everything else (assistant messages, function calls, reasoning, hosted
tool calls). The content: the message's text, `name(arguments)` for a function call, the
output for a tool result, the summary for reasoning, else the item's type. Tokens: about
four characters a token of that content, unless `count_tokens` says otherwise.

No idempotency key is derived from items: the SDK reconciles its own session writes by
reading the tail back (`get_items(limit)`), and a store that quietly dropped a repeated
item would break that. A retry of one `add_items` after a lost answer is still stored
once, through the client's generated keys.
"""

from __future__ import annotations

import json
from typing import Any

from agents.memory.session_settings import SessionSettings, resolve_session_limit

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

FRAMEWORK = "openai_agents"
"""The metadata key of the envelope."""

_MAX_WINDOW = 100_000
"""The most messages one history read returns."""


def role_of(item: dict[str, Any]) -> str:
    """The convstore role of an SDK item."""
    role = item.get("role")
    kind = item.get("type", "message")
    if kind == "message" and role == "user":
        return "user"
    if kind == "message" and role in ("system", "developer"):
        return "system"
    if kind.endswith("_output") or kind == "mcp_approval_response":
        return "tool"
    return "assistant"


def _texts(parts: Any) -> str:
    if isinstance(parts, str):
        return parts
    if isinstance(parts, list):
        return "".join(
            str(p.get("text") or p.get("refusal") or "") for p in parts if isinstance(p, dict)
        )
    return ""


def content_of(item: dict[str, Any]) -> str:
    """The readable text of an SDK item."""
    kind = item.get("type", "message")
    if kind == "message":
        return _texts(item.get("content"))
    if kind == "function_call":
        return f"{item.get('name')}({item.get('arguments', '')})"
    if "output" in item:
        output = item["output"]
        return output if isinstance(output, str) else _texts(output) or json.dumps(output)
    if kind == "reasoning":
        return _texts(item.get("summary"))
    return str(kind)


def to_new_message(item: dict[str, Any], count_tokens: TokenCounter | None = None) -> NewMessage:
    """The convstore message that stores `item`."""
    content = content_of(item)
    tokens = count_tokens(item) if count_tokens is not None else estimate_tokens(content)
    return NewMessage(
        role=role_of(item),  # type: ignore[arg-type]
        content=readable(content),
        tokens=tokens,
        metadata={FRAMEWORK: envelope(item)},
    )


def from_stored(message: Message) -> dict[str, Any]:
    """The SDK item a stored message holds (a plain message for one saved without the SDK)."""
    item = unwrap(message, FRAMEWORK)
    if isinstance(item, dict):
        return item
    if message.role == "tool" and "tool_call_id" in message.metadata:
        return {
            "type": "function_call_output",
            "call_id": str(message.metadata["tool_call_id"]),
            "output": message.content,
        }
    role = "assistant" if message.role == "tool" else message.role
    return {"role": role, "content": message.content}


class ConvstoreSession:
    """The session `session_id` (a conversation's user key) of the Agents SDK, in convstore.

    Options: `platform` (default `"agents"`) and `chat_id` for the conversation it
    creates; `session_settings` as the SDK's (its `limit` is the default of `get_items`);
    `count_tokens`, a function of an item giving the tokens stored with it.
    """

    def __init__(
        self,
        session_id: str,
        store: Any,
        *,
        platform: str = "agents",
        chat_id: str | None = None,
        session_settings: SessionSettings | None = None,
        count_tokens: TokenCounter | None = None,
    ):
        self.session_id = session_id
        self.session_settings = session_settings or SessionSettings()
        self.count_tokens = count_tokens
        self._conversation = Binding(store, session_id, platform, chat_id)

    async def get_items(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The newest `limit` items, oldest first (all of them for `None`)."""
        limit = resolve_session_limit(limit, self.session_settings)
        if limit == 0:
            return []
        if limit is None or limit < 0:
            document = await self._conversation.acall("export_conversation", create=False)
            stored = [] if document is None else exported_messages(document)
        else:
            stored = await self._newest(limit)
        return [from_stored(m) for m in stored]

    async def _newest(self, count: int) -> list[Message]:
        """Exactly the newest `count` messages (fewer only when the session has fewer).

        A history window never starts at a tool result; when one would, the turn before
        the window is read too, and its tail fills the window up.
        """
        newest: list[Message] = []
        before: int | None = None
        while len(newest) < count:
            want = min(count - len(newest), _MAX_WINDOW)
            page = await self._conversation.acall(
                "load_history", None, want, None, before, create=False, default=[]
            )
            if len(page) < want:
                cursor = page[0].id if page else before
                turn = await self._conversation.acall(
                    "load_history", 1, None, None, cursor, create=False, default=[]
                )
                page = turn[max(0, len(turn) - (want - len(page))) :] + page
                if not turn:
                    return page + newest
            newest = page + newest
            before = page[0].id
        return newest

    async def add_items(self, items: list[dict[str, Any]]) -> None:
        """Append the items, in order, all or nothing (per 1,000)."""
        if not items:
            return
        stored = [to_new_message(item, self.count_tokens) for item in items]
        for batch in chunks(stored):
            await self._conversation.acall("save_messages", batch)

    async def pop_item(self) -> dict[str, Any] | None:
        """Remove and return the newest item; `None` when the session has none."""
        truncated = await self._conversation.acall("truncate", last=1, create=False)
        if truncated is None or not truncated.removed:
            return None
        return from_stored(truncated.removed[-1])

    async def clear_session(self) -> None:
        """Remove every item of the session."""
        await self._conversation.acall("clear_conversation", create=False)
