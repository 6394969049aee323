"""The embedded engine: the store's actor running inside this Python process.

`Store(db_url=None, data_dir="data", **settings)` opens the store through the native
module `convstore._native` (built by maturin from `python/Cargo.toml` when the package is
installed with `pip install ./python`): the library's `StoreActor` on an actix system of
its own thread. Every call waits with the GIL released, so saves from many Python threads
meet in one group commit. The native engine takes each operation's arguments, checks
them as the remote `Client` does, and answers with the same dataclasses, built from its
native values, and the same exceptions.

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

from convstore.api import DEFAULT_BUDGET, AsyncConvstoreAPI, ConvstoreAPI, operation_names
from convstore.errors import InvalidInput
from convstore.model import BudgetStatus, Conversation, Message, NewMessage, Role, SavedMessage

try:
    from convstore._native import Engine  # type: ignore[import-not-found]
except ImportError as error:
    raise ImportError(
        "convstore.Store needs the native module convstore._native, which this installation "
        "does not have; install the package with `pip install ./python` (it builds the module "
        "with the Rust toolchain), or use convstore.Client(url) against a `convstore serve` daemon"
    ) from error

_dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


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

    The operations not defined here are the native engine's methods of the same name,
    which take the same arguments.
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

    # The operations whose arguments the native engine takes as JSON text, or with the
    # one API's defaults filled in.

    def save_message(
        self,
        conversation_id: int,
        role: Role,
        content: str,
        tokens: int = 0,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> SavedMessage:
        return self._engine.save_message(
            conversation_id,
            role,
            content,
            tokens,
            None if metadata is None else _dumps(dict(metadata)),
            idempotency_key,
        )

    def save_messages(self, conversation_id: int, messages: Sequence[NewMessage]) -> list[Message]:
        body = []
        for message in messages:
            if not isinstance(message, NewMessage):
                raise InvalidInput(
                    "messages: each must be a convstore.NewMessage", field="messages"
                )
            body.append(message.to_json())
        return self._engine.save_messages(conversation_id, _dumps(body))

    def import_conversation(
        self, document: Mapping[str, Any], on_conflict: str = "skip"
    ) -> Conversation:
        try:
            text = _dumps(dict(document) if isinstance(document, Mapping) else document)
        except TypeError as error:
            raise InvalidInput(f"body: {error}", field="body") from error
        return self._engine.import_conversation(text, on_conflict)

    def check_token_budget(self, user_key: str, budget: int = DEFAULT_BUDGET) -> BudgetStatus:
        return self._engine.check_token_budget(user_key, budget)

    def close(self) -> None:
        """Commit the queued writes and stop the store; later calls raise `Unavailable`."""
        self._closer()


def _native(name: str) -> Callable[..., Any]:
    """Operation `name` of `Store`: the native engine's method of that name."""

    def operation(self: Store, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._engine, name)(*args, **kwargs)

    operation.__name__ = name
    operation.__qualname__ = f"Store.{name}"
    operation.__doc__ = getattr(ConvstoreAPI, name).__doc__
    return operation


for _name in operation_names():  # each method is documented where the one API declares it
    if _name in vars(Store):
        getattr(Store, _name).__doc__ = getattr(ConvstoreAPI, _name).__doc__
    else:
        setattr(Store, _name, _native(_name))
abc.update_abstractmethods(Store)


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
