"""convstore for Python: a persistent conversation store for AI chat bots.

One API (`convstore.api.ConvstoreAPI`), two engines: `Store` runs the store inside this
process (the native module; SQLite by default, PostgreSQL or MySQL by URL) and `Client`
talks to a `convstore serve` daemon over HTTP; `AsyncClient` and `AsyncStore` are
`Client` and `Store` for asyncio.
Moving a bot from one to the other is a change of constructor:

    store = convstore.Store()                                   # data/conversations.db
    store = convstore.Client("http://127.0.0.1:8377", token=TOKEN)

`convstore.compat` is a drop-in for the original `PersistentConversationManager`;
`convstore.langchain`, `convstore.agents` and `convstore.pydantic_ai` adapt the store to
those frameworks.
"""

from __future__ import annotations

from typing import Any

from convstore.api import AsyncConvstoreAPI, ConvstoreAPI
from convstore.client import AsyncClient, Client
from convstore.errors import (
    Conflict,
    ConvstoreError,
    InvalidInput,
    NotFound,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from convstore.model import (
    BudgetStatus,
    Context,
    Conversation,
    ConversationPage,
    Message,
    NewMessage,
    SavedMessage,
    Stats,
    Truncated,
    VacuumReport,
)

__all__ = [
    "AsyncClient",
    "AsyncConvstoreAPI",
    "AsyncStore",
    "BudgetStatus",
    "Client",
    "Conflict",
    "Context",
    "Conversation",
    "ConversationPage",
    "ConvstoreAPI",
    "ConvstoreError",
    "InvalidInput",
    "Message",
    "NewMessage",
    "NotFound",
    "SavedMessage",
    "Stats",
    "Store",
    "TooLarge",
    "Truncated",
    "Unauthorized",
    "Unavailable",
    "VacuumReport",
]


def __getattr__(name: str) -> Any:
    """`convstore.Store` and `AsyncStore`, imported on first use: they need the native module."""
    if name in ("Store", "AsyncStore"):
        from convstore import embedded

        return getattr(embedded, name)
    raise AttributeError(f"module 'convstore' has no attribute {name!r}")
