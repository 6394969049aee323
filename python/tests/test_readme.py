"""Every Python block of the README's "From Python" section runs against a daemon.

The `ConvstoreMemory` block needs the context call and is run by `test_editing_readme.py`.
"""

from __future__ import annotations

import pytest
from agents import Agent

from tests.readme import namespace_for, python_blocks
from tests.test_agents_session import CannedModel, say
from tests.test_pydantic_ai import weather_agent

BLOCKS = [block for block in python_blocks() if "ConvstoreMemory" not in block]


def test_the_section_has_its_blocks():
    assert len(BLOCKS) == 6
    assert len(python_blocks()) == 7


@pytest.mark.parametrize("block", BLOCKS, ids=[b.splitlines()[0][:40] for b in BLOCKS])
def test_a_readme_block_runs(daemon, block, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the embedded block's data/conversations.db goes
    extras = {}
    if "from agents" in block:
        model = CannedModel([[say("msg_1", "Sunny in Paris.")]])
        extras["agent"] = Agent(name="weather", instructions="Answer.", model=model)
    if "convstore.pydantic_ai" in block:
        extras["agent"] = weather_agent()
    code, names = namespace_for(block, daemon, extras)
    exec(compile(code, "README.md", "exec"), names)
    assert capsys.readouterr().out.strip()
    assert names["store"].get_stats().total_messages > 0
    if "convstore.Store()" in block:
        assert (tmp_path / "data" / "conversations.db").is_file()
