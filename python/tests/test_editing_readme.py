"""The README's `ConvstoreMemory` block runs against a daemon (it needs the context call)."""

from __future__ import annotations

from langchain_core.messages import AIMessage

from tests.readme import namespace_for, python_blocks
from tests.test_editing_langchain_agent import ToolCallingFake, get_weather


def test_the_middleware_block_runs(daemon):
    [block] = [b for b in python_blocks() if "ConvstoreMemory" in b]
    model = ToolCallingFake(messages=iter([AIMessage("Sunny.", id="r1")]), seen=[])
    code, names = namespace_for(block, daemon, {"model": model, "tools": [get_weather]})
    exec(compile(code, "README.md", "exec"), names)
    conv = names["store"].get_conversation_by_user("feishu:group:user123")
    assert [m.content for m in names["store"].load_history(conv.id)] == [
        "Weather in Paris?",
        "Sunny.",
    ]
