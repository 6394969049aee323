r"""Peer adapter for the shared peer harness: the store embedded in Python, `convstore.Store`.

This is how a Python bot uses convstore without a daemon: one `Store` (the store's actor on
a thread of its own, SQLite with `synchronous = FULL`, so every save is durable when it
returns) shared by every thread, and the drop-in manager over the same store for the
harness's statistics, export/import and cleanup steps.

    PYTHONPATH=python/bench $VENV/bin/python ../shared/bench-peers/bench_peers.py \\
      --peers agents --extra-peer convstore_embedded:ConvstoreEmbedded

(the package installed into `$VENV` with `pip install ./python`).
"""

from __future__ import annotations

import resource
import statistics
import time
from pathlib import Path

from _peer import StorePeer

from convstore.compat import PersistentConversationManager
from convstore.embedded import Store


class _SharedStore(PersistentConversationManager):
    """The drop-in over an already open `Store` (the harness's `.mgr`)."""

    def __init__(self, store: Store):
        self.store = store

    def close(self) -> None:
        """The store belongs to the adapter, which closes it."""


class ConvstoreEmbedded(StorePeer):
    """The harness's peer interface over `convstore.Store` (see the shared README)."""

    name = "convstore_embedded"

    def open(self, d):
        self.db = str(Path(d).resolve() / "convstore-embedded" / "conversations.db")
        self.store = Store(self.db)
        self.mgr = _SharedStore(self.store)

    def close(self):
        if self.store is not None:
            self.store.close()
            self.store = None

    def db_files(self):
        return [self.db, self.db + "-wal"]

    def measure_get_stats(self, repeat, max_s):
        """`get_stats()` timed `repeat` times (at most `max_s`), in this process."""
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        times, started, stats = [], time.perf_counter(), None
        for _ in range(repeat):
            began = time.perf_counter()
            stats = self.mgr.get_stats()
            times.append(round((time.perf_counter() - began) * 1e3, 2))
            if time.perf_counter() - started > max_s:
                break
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {
            "measured": "convstore.Store get_stats in process; peak RSS of this process",
            "times_ms": times,
            "p50_ms": round(statistics.median(times), 2),
            "first_ms": times[0],
            "peak_rss_mb": round(peak / 1024, 1),
            "rss_delta_mb": round((peak - before) / 1024, 1),
            "stats": stats,
        }
