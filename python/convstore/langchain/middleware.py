"""`ConvstoreMemory`: a LangChain 1.x agent middleware that keeps the conversation in convstore.

    agent = create_agent(model, tools, middleware=[ConvstoreMemory(convstore.Client(url))])
    agent.invoke({"messages": [HumanMessage("hi", id=platform_message_id)]},
                 context={"user_key": "feishu:group:user123"})

Before the agent runs (`before_agent`) it loads the conversation's context from the store
(`load_context`: the persona, the summary, and the newest whole turns that fit
`max_tokens` / `max_turns`) and puts it in front of the invocation's input, in place of a
checkpointer's replay: use it instead of a checkpointer, not with one. After the agent
(`after_agent`) it saves, in one all-or-nothing batch, every message the turn added: the
input, the AI messages with their tool calls, the tool results.

The conversation is the one of the run's `user_key`, read from the runtime context (an
attribute or a key; `platform` and `chat_id` may sit beside it), else from
`config["configurable"]["user_key"]`, else `config["configurable"]["thread_id"]`.

Idempotency: the messages of a turn are saved under the keys `lc:<turn>:<n>`, where the
turn is a hash of the ids of the invocation's input messages. A save repeated after a
lost answer stores nothing twice; so does a whole invocation run again with the same input
ids: give the human message the chat platform's message id (`HumanMessage(..., id=...)`)
and a webhook re-delivery stores the turn once. Input messages without ids get fresh ones
from LangGraph, so such invocations are always new turns.

The persona is the conversation's `active_persona_id`; `personas` (a mapping or a
function of the id) turns it into a system message. The summary, when set, comes as a
system message starting with `summary_prefix`. Neither is saved back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

from langchain.agents.middleware import AgentMiddleware, AgentState
from langchain.agents.middleware.types import PrivateStateAttr
from langchain_core.messages import BaseMessage, RemoveMessage, SystemMessage
from langgraph.config import get_config
from langgraph.graph.message import REMOVE_ALL_MESSAGES
from langgraph.runtime import Runtime
from typing_extensions import NotRequired

from convstore._adapters import TokenCounter, call_async, call_sync, chunks, is_async
from convstore.langchain.codec import from_stored, to_new_message
from convstore.model import Context

PERSONA_ID = "convstore:persona"
"""The id of the system message that carries the persona."""
SUMMARY_ID = "convstore:summary"
"""The id of the system message that carries the summary."""


class ConvstoreState(AgentState):
    """The agent state, with what the middleware notes between its two hooks."""

    convstore_conversation_id: NotRequired[Annotated[int, PrivateStateAttr]]
    convstore_loaded: NotRequired[Annotated[list[str], PrivateStateAttr]]
    convstore_turn: NotRequired[Annotated[str, PrivateStateAttr]]


def _lookup(source: Any, name: str) -> Any:
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def turn_key(inputs: Sequence[BaseMessage]) -> str:
    """The turn's key: a hash of its input messages' ids."""
    ids = "\n".join(str(m.id) for m in inputs)
    return hashlib.sha256(ids.encode()).hexdigest()[:32]


class ConvstoreMemory(AgentMiddleware[ConvstoreState]):
    """Loads the conversation's context before the agent and saves the turn after it.

    `store` is a `Store`, `Client` or `AsyncClient` (the latter for `ainvoke` only).
    Options: `platform` (default `"langchain"`) for conversations it creates;
    `max_tokens` / `max_turns`, the context's budget; `personas`; `summary_prefix`;
    `count_tokens`, a function of a message giving the tokens stored with it.
    """

    state_schema = ConvstoreState

    def __init__(
        self,
        store: Any,
        *,
        platform: str = "langchain",
        max_tokens: int | None = None,
        max_turns: int | None = None,
        personas: Mapping[str, str] | Callable[[str], str | None] | None = None,
        summary_prefix: str = "Summary of the conversation so far: ",
        count_tokens: TokenCounter | None = None,
    ):
        super().__init__()
        is_async(store)
        self.store = store
        self.platform = platform
        self.max_tokens = max_tokens
        self.max_turns = max_turns
        self.personas = personas
        self.summary_prefix = summary_prefix
        self.count_tokens = count_tokens

    # ---- which conversation -------------------------------------------------------------

    def _conversation_of(self, runtime: Runtime[Any]) -> tuple[str, str, str | None]:
        context = runtime.context
        user_key = _lookup(context, "user_key") if context is not None else None
        if user_key is None:
            configurable = get_config().get("configurable", {})
            user_key = configurable.get("user_key") or configurable.get("thread_id")
        if not user_key:
            raise ValueError(
                "ConvstoreMemory needs the run's user_key: pass context={'user_key': ...} "
                "or config={'configurable': {'user_key': ...}}"
            )
        platform = (_lookup(context, "platform") if context is not None else None) or self.platform
        chat_id = _lookup(context, "chat_id") if context is not None else None
        return str(user_key), str(platform), chat_id

    # ---- what goes in and what comes out ------------------------------------------------

    def _persona_text(self, persona_id: str | None) -> str | None:
        if persona_id is None or self.personas is None:
            return None
        if callable(self.personas):
            return self.personas(persona_id)
        return self.personas.get(persona_id)

    def _loaded(self, context: Context) -> list[BaseMessage]:
        """The messages the context stands for, ahead of the turn's input."""
        loaded: list[BaseMessage] = []
        persona = self._persona_text(context.persona_id)
        if persona is not None:
            loaded.append(SystemMessage(persona, id=PERSONA_ID))
        if context.summary is not None:
            loaded.append(SystemMessage(self.summary_prefix + context.summary, id=SUMMARY_ID))
        for stored in context.messages:
            message = from_stored(stored)
            if message.id is None:
                message = message.model_copy(update={"id": f"convstore:{stored.id}"})
            loaded.append(message)
        return loaded

    def _state_update(
        self, conversation_id: int, context: Context, inputs: list[BaseMessage]
    ) -> dict[str, Any]:
        loaded = self._loaded(context)
        return {
            "messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES), *loaded, *inputs],
            "convstore_conversation_id": conversation_id,
            "convstore_loaded": [m.id for m in loaded],
            "convstore_turn": turn_key(inputs),
        }

    def _to_save(self, state: ConvstoreState) -> list[list[Any]]:
        loaded = set(state.get("convstore_loaded", ()))
        added = [m for m in state["messages"] if m.id not in loaded]
        turn = state["convstore_turn"]
        batch = [
            to_new_message(m, f"lc:{turn}:{n}", self.count_tokens) for n, m in enumerate(added)
        ]
        return chunks(batch)

    # ---- the hooks ----------------------------------------------------------------------

    def before_agent(self, state: ConvstoreState, runtime: Runtime[Any]) -> dict[str, Any]:
        """Load the conversation's context in front of the input."""
        conversation = call_sync(self.store, "get_or_create", *self._conversation_of(runtime))
        context = call_sync(
            self.store, "load_context", conversation.id, self.max_tokens, self.max_turns
        )
        return self._state_update(conversation.id, context, list(state["messages"]))

    async def abefore_agent(self, state: ConvstoreState, runtime: Runtime[Any]) -> dict[str, Any]:
        """`before_agent`, without blocking the event loop."""
        conversation = await call_async(
            self.store, "get_or_create", *self._conversation_of(runtime)
        )
        context = await call_async(
            self.store, "load_context", conversation.id, self.max_tokens, self.max_turns
        )
        return self._state_update(conversation.id, context, list(state["messages"]))

    def after_agent(self, state: ConvstoreState, runtime: Runtime[Any]) -> None:
        """Save what the turn added."""
        for batch in self._to_save(state):
            call_sync(self.store, "save_messages", state["convstore_conversation_id"], batch)

    async def aafter_agent(self, state: ConvstoreState, runtime: Runtime[Any]) -> None:
        """`after_agent`, without blocking the event loop."""
        for batch in self._to_save(state):
            await call_async(self.store, "save_messages", state["convstore_conversation_id"], batch)
