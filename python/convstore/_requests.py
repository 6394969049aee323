"""Each operation of the one API as one HTTP request of the contract (`API.md`).

A builder takes the operation's arguments and returns a `Request`: method, path, query,
body, whether it may be repeated, and how to read the answer. The sync and async clients
send the same requests, so the mapping onto the contract is written once, here.

Repeating (see `Retry`): reads, get-or-create, setting a summary or persona, clearing,
import and vacuum give the same result when sent twice, and so do saves, because every
message goes out with an idempotency key (one is generated when the caller gives none:
a retry after a lost answer then finds the first copy). Usage updates, truncating the
newest n, deletes, forks and cleanups would act twice: they are only resent when the
first attempt surely never reached the daemon.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from convstore.api import DEFAULT_BUDGET
from convstore.errors import InvalidInput
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


class Retry(enum.Enum):
    """When a request may be sent again after a failed attempt."""

    SAFE = "safe"
    """Also after an attempt that may have reached the daemon: repeating changes nothing."""
    UNSENT = "unsent"
    """Only when the attempt surely never reached the daemon (no connection)."""


def _nothing(status: int, body: Any) -> None:
    return None


@dataclass(frozen=True)
class Request:
    """One HTTP request of the contract and how to read its answer."""

    method: str
    path: str
    decode: Callable[[int, Any], Any] = _nothing
    """Turns the success status and decoded JSON body (`None` when empty) into the result."""
    params: Mapping[str, Any] | None = None
    json: Any = None
    retry: Retry = Retry.SAFE
    none_if_missing: bool = False
    """A 404 answers `None` instead of raising `NotFound`."""


def generated_key() -> str:
    """An idempotency key for a message saved without one, so that retries store it once."""
    return f"auto-{uuid.uuid4().hex}"


def _id(value: Any, field: str) -> int:
    """`value` as a positive id, checked here because it becomes part of a URL path."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field}: must be a positive integer", field=field)
    if value <= 0:
        raise InvalidInput(f"{field}: must be a positive integer", field=field)
    return value


def _path_key(value: Any, field: str) -> str:
    """A user key for a URL path, percent-encoded."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: must be a string", field=field)
    return quote(value, safe="")


def _query(**values: Any) -> dict[str, Any]:
    """The query parameters that were given."""
    return {name: value for name, value in values.items() if value is not None}


def _conversation(status: int, body: Any) -> Conversation:
    return Conversation.from_json(body)


def _messages(status: int, body: Any) -> list[Message]:
    return [Message.from_json(m) for m in body["messages"]]


def _conv_path(conversation_id: Any) -> str:
    return f"/v1/conversations/{_id(conversation_id, 'conversation_id')}"


def get_or_create(user_key: str, platform: str, chat_id: str | None = None) -> Request:
    """`POST /v1/conversations`."""
    body: dict[str, Any] = {"user_key": user_key, "platform": platform}
    if chat_id is not None:
        body["chat_id"] = chat_id
    return Request("POST", "/v1/conversations", _conversation, json=body)


def get_conversation(conversation_id: int) -> Request:
    """`GET /v1/conversations/{id}`."""
    return Request("GET", _conv_path(conversation_id), _conversation)


def get_conversation_by_user(user_key: str) -> Request:
    """`GET /v1/conversations/by-user/{user_key}`; none is `None`."""
    path = f"/v1/conversations/by-user/{_path_key(user_key, 'user_key')}"
    return Request("GET", path, _conversation, none_if_missing=True)


def list_conversations(
    user_key: str | None = None,
    platform: str | None = None,
    limit: int | None = None,
    after_id: int | None = None,
) -> Request:
    """`GET /v1/conversations`."""
    params = _query(user_key=user_key, platform=platform, limit=limit, after_id=after_id)
    return Request(
        "GET", "/v1/conversations", lambda s, b: ConversationPage.from_json(b), params=params
    )


def delete_conversation(conversation_id: int) -> Request:
    """`DELETE /v1/conversations/{id}`."""
    return Request("DELETE", _conv_path(conversation_id), retry=Retry.UNSENT)


def fork(
    conversation_id: int,
    user_key: str,
    platform: str | None = None,
    chat_id: str | None = None,
    through_id: int | None = None,
) -> Request:
    """`POST /v1/conversations/{id}/fork`."""
    body = {
        "user_key": user_key,
        **_query(platform=platform, chat_id=chat_id, through_id=through_id),
    }
    return Request(
        "POST", f"{_conv_path(conversation_id)}/fork", _conversation, json=body, retry=Retry.UNSENT
    )


def save_message(
    conversation_id: int,
    role: str,
    content: str,
    tokens: int = 0,
    metadata: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Request:
    """`POST /v1/conversations/{id}/messages`, always with an idempotency key."""
    message = NewMessage(
        role,  # type: ignore[arg-type]
        content,
        tokens,
        None if metadata is None else dict(metadata),
        generated_key() if idempotency_key is None else idempotency_key,
    )
    return Request(
        "POST",
        f"{_conv_path(conversation_id)}/messages",
        lambda status, body: SavedMessage.from_answer(body, created=status == 201),
        json=message.to_json(),
    )


def save_messages(conversation_id: int, messages: Sequence[NewMessage]) -> Request:
    """`POST /v1/conversations/{id}/messages/batch`, every message with an idempotency key."""
    body = []
    for message in messages:
        if not isinstance(message, NewMessage):
            raise InvalidInput("messages: each must be a convstore.NewMessage", field="messages")
        payload = message.to_json()
        payload.setdefault("idempotency_key", generated_key())
        body.append(payload)
    return Request(
        "POST", f"{_conv_path(conversation_id)}/messages/batch", _messages, json={"messages": body}
    )


def load_history(
    conversation_id: int,
    max_turns: int | None = None,
    max_messages: int | None = None,
    max_tokens: int | None = None,
    before_id: int | None = None,
) -> Request:
    """`GET /v1/conversations/{id}/history`."""
    params = _query(
        max_turns=max_turns, max_messages=max_messages, max_tokens=max_tokens, before_id=before_id
    )
    return Request("GET", f"{_conv_path(conversation_id)}/history", _messages, params=params)


def load_context(
    conversation_id: int, max_tokens: int | None = None, max_turns: int | None = None
) -> Request:
    """`GET /v1/conversations/{id}/context`."""
    return Request(
        "GET",
        f"{_conv_path(conversation_id)}/context",
        lambda s, b: Context.from_json(b),
        params=_query(max_tokens=max_tokens, max_turns=max_turns),
    )


def truncate(
    conversation_id: int, *, after_id: int | None = None, last: int | None = None
) -> Request:
    """`POST /v1/conversations/{id}/truncate`; repeated only when cutting after an id."""
    return Request(
        "POST",
        f"{_conv_path(conversation_id)}/truncate",
        lambda s, b: Truncated.from_json(b),
        json=_query(after_id=after_id, last=last),
        retry=Retry.SAFE if last is None else Retry.UNSENT,
    )


def delete_message(conversation_id: int, message_id: int) -> Request:
    """`DELETE /v1/conversations/{id}/messages/{message_id}`."""
    path = f"{_conv_path(conversation_id)}/messages/{_id(message_id, 'message_id')}"
    return Request("DELETE", path, retry=Retry.UNSENT)


def clear_conversation(conversation_id: int) -> Request:
    """`DELETE /v1/conversations/{id}/messages`."""
    return Request("DELETE", f"{_conv_path(conversation_id)}/messages")


def update_conversation_stats(conversation_id: int, tokens_used: int) -> Request:
    """`POST /v1/conversations/{id}/usage`: adds, so never repeated once sent."""
    return Request(
        "POST",
        f"{_conv_path(conversation_id)}/usage",
        _conversation,
        json={"tokens_used": tokens_used},
        retry=Retry.UNSENT,
    )


def set_summary(
    conversation_id: int,
    summary: str | None,
    covers_through_id: int | None = None,
    tokens: int | None = None,
) -> Request:
    """`PUT /v1/conversations/{id}/summary`."""
    body = {"summary": summary, **_query(covers_through_id=covers_through_id, tokens=tokens)}
    return Request("PUT", f"{_conv_path(conversation_id)}/summary", _conversation, json=body)


def set_active_persona_id(conversation_id: int, persona_id: str | None) -> Request:
    """`PUT /v1/conversations/{id}/persona`."""
    return Request(
        "PUT",
        f"{_conv_path(conversation_id)}/persona",
        _conversation,
        json={"persona_id": persona_id},
    )


def get_active_persona_id(conversation_id: int) -> Request:
    """`GET /v1/conversations/{id}`, read for its `active_persona_id`."""
    return Request(
        "GET", _conv_path(conversation_id), lambda s, b: Conversation.from_json(b).active_persona_id
    )


def export_conversation(conversation_id: int) -> Request:
    """`GET /v1/conversations/{id}/export`."""
    return Request("GET", f"{_conv_path(conversation_id)}/export", lambda s, b: b)


def import_conversation(document: Mapping[str, Any], on_conflict: str = "skip") -> Request:
    """`POST /v1/import?on_conflict=`."""
    return Request(
        "POST",
        "/v1/import",
        _conversation,
        params={"on_conflict": on_conflict},
        json=dict(document) if isinstance(document, Mapping) else document,
    )


def get_stats() -> Request:
    """`GET /v1/stats`."""
    return Request("GET", "/v1/stats", lambda s, b: Stats.from_json(b))


def check_token_budget(user_key: str, budget: int = DEFAULT_BUDGET) -> Request:
    """`GET /v1/budget/{user_key}?budget=`."""
    return Request(
        "GET",
        f"/v1/budget/{_path_key(user_key, 'user_key')}",
        lambda s, b: BudgetStatus.from_json(b),
        params={"budget": budget},
    )


def cleanup_old_conversations(days: int | None = None) -> Request:
    """`POST /admin/cleanup?days=`."""
    return Request(
        "POST",
        "/admin/cleanup",
        lambda s, b: int(b["deleted"]),
        params=_query(days=days),
        retry=Retry.UNSENT,
    )


def vacuum() -> Request:
    """`POST /admin/vacuum`."""
    return Request("POST", "/admin/vacuum", lambda s, b: VacuumReport.from_json(b))
