"""LangChain adapters: an agent middleware and a classic chat history.

`ConvstoreMemory` is a 1.x `create_agent` middleware, `ConvstoreChatMessageHistory` the
classic `BaseChatMessageHistory`.

Needs the `langchain` extra (`pip install "./python[langchain]"`). How messages are
stored is described in `convstore.langchain.codec`.
"""

from convstore.langchain.history import ConvstoreChatMessageHistory
from convstore.langchain.middleware import ConvstoreMemory

__all__ = ["ConvstoreChatMessageHistory", "ConvstoreMemory"]
