"""The Python code blocks of the README's "From Python" section, and what they need.

A block runs with `TOKEN` and the daemon's URL in place of `http://127.0.0.1:8377`, a
`store` (a `Client`), and, for the framework blocks, a local `model`, `tools` or `agent`
of that framework.
"""

from __future__ import annotations

import re
from pathlib import Path

from convstore import Client

README = Path(__file__).resolve().parents[2] / "README.md"
DEFAULT_URL = "http://127.0.0.1:8377"


def python_blocks() -> list[str]:
    """The ```python blocks of the README's "From Python" section, in order."""
    text = README.read_text()
    section = text[text.index("## From Python") :]
    following = re.search(r"\n## ", section[3:])
    if following:
        section = section[: following.start() + 3]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def namespace_for(block: str, daemon, extras: dict) -> tuple[str, dict]:
    """The block's code for this daemon, and the names it may use."""
    store = Client(daemon.url, token=daemon.token)
    names = {"TOKEN": daemon.token, "store": store, **extras}
    return block.replace(DEFAULT_URL, daemon.url), names
