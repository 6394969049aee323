"""What the peer adapters of convstore's two engines share: the harness's calls on a store.

A subclass opens `self.store` (a `Store` or a `Client`) in `open()` and gives `name`,
`close()`, `db_files()` and `measure_get_stats()`; the calls of the workload are the same
on both engines, since they have one API.
"""

from __future__ import annotations

from convstore import NewMessage

BATCH = 500
"""Messages per `save_messages` in `bulk_append`."""


class StorePeer:
    """The harness's peer interface (see the shared README) over one convstore engine."""

    thread_safe = True
    per_call_durable = True
    has_stats = True

    def __init__(self, ctx):
        self.wl = ctx["wl"]
        self.store = None

    def thread_init(self):
        pass

    def thread_done(self):
        pass

    def create(self, i):
        return self.store.get_or_create(self.wl.user_key(i), "feishu", self.wl.chat_id(i)).id

    def save(self, h, role, content, tokens):
        self.store.save_message(h, role, content, tokens)

    def flush(self):
        pass

    def load(self, h, n):
        # max_turns as large as max_messages, so that only max_messages cuts the window.
        return self.store.load_history(h, max_turns=n, max_messages=n)

    @staticmethod
    def contents(rows):
        return [m.content for m in rows]

    def bulk_append(self, h, i, start_j, n):
        for first in range(start_j, start_j + n, BATCH):
            last = min(first + BATCH, start_j + n)
            batch = [NewMessage(*self.wl.msg(i, j)) for j in range(first, last)]
            self.store.save_messages(h, batch)

    def count_messages(self):
        return self.store.get_stats().total_messages
