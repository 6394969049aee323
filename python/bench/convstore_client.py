r"""Peer adapter for the shared peer harness: the convstore daemon through `convstore.Client`.

This is how a Python bot uses convstore remotely with this package: one `Client` (one
keep-alive pool: the native transport, or httpx in `ConvstoreClientHttpx`) shared by every
thread, saves with the client's safe retries (each
save carries a generated idempotency key), and the drop-in manager for the harness's
statistics, export/import and cleanup steps.

    CONVSTORE_BIN=target/release/convstore PYTHONPATH=python/bench \\
      $VENV/bin/python ../shared/bench-peers/bench_peers.py --peers agents \\
      --extra-peer convstore_client:ConvstoreClient \\
      --extra-peer convstore_client:ConvstoreClientHttpx

Each `open(dir)` starts `$CONVSTORE_BIN serve` on a loopback port with a random token and
a fresh SQLite file in `dir` (the launcher of the package's tests, `tests/daemon.py`);
`close()` stops it. The package is the one installed into `$VENV` (`pip install ./python`);
the source folder is only searched, after it, for the daemon launcher.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from _peer import StorePeer

from convstore import Client
from convstore.compat import PersistentConversationManager

sys.path.append(str(Path(__file__).resolve().parents[1]))  # after the installed package
from tests.daemon import Daemon


def _status_kb(pid: int, key: str) -> int | None:
    """A `/proc/<pid>/status` figure in kB (VmRSS, VmHWM), if the kernel shows it."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class ConvstoreClient(StorePeer):
    """The harness's peer interface over `convstore.Client` (see the shared README)."""

    name = "convstore_client"
    transport = "native"

    def __init__(self, ctx):
        super().__init__(ctx)
        binary = os.environ.get("CONVSTORE_BIN")
        if not binary:
            raise RuntimeError("CONVSTORE_BIN is not set: the convstore binary to serve with")
        self.binary = Path(binary).resolve()
        self.daemon: Daemon | None = None

    def open(self, d):
        self.daemon = Daemon(self.binary, Path(d).resolve() / "convstore-client").start()
        self.db = str(self.daemon.folder / "convstore.db")
        self.store = Client(
            self.daemon.url, token=self.daemon.token, timeout=120.0, transport=self.transport
        )
        self.mgr = PersistentConversationManager(url=self.daemon.url, token=self.daemon.token)

    def close(self):
        if self.daemon is None:
            return
        self.store.close()
        self.mgr.close()
        self.daemon.stop()
        self.daemon = None

    def db_files(self):
        return [self.db, self.db + "-wal"]

    def measure_get_stats(self, repeat, max_s):
        """`get_stats()` timed `repeat` times (at most `max_s`), with the daemon's own RSS."""
        pid = self.daemon.process.pid
        before = _status_kb(pid, "VmRSS")
        try:  # "5" resets the peak RSS (VmHWM) to the current RSS
            with open(f"/proc/{pid}/clear_refs", "w") as refs:
                refs.write("5")
            reset = True
        except OSError:
            reset = False
        times, started, stats = [], time.perf_counter(), None
        for _ in range(repeat):
            began = time.perf_counter()
            stats = self.mgr.get_stats()
            times.append(round((time.perf_counter() - began) * 1e3, 2))
            if time.perf_counter() - started > max_s:
                break
        peak = _status_kb(pid, "VmHWM")
        return {
            "measured": "convstore.Client get_stats over HTTP; RSS of the daemon process",
            "times_ms": times,
            "p50_ms": round(statistics.median(times), 2),
            "first_ms": times[0],
            "rss_before_mb": None if before is None else round(before / 1024, 1),
            "peak_rss_mb": None if peak is None else round(peak / 1024, 1),
            "peak_reset_before": reset,
            "rss_delta_mb": None if None in (peak, before) else round((peak - before) / 1024, 1),
            "stats": stats,
        }


class ConvstoreClientHttpx(ConvstoreClient):
    """The same over httpx, the transport of `https://` daemons."""

    name = "convstore_client_httpx"
    transport = "httpx"
