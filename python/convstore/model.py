"""The records every convstore engine hands out, as frozen dataclasses.

They mirror the HTTP contract's objects field for field (`Conversation`, `Message`, the
statistics, the context of a turn), with timestamps as timezone-aware UTC `datetime`s.
`from_json` reads the contract's JSON form: unknown keys are ignored (a newer daemon may
add fields) and the fields added by the editing-and-context operations default to "no
checkpoint" when an older daemon leaves them out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

Role = Literal["user", "assistant", "system", "tool"]
"""The four roles a stored message can have."""


def parse_timestamp(text: str) -> datetime:
    """A contract timestamp (`2025-01-08T10:00:00.123456Z`) as an aware UTC datetime.

    Python 3.10's `fromisoformat` does not read the `Z` suffix, hence the replacement.
    """
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _known(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of `data` that are fields of the dataclass `cls`."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {key: value for key, value in data.items() if key in names}


@dataclass(frozen=True)
class Conversation:
    """A conversation record: who it is with, its counters, summary and persona."""

    id: int
    user_key: str
    platform: str
    chat_id: str | None
    created_at: datetime
    last_activity: datetime
    summary: str | None
    total_tokens: int
    message_count: int
    active_persona_id: str | None = None
    summary_covers_through_id: int | None = None
    """The newest message the summary stands for, when a checkpoint is set."""
    summary_tokens: int = 0
    """The summary's token count (0 while no checkpoint is set)."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Conversation:
        """A conversation from the contract's JSON object."""
        values = _known(cls, data)
        values["created_at"] = parse_timestamp(data["created_at"])
        values["last_activity"] = parse_timestamp(data["last_activity"])
        return cls(**values)


@dataclass(frozen=True)
class Message:
    """A stored message, as history, context and exports give it back."""

    id: int
    conversation_id: int
    role: Role
    content: str
    timestamp: datetime
    tokens: int
    metadata: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        """A message from the contract's JSON object."""
        values = _known(cls, data)
        values["timestamp"] = parse_timestamp(data["timestamp"])
        values["metadata"] = dict(data.get("metadata") or {})
        return cls(**values)


def exported_messages(document: Mapping[str, Any]) -> list[Message]:
    """The messages of an export document (which leaves out their conversation id)."""
    conversation_id = document["conversation"]["id"]
    return [
        Message.from_json({**m, "conversation_id": conversation_id}) for m in document["messages"]
    ]


@dataclass(frozen=True)
class SavedMessage(Message):
    """What `save_message` answers: the stored message, and whether this call stored it.

    `created` is `False` when the idempotency key had been saved before: the message shown
    is the one stored then, and no counter changed.
    """

    created: bool = True

    @classmethod
    def from_answer(cls, data: Mapping[str, Any], created: bool) -> SavedMessage:
        """The saved message from the daemon's answer (201: created, 200: repeated key)."""
        message = Message.from_json(data)
        return cls(
            **{f.name: getattr(message, f.name) for f in dataclasses.fields(Message)},
            created=created,
        )


@dataclass(frozen=True)
class NewMessage:
    """A message to save with `save_messages` (the fields of `save_message`)."""

    role: Role
    content: str
    tokens: int = 0
    metadata: dict[str, Any] | None = None
    idempotency_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The request body of this message; absent optional fields are left out."""
        body: dict[str, Any] = {"role": self.role, "content": self.content, "tokens": self.tokens}
        if self.metadata is not None:
            body["metadata"] = self.metadata
        if self.idempotency_key is not None:
            body["idempotency_key"] = self.idempotency_key
        return body


@dataclass(frozen=True)
class ConversationPage:
    """One page of `list_conversations`, most recently active first."""

    conversations: list[Conversation]
    next_after_id: int | None
    """Pass as `after_id` for the next page; `None` on the last page."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConversationPage:
        """A page from the contract's JSON object."""
        return cls(
            conversations=[Conversation.from_json(c) for c in data["conversations"]],
            next_after_id=data.get("next_after_id"),
        )


@dataclass(frozen=True)
class Stats:
    """The guide's seven statistics over the whole store."""

    total_conversations: int
    total_messages: int
    total_tokens: int
    average_messages_per_conversation: float
    average_tokens_per_conversation: float
    longest_conversation_messages: int
    longest_conversation_user: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Stats:
        """The statistics from the contract's JSON object."""
        return cls(**_known(cls, data))

    def to_dict(self) -> dict[str, Any]:
        """The guide's dict of the seven keys."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class BudgetStatus:
    """Whether a user's conversation is within a token budget."""

    user_key: str
    total_tokens: int
    budget: int
    within_budget: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BudgetStatus:
        """The budget status from the contract's JSON object."""
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class Truncated:
    """What a truncate removed (oldest first) and the conversation after it."""

    removed: list[Message]
    conversation: Conversation

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Truncated:
        """The answer of a truncate from the contract's JSON object."""
        return cls(
            removed=[Message.from_json(m) for m in data["removed"]],
            conversation=Conversation.from_json(data["conversation"]),
        )


@dataclass(frozen=True)
class Context:
    """What a bot sends its model for one turn.

    The persona, the summary with its checkpoint, and, oldest first, the newest whole turns
    after the checkpoint that fit the budget. `omitted_turns` / `omitted_tokens` count the
    whole turns after the checkpoint that did not fit: when they are not 0, summarize them
    and set a new checkpoint. `total_tokens` is `summary_tokens` plus the messages' tokens.
    """

    conversation_id: int
    persona_id: str | None
    summary: str | None
    summary_covers_through_id: int | None
    summary_tokens: int
    messages: list[Message]
    omitted_turns: int
    omitted_tokens: int
    total_tokens: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Context:
        """The context from the contract's JSON object."""
        values = _known(cls, data)
        values["messages"] = [Message.from_json(m) for m in data["messages"]]
        return cls(**values)


@dataclass(frozen=True)
class VacuumReport:
    """What the backend's maintenance (VACUUM, ANALYZE, OPTIMIZE) did."""

    backend: str
    duration_ms: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VacuumReport:
        """The report from the contract's JSON object."""
        return cls(**_known(cls, data))
