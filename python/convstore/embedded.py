"""The embedded engine: the store's actor running inside this Python process.

`Store(db_url=None, data_dir="data", **settings)` opens the store through the native
module `convstore._native` (built by maturin from `python/Cargo.toml` when the package is
installed with `pip install ./python`): the library's `StoreActor` on an actix system of
its own thread. Every call waits with the GIL released, so saves from many Python threads
meet in one group commit. The native engine answers with the HTTP contract's JSON bodies,
read here into the same dataclasses the remote `Client` returns, and raises the same
exceptions.

`AsyncStore` is the same store for asyncio: each call waits on a worker thread, never on
the event loop.

This module is imported on first use of `convstore.Store`, so that an installation
without the native module still offers the remote `Client`.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import json
import os
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from convstore._requests import _id
from convstore.api import DEFAULT_BUDGET, AsyncConvstoreAPI, ConvstoreAPI, operation_names
from convstore.errors import InvalidInput
from convstore.model import (
    BudgetStatus,
    Context,
    Conversation,
    ConversationPage,
    Message,
    NewMessage,
    Role,
    SavedMessage,
    Stats,
    Truncated,
    VacuumReport,
)

try:
    from convstore._native import Engine  # type: ignore[import-not-found]
except ImportError as error:
    raise ImportError(
        "convstore.Store needs the native module convstore._native, which this installation "
        "does not have; install the package with `pip install ./python` (it builds the module "
        "with the Rust toolchain), or use convstore.Client(url) against a `convstore serve` daemon"
    ) from error

_dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


def _messages(text: str) -> list[Message]:
    return [Message.from_json(m) for m in json.loads(text)]


def _conversation(text: str) -> Conversation:
    return Conversation.from_json(json.loads(text))


class Store(ConvstoreAPI):
    """The conversation store, embedded in this process.

    `db_url` is a database URL as the daemon takes it (`postgresql://...`,
    `mysql://...`, SQLAlchemy driver suffixes such as `postgresql+asyncpg://` included, a
    path or `sqlite:///path` for SQLite); without one, SQLite at
    `<data_dir>/conversations.db`. `settings` are the daemon's configuration keys
    (`config.toml`): `cleanup_days`, `max_history_turns`, `echo`, and the sections as
    dicts, e.g. `database={"pool_size": 4, "sqlite_synchronous": "normal"}` or
    `limits={"max_content_bytes": 65536}`; an unknown key raises `InvalidInput` naming it.

    Thread-safe: share one instance between all threads. `close()` (also called at
    interpreter exit) commits every queued write before it returns.
    """

    def __init__(
        self, db_url: str | None = None, data_dir: str | os.PathLike[str] = "data", **settings: Any
    ):
        config = {"db_url": db_url or "", "data_dir": os.fspath(data_dir), **settings}
        try:
            text = _dumps(config)
        except TypeError as error:
            raise InvalidInput(f"settings: {error}", field="settings") from error
        self._engine = Engine(text)
        self._closer = weakref.finalize(self, self._engine.close)

    # ---- conversations ------------------------------------------------------------------

    def get_or_create(
        self, user_key: str, platform: str, chat_id: str | None = None
    ) -> Conversation:
        return _conversation(self._engine.get_or_create(user_key, platform, chat_id))

    def get_conversation(self, conversation_id: int) -> Conversation:
        return _conversation(self._engine.get_conversation(_id(conversation_id, "conversation_id")))

    def get_conversation_by_user(self, user_key: str) -> Conversation | None:
        found = json.loads(self._engine.get_conversation_by_user(user_key))
        return None if found is None else Conversation.from_json(found)

    def list_conversations(
        self,
        user_key: str | None = None,
        platform: str | None = None,
        limit: int | None = None,
        after_id: int | None = None,
    ) -> ConversationPage:
        text = self._engine.list_conversations(user_key, platform, limit, after_id)
        return ConversationPage.from_json(json.loads(text))

    def delete_conversation(self, conversation_id: int) -> None:
        self._engine.delete_conversation(_id(conversation_id, "conversation_id"))

    def fork(
        self,
        conversation_id: int,
        user_key: str,
        platform: str | None = None,
        chat_id: str | None = None,
        through_id: int | None = None,
    ) -> Conversation:
        return _conversation(
            self._engine.fork(
                _id(conversation_id, "conversation_id"), user_key, platform, chat_id, through_id
            )
        )

    # ---- messages -----------------------------------------------------------------------

    def save_message(
        self,
        conversation_id: int,
        role: Role,
        content: str,
        tokens: int = 0,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> SavedMessage:
        text, created = self._engine.save_message(
            _id(conversation_id, "conversation_id"),
            role,
            content,
            tokens,
            None if metadata is None else _dumps(dict(metadata)),
            idempotency_key,
        )
        return SavedMessage.from_answer(json.loads(text), created)

    def save_messages(self, conversation_id: int, messages: Sequence[NewMessage]) -> list[Message]:
        body = []
        for message in messages:
            if not isinstance(message, NewMessage):
                raise InvalidInput(
                    "messages: each must be a convstore.NewMessage", field="messages"
                )
            body.append(message.to_json())
        text = self._engine.save_messages(_id(conversation_id, "conversation_id"), _dumps(body))
        return [Message.from_json(m) for m in json.loads(text)["messages"]]

    def load_history(
        self,
        conversation_id: int,
        max_turns: int | None = None,
        max_messages: int | None = None,
        max_tokens: int | None = None,
        before_id: int | None = None,
    ) -> list[Message]:
        return _messages(
            self._engine.load_history(
                _id(conversation_id, "conversation_id"),
                max_turns,
                max_messages,
                max_tokens,
                before_id,
            )
        )

    def load_context(
        self, conversation_id: int, max_tokens: int | None = None, max_turns: int | None = None
    ) -> Context:
        text = self._engine.load_context(
            _id(conversation_id, "conversation_id"), max_tokens, max_turns
        )
        return Context.from_json(json.loads(text))

    def truncate(
        self, conversation_id: int, *, after_id: int | None = None, last: int | None = None
    ) -> Truncated:
        text = self._engine.truncate(_id(conversation_id, "conversation_id"), after_id, last)
        return Truncated.from_json(json.loads(text))

    def delete_message(self, conversation_id: int, message_id: int) -> None:
        self._engine.delete_message(
            _id(conversation_id, "conversation_id"), _id(message_id, "message_id")
        )

    def clear_conversation(self, conversation_id: int) -> None:
        self._engine.clear_conversation(_id(conversation_id, "conversation_id"))

    # ---- fields a bot updates -----------------------------------------------------------

    def update_conversation_stats(self, conversation_id: int, tokens_used: int) -> Conversation:
        return _conversation(
            self._engine.update_conversation_stats(
                _id(conversation_id, "conversation_id"), tokens_used
            )
        )

    def set_summary(
        self,
        conversation_id: int,
        summary: str | None,
        covers_through_id: int | None = None,
        tokens: int | None = None,
    ) -> Conversation:
        return _conversation(
            self._engine.set_summary(
                _id(conversation_id, "conversation_id"), summary, covers_through_id, tokens
            )
        )

    def set_active_persona_id(self, conversation_id: int, persona_id: str | None) -> Conversation:
        return _conversation(
            self._engine.set_active_persona_id(_id(conversation_id, "conversation_id"), persona_id)
        )

    def get_active_persona_id(self, conversation_id: int) -> str | None:
        return self._engine.get_active_persona_id(_id(conversation_id, "conversation_id"))

    # ---- whole store --------------------------------------------------------------------

    def export_conversation(self, conversation_id: int) -> dict[str, Any]:
        return json.loads(self._engine.export_conversation(_id(conversation_id, "conversation_id")))

    def import_conversation(
        self, document: Mapping[str, Any], on_conflict: str = "skip"
    ) -> Conversation:
        try:
            text = _dumps(dict(document) if isinstance(document, Mapping) else document)
        except TypeError as error:
            raise InvalidInput(f"body: {error}", field="body") from error
        return _conversation(self._engine.import_conversation(text, on_conflict))

    def get_stats(self) -> Stats:
        return Stats.from_json(json.loads(self._engine.get_stats()))

    def check_token_budget(self, user_key: str, budget: int = DEFAULT_BUDGET) -> BudgetStatus:
        return BudgetStatus.from_json(json.loads(self._engine.check_token_budget(user_key, budget)))

    def cleanup_old_conversations(self, days: int | None = None) -> int:
        return self._engine.cleanup_old_conversations(days)

    def vacuum(self) -> VacuumReport:
        return VacuumReport.from_json(json.loads(self._engine.vacuum()))

    def close(self) -> None:
        """Commit the queued writes and stop the store; later calls raise `Unavailable`."""
        self._closer()


for _name in operation_names():  # each method is documented where the one API declares it
    getattr(Store, _name).__doc__ = getattr(ConvstoreAPI, _name).__doc__


def _in_worker(name: str) -> Callable[..., Any]:
    """The coroutine of operation `name`: the sync call run on a worker thread."""
    declared = getattr(ConvstoreAPI, name)

    async def operation(self: AsyncStore, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self.store, name), *args, **kwargs)

    operation.__name__ = name
    operation.__qualname__ = f"AsyncStore.{name}"
    operation.__doc__ = declared.__doc__
    return operation


class AsyncStore(AsyncConvstoreAPI):  # type: ignore[misc, valid-type]
    """`Store` for asyncio: the same constructor, and the same methods as coroutines.

    A call waits on a worker thread of the event loop's default executor (the native
    store releases the GIL while it waits), so the event loop never blocks on the
    database. `store` is the underlying sync `Store`, usable from threads alongside.
    """

    def __init__(
        self, db_url: str | None = None, data_dir: str | os.PathLike[str] = "data", **settings: Any
    ):
        self.store = Store(db_url, data_dir, **settings)


for _name in operation_names():
    setattr(AsyncStore, _name, _in_worker(_name))
del _name
abc.update_abstractmethods(AsyncStore)

__all__ = ["AsyncStore", "Store"]
