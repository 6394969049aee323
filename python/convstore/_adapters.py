"""What the framework adapters share.

The conversation an adapter is bound to, calling a sync or an async engine from either
side, the metadata envelope of a framework's own serialized form, and token estimates.

Every framework object is stored as one convstore message: a role, a readable `content`
(the text a person or the drop-in sees), `tokens`, and in `metadata[<framework>]` an
envelope `{"version": 1, "data": <the framework's serialized form>}` from which it comes
back equal. A message without an envelope (saved by the drop-in, another framework or
curl) is read from its role and content instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from convstore.api import AsyncConvstoreAPI, ConvstoreAPI
from convstore.errors import InvalidInput, NotFound
from convstore.model import Message

ENVELOPE_VERSION = 1
"""The version of the envelope and of every adapter's mapping written into it."""

_T = TypeVar("_T")


def is_async(store: Any) -> bool:
    """Whether `store` is an async engine (`AsyncClient`); otherwise it must be a sync one."""
    if isinstance(store, AsyncConvstoreAPI):
        return True
    if isinstance(store, ConvstoreAPI):
        return False
    raise InvalidInput(
        f"store: expected a convstore Store, Client or AsyncClient, got {type(store).__name__}",
        field="store",
    )


def call_sync(store: Any, operation: str, *args: Any, **kwargs: Any) -> Any:
    """Run one operation on a sync engine (an async engine cannot be waited for here)."""
    if is_async(store):
        raise TypeError(
            f"{type(store).__name__} is asynchronous: use the adapter's async methods, "
            "or give it a sync store (Store or Client)"
        )
    return getattr(store, operation)(*args, **kwargs)


async def call_async(store: Any, operation: str, *args: Any, **kwargs: Any) -> Any:
    """Run one operation on either kind of engine without blocking the event loop."""
    method = getattr(store, operation)
    if is_async(store):
        return await method(*args, **kwargs)
    return await asyncio.to_thread(method, *args, **kwargs)


class Binding:
    """The conversation of one user key, found (or created) on first use.

    The id is kept; when the conversation has gone (deleted, cleaned up) a call that gets
    `NotFound` looks it up again once. A call with `create=False` creates nothing: on a
    user key without a conversation it answers `default`.
    """

    def __init__(self, store: Any, user_key: str, platform: str, chat_id: str | None = None):
        is_async(store)
        self.store = store
        self.user_key = user_key
        self.platform = platform
        self.chat_id = chat_id
        self._id: int | None = None

    def _lookup(self, create: bool) -> tuple[str, tuple[Any, ...]]:
        if create:
            return "get_or_create", (self.user_key, self.platform, self.chat_id)
        return "get_conversation_by_user", (self.user_key,)

    def call(
        self, operation: str, *args: Any, create: bool = True, default: Any = None, **kwargs: Any
    ) -> Any:
        """`store.<operation>(conversation_id, *args, **kwargs)`, synchronously."""
        for attempt in range(2):
            if self._id is None:
                lookup, arguments = self._lookup(create)
                found = call_sync(self.store, lookup, *arguments)
                if found is None:
                    return default
                self._id = found.id
            try:
                return call_sync(self.store, operation, self._id, *args, **kwargs)
            except NotFound:
                self._id = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    async def acall(
        self, operation: str, *args: Any, create: bool = True, default: Any = None, **kwargs: Any
    ) -> Any:
        """`store.<operation>(conversation_id, *args, **kwargs)`, as a coroutine."""
        for attempt in range(2):
            if self._id is None:
                lookup, arguments = self._lookup(create)
                found = await call_async(self.store, lookup, *arguments)
                if found is None:
                    return default
                self._id = found.id
            try:
                return await call_async(self.store, operation, self._id, *args, **kwargs)
            except NotFound:
                self._id = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


def envelope(data: Any) -> dict[str, Any]:
    """The envelope a framework's serialized form is stored in."""
    return {"version": ENVELOPE_VERSION, "data": data}


def unwrap(message: Message, framework: str) -> Any | None:
    """The serialized form `framework` stored with `message`, or `None` if it stored none."""
    stored = message.metadata.get(framework)
    if isinstance(stored, Mapping) and stored.get("version") == ENVELOPE_VERSION:
        return stored.get("data")
    return None


def estimate_tokens(text: str) -> int:
    """A token estimate for text with no count of its own: about four characters a token."""
    return (len(text) + 3) // 4


def readable(text: str) -> str:
    """Text for a message's `content`: NUL characters (which the store refuses) replaced.

    The exact text stays in the envelope, where JSON escapes it.
    """
    return text.replace("\x00", "\ufffd")


def chunks(items: list[_T], size: int = 1_000) -> list[list[_T]]:
    """`items` in batches the store accepts in one `save_messages` (at most 1,000)."""
    return [items[start : start + size] for start in range(0, len(items), size)] or []


TokenCounter = Callable[[Any], int]
"""Counts the tokens of one framework object; the adapters' `count_tokens` option."""
