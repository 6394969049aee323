"""The one API: the methods every convstore engine has, with the same arguments and results.

`ConvstoreAPI` is implemented by the embedded `Store` and by the remote `Client`;
`AsyncConvstoreAPI` (the same methods as coroutines) by `AsyncClient` and the embedded
store's async twin. Moving a bot from the embedded store to a daemon is a change of
constructor. The guide's method names are kept (`get_or_create`, `save_message`,
`load_history`, ...); the operations the guide lacks (context, truncate, fork, ...) follow
the HTTP contract's names.

Every method raises the exceptions of `convstore.errors`: `NotFound` for an unknown
conversation or message, `InvalidInput` naming the field for bad input (nothing is
written), `Unavailable` when the database cannot answer.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

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

DEFAULT_BUDGET = 100_000
"""The token budget `check_token_budget` assumes, as the guide's helper does."""


class ConvstoreAPI(abc.ABC):
    """The store's operations, called synchronously (thread-safe in every engine)."""

    # ---- conversations ------------------------------------------------------------------

    @abc.abstractmethod
    def get_or_create(
        self, user_key: str, platform: str, chat_id: str | None = None
    ) -> Conversation:
        """The conversation of `user_key`, created when there is none.

        On an existing conversation, `platform` and a given `chat_id` replace the stored
        ones; an absent `chat_id` leaves it.
        """

    @abc.abstractmethod
    def get_conversation(self, conversation_id: int) -> Conversation:
        """The conversation with this id; `NotFound` if there is none."""

    @abc.abstractmethod
    def get_conversation_by_user(self, user_key: str) -> Conversation | None:
        """The most recent conversation of `user_key`, or `None`."""

    @abc.abstractmethod
    def list_conversations(
        self,
        user_key: str | None = None,
        platform: str | None = None,
        limit: int | None = None,
        after_id: int | None = None,
    ) -> ConversationPage:
        """One page of conversations, most recently active first, optionally filtered."""

    @abc.abstractmethod
    def delete_conversation(self, conversation_id: int) -> None:
        """Delete the conversation and its messages."""

    @abc.abstractmethod
    def fork(
        self,
        conversation_id: int,
        user_key: str,
        platform: str | None = None,
        chat_id: str | None = None,
        through_id: int | None = None,
    ) -> Conversation:
        """A new conversation for `user_key` holding copies of the messages up to `through_id`.

        `platform` and `chat_id` default to the source's, `through_id` to all messages;
        the summary checkpoint comes along when it lies within the copies. `Conflict` when
        `user_key` has a conversation already.
        """

    # ---- messages -----------------------------------------------------------------------

    @abc.abstractmethod
    def save_message(
        self,
        conversation_id: int,
        role: Role,
        content: str,
        tokens: int = 0,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> SavedMessage:
        """Append a message; with an `idempotency_key` already saved here, return that one."""

    @abc.abstractmethod
    def save_messages(self, conversation_id: int, messages: Sequence[NewMessage]) -> list[Message]:
        """Append several messages, all or nothing, in order (keys as in `save_message`)."""

    @abc.abstractmethod
    def load_history(
        self,
        conversation_id: int,
        max_turns: int | None = None,
        max_messages: int | None = None,
        max_tokens: int | None = None,
        before_id: int | None = None,
    ) -> list[Message]:
        """The newest messages, oldest first, in a turn-safe window.

        A turn starts at a `user` message and holds what follows it, so a tool result never
        leaves its call. The smallest of the given limits wins; with none, the store's
        default number of turns (20). `before_id` pages back.
        """

    @abc.abstractmethod
    def load_context(
        self, conversation_id: int, max_tokens: int | None = None, max_turns: int | None = None
    ) -> Context:
        """What to send the model this turn: persona, summary, the newest whole turns that fit."""

    @abc.abstractmethod
    def truncate(
        self, conversation_id: int, *, after_id: int | None = None, last: int | None = None
    ) -> Truncated:
        """Remove every message newer than `after_id`, or the newest `last` (give one of them)."""

    @abc.abstractmethod
    def delete_message(self, conversation_id: int, message_id: int) -> None:
        """Remove one message of the conversation."""

    @abc.abstractmethod
    def clear_conversation(self, conversation_id: int) -> None:
        """Remove every message and reset the counters and summary; keep the record."""

    # ---- fields a bot updates -----------------------------------------------------------

    @abc.abstractmethod
    def update_conversation_stats(self, conversation_id: int, tokens_used: int) -> Conversation:
        """Add token usage that no message carries."""

    @abc.abstractmethod
    def set_summary(
        self,
        conversation_id: int,
        summary: str | None,
        covers_through_id: int | None = None,
        tokens: int | None = None,
    ) -> Conversation:
        """Set (or with `None` clear) the summary, optionally as a checkpoint.

        `covers_through_id` names the newest message the summary stands for (a message of
        this conversation) and `tokens` its token count.
        """

    @abc.abstractmethod
    def set_active_persona_id(self, conversation_id: int, persona_id: str | None) -> Conversation:
        """Set (or with `None` clear) the conversation's active persona."""

    @abc.abstractmethod
    def get_active_persona_id(self, conversation_id: int) -> str | None:
        """The conversation's active persona, or `None`."""

    # ---- whole store --------------------------------------------------------------------

    @abc.abstractmethod
    def export_conversation(self, conversation_id: int) -> dict[str, Any]:
        """The conversation as the guide's export document (`format` `convstore/1`)."""

    @abc.abstractmethod
    def import_conversation(
        self, document: Mapping[str, Any], on_conflict: str = "skip"
    ) -> Conversation:
        """Import an export document; an existing user key is kept (`skip`) or `replace`d."""

    @abc.abstractmethod
    def get_stats(self) -> Stats:
        """The guide's seven statistics."""

    @abc.abstractmethod
    def check_token_budget(self, user_key: str, budget: int = DEFAULT_BUDGET) -> BudgetStatus:
        """Whether the user's conversation used fewer tokens than `budget`."""

    @abc.abstractmethod
    def cleanup_old_conversations(self, days: int | None = None) -> int:
        """Delete conversations idle for `days` (default: the store's `cleanup_days`); the count."""

    @abc.abstractmethod
    def vacuum(self) -> VacuumReport:
        """Run the backend's maintenance (VACUUM, ANALYZE, OPTIMIZE)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the engine (the embedded store commits queued writes first)."""

    def __enter__(self) -> ConvstoreAPI:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def operation_names() -> list[str]:
    """The names of the one API's operations, in declaration order."""
    return [
        name
        for name, member in vars(ConvstoreAPI).items()
        if getattr(member, "__isabstractmethod__", False)
    ]


def _coroutine_twin(method: Callable[..., Any]) -> Callable[..., Any]:
    """An abstract coroutine with the signature and documentation of `method`."""

    @functools.wraps(method)
    async def twin(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    return abc.abstractmethod(twin)


class _AsyncContext:
    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()  # type: ignore[attr-defined]


AsyncConvstoreAPI = abc.ABCMeta(
    "AsyncConvstoreAPI",
    (_AsyncContext, abc.ABC),
    {
        "__doc__": "The methods of `ConvstoreAPI`, same arguments and results, as coroutines.",
        "__module__": __name__,
        **{name: _coroutine_twin(getattr(ConvstoreAPI, name)) for name in operation_names()},
    },
)
