"""A drop-in for the original `PersistentConversationManager` (the conversation-store guide).

A bot switches by changing one import:

    from convstore.compat import PersistentConversationManager   # was ...conversation_store

The methods, their arguments and defaults, the records they return (`ConversationRecord`,
`MessageRecord`, with the original's attributes, `to_dict()` and `get_metadata()`) and the
`ValueError`s are the original's. Without `url=` the manager runs the embedded store on
`db_url` (SQLite in `data_dir`/conversations.db by default); with `url=` (and `token=`) it
talks to a `convstore serve` daemon. `manager.store` is the underlying engine of the one
API, for the operations the original lacks (context, truncate, fork, listing, vacuum).

Where it departs from the original (the README lists the same):
- no SQLAlchemy: no `engine` attribute, no `get_session()`; maintenance is
  `manager.store.vacuum()`, listing every conversation `manager.store.list_conversations()`;
- `load_history(max_turns=10)` counts real turns (a user message and everything after it)
  instead of `2 * max_turns` messages, so a tool result never leaves its call; each item
  also carries `metadata`;
- timestamps are timezone-aware UTC `datetime`s, and their ISO texts end in `+00:00`
  (the original, on SQLite, wrote naive ones);
- `get_or_create` on an existing conversation replaces its platform (and a given
  chat_id) with the ones passed;
- bad input is refused with a `ValueError` naming the field (`convstore.InvalidInput`):
  unknown roles, negative tokens, `max_turns` of 0, over-long keys... where the original
  stored or read them as they came;
- `get_stats()` always has the seven keys (the original gave five on an empty store);
  `export_conversation` adds `"format": "convstore/1"` and the conversation's
  `active_persona_id` and checkpoint fields;
- `MessageRecord.conversation` is only set when passed to the constructor (it is not
  loaded); `ConversationRecord.messages` is loaded on first access;
- `save_message` takes an optional `idempotency_key`; with `url=`, `echo` and the
  database are the daemon's (`CONVSTORE_ECHO`, `CONVERSATION_DB_URL`), so `db_url` and
  `data_dir` cannot be combined with `url`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from convstore.api import ConvstoreAPI
from convstore.client import Client
from convstore.errors import ConvstoreError, NotFound
from convstore.model import Conversation, Message, exported_messages

__all__ = ["ConversationRecord", "MessageRecord", "PersistentConversationManager"]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


class _Record:
    """Keyword construction with the original's column names, as SQLAlchemy models allow."""

    _columns: tuple[str, ...] = ()
    _relations: tuple[str, ...] = ()

    def __init__(self, **values: Any):
        for name in self._columns:
            setattr(self, name, None)
        for name, value in values.items():
            if name not in self._columns and name not in self._relations:
                raise TypeError(
                    f"{name!r} is an invalid keyword argument for {type(self).__name__}"
                )
            setattr(self, name, value)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._columns[:4])
        return f"{type(self).__name__}({shown}, ...)"


class ConversationRecord(_Record):
    """A conversation, with the original's attributes.

    `id`, `user_key`, `platform`, `chat_id`, `created_at`, `last_activity`, `summary`,
    `total_tokens`, `message_count`, and `messages` (the `MessageRecord`s, loaded from the
    store on first access); convstore adds `active_persona_id`, `summary_covers_through_id`
    and `summary_tokens`.
    """

    _columns = (
        "id",
        "user_key",
        "platform",
        "chat_id",
        "created_at",
        "last_activity",
        "summary",
        "total_tokens",
        "message_count",
        "active_persona_id",
        "summary_covers_through_id",
        "summary_tokens",
    )
    _relations = ("messages",)

    def __init__(self, **values: Any):
        self._load_messages: Callable[[], list[MessageRecord]] | None = None
        self._messages: list[MessageRecord] | None = None
        super().__init__(**values)

    @property
    def messages(self) -> list[MessageRecord]:
        """The conversation's messages, oldest first."""
        if self._messages is None:
            self._messages = self._load_messages() if self._load_messages is not None else []
        return self._messages

    @messages.setter
    def messages(self, records: list[MessageRecord]) -> None:
        self._messages = list(records)

    @classmethod
    def of(cls, conversation: Conversation, store: ConvstoreAPI) -> ConversationRecord:
        """The record of a stored conversation, loading its messages from `store` on demand."""
        record = cls(
            **{name: getattr(conversation, name) for name in cls._columns},
        )
        record._load_messages = lambda: _all_messages(store, conversation.id)
        return record

    def to_dict(self) -> dict[str, Any]:
        """The original's dict of the record (timestamps as ISO text)."""
        return {
            "id": self.id,
            "user_key": self.user_key,
            "platform": self.platform,
            "chat_id": self.chat_id,
            "created_at": _iso(self.created_at),
            "last_activity": _iso(self.last_activity),
            "summary": self.summary,
            "total_tokens": self.total_tokens,
            "message_count": self.message_count,
        }


class MessageRecord(_Record):
    """A message, with the original's attributes.

    `id`, `conversation_id`, `role`, `content`, `timestamp`, `tokens`, `metadata_json` (the
    metadata as JSON text, `None` when empty) and `conversation`; convstore adds
    `idempotency_key`.
    """

    _columns = (
        "id",
        "conversation_id",
        "role",
        "content",
        "timestamp",
        "tokens",
        "metadata_json",
        "idempotency_key",
    )
    _relations = ("conversation",)

    def __init__(self, **values: Any):
        self.conversation: ConversationRecord | None = None
        super().__init__(**values)

    @classmethod
    def of(cls, message: Message) -> MessageRecord:
        """The record of a stored message."""
        return cls(
            id=message.id,
            conversation_id=message.conversation_id,
            role=message.role,
            content=message.content,
            timestamp=message.timestamp,
            tokens=message.tokens,
            metadata_json=json.dumps(message.metadata) if message.metadata else None,
            idempotency_key=message.idempotency_key,
        )

    def get_metadata(self) -> dict[str, Any]:
        """The metadata as a dict (`{}` when there is none or it is not valid JSON)."""
        if not self.metadata_json:
            return {}
        try:
            parsed = json.loads(self.metadata_json)
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}

    def to_dict(self) -> dict[str, Any]:
        """The original's dict of the record (timestamp as ISO text, metadata parsed)."""
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "role": self.role,
            "content": self.content,
            "timestamp": _iso(self.timestamp),
            "tokens": self.tokens,
            "metadata": self.get_metadata(),
        }


def _all_messages(store: ConvstoreAPI, conversation_id: int) -> list[MessageRecord]:
    """Every message of a conversation, oldest first, read on one snapshot (its export)."""
    document = store.export_conversation(conversation_id)
    return [MessageRecord.of(m) for m in exported_messages(document)]


@contextlib.contextmanager
def _original_errors(conversation_id: int) -> Iterator[None]:
    """The original's `ValueError` for an unknown conversation."""
    try:
        yield
    except NotFound as error:
        raise ValueError(f"Conversation not found: {conversation_id}") from error


class PersistentConversationManager:
    """The original's manager, on convstore (see the module documentation for departures).

    `db_url`: a database URL as the original (SQLAlchemy) reads it, else SQLite in
    `data_dir` (default `data`); `echo` logs SQL statements. `url` and `token` select a
    daemon instead. Raises `ValueError` when the store cannot be opened or reached.
    """

    def __init__(
        self,
        db_url: str | None = None,
        echo: bool = False,
        data_dir: str | None = None,
        *,
        url: str | None = None,
        token: str | None = None,
    ):
        if url is not None:
            if db_url is not None or data_dir is not None:
                raise ValueError("db_url and data_dir are the daemon's settings: give them or url")
            self.store: ConvstoreAPI = Client(url, token=token)
        else:
            from convstore.embedded import Store

            try:
                self.store = Store(db_url, "data" if data_dir is None else data_dir, echo=echo)
            except ConvstoreError as error:
                raise ValueError(f"Failed to initialize conversation database: {error}") from error
        try:
            self.store.list_conversations(limit=1)
        except ConvstoreError as error:
            self.store.close()
            raise ValueError(f"Failed to initialize conversation database: {error}") from error

    def close(self) -> None:
        """Release the store (the embedded store commits queued writes first)."""
        self.store.close()

    def _record(self, conversation: Conversation) -> ConversationRecord:
        return ConversationRecord.of(conversation, self.store)

    def get_or_create(
        self, user_key: str, platform: str, chat_id: str | None = None
    ) -> ConversationRecord:
        """The user's conversation, created when there is none."""
        return self._record(self.store.get_or_create(user_key, platform, chat_id))

    def save_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        tokens: int = 0,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> MessageRecord:
        """Save a message; `ValueError` if the conversation does not exist."""
        with _original_errors(conversation_id):
            saved = self.store.save_message(
                conversation_id,
                role,
                content,
                tokens,
                metadata,
                idempotency_key,  # type: ignore[arg-type]
            )
        return MessageRecord.of(saved)

    def load_history(self, conversation_id: int, max_turns: int = 10) -> list[dict[str, Any]]:
        """The newest `max_turns` turns as dicts (role, content, timestamp, tokens, metadata)."""
        with _original_errors(conversation_id):
            messages = self.store.load_history(conversation_id, max_turns=max_turns)
        return [
            {
                "role": m.role,
                "content": m.content,
                "timestamp": m.timestamp.isoformat(),
                "tokens": m.tokens,
                "metadata": m.metadata,
            }
            for m in messages
        ]

    def get_conversation_by_user(self, user_key: str) -> ConversationRecord | None:
        """The user's most recent conversation, or `None`."""
        found = self.store.get_conversation_by_user(user_key)
        return None if found is None else self._record(found)

    def update_conversation_stats(self, conversation_id: int, tokens_used: int) -> None:
        """Add token usage; `ValueError` if the conversation does not exist."""
        with _original_errors(conversation_id):
            self.store.update_conversation_stats(conversation_id, tokens_used)

    def clear_conversation(self, conversation_id: int) -> None:
        """Remove the messages, reset counters and summary, keep the record."""
        with _original_errors(conversation_id):
            self.store.clear_conversation(conversation_id)

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete the conversation and its messages."""
        with _original_errors(conversation_id):
            self.store.delete_conversation(conversation_id)

    def cleanup_old_conversations(self, days: int = 30) -> int:
        """Delete conversations idle for more than `days`; how many."""
        return self.store.cleanup_old_conversations(days)

    def export_conversation(self, conversation_id: int) -> dict[str, Any]:
        """The conversation and its messages as the guide's export document."""
        with _original_errors(conversation_id):
            return self.store.export_conversation(conversation_id)

    def import_conversation(self, data: dict[str, Any]) -> ConversationRecord:
        """Import an export document; an existing user key returns that conversation."""
        return self._record(self.store.import_conversation(data))

    def get_stats(self) -> dict[str, Any]:
        """The guide's seven statistics."""
        return self.store.get_stats().to_dict()

    def get_active_persona_id(self, conversation_id: int) -> str | None:
        """The conversation's active persona, or `None`."""
        with _original_errors(conversation_id):
            return self.store.get_active_persona_id(conversation_id)

    def set_active_persona_id(self, conversation_id: int, persona_id: str | None) -> None:
        """Set (or with `None` clear) the conversation's active persona."""
        with _original_errors(conversation_id):
            self.store.set_active_persona_id(conversation_id, persona_id)
