r"""The embedded store's Python overhead per call: `Store` methods against the native calls.

For each operation, the median time of the `convstore.Store` method (argument checks,
JSON of the answer read into the dataclasses, the exceptions) and of the native
module's call it makes (`Store._engine`: the request sent to the store's actor and its
answer back, with the GIL released, then the answer's JSON text, all in Rust), run
alternately on the same store, so that both see the same database. The difference is
what the Python layer costs.

    $VENV/bin/python python/bench/overhead.py [--calls 3000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from convstore import Store

CONTENT = "x" * 200


def _median_us(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1e6, 1)


def main() -> None:
    """Print one JSON object: per operation, the Python and the native medians (µs)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        # synchronous=off: the figures are the store's work, not the disk's fsync.
        store = Store(str(Path(folder) / "overhead.db"), database={"sqlite_synchronous": "off"})
        conv = store.get_or_create("overhead", "bench")
        for j in range(20):
            store.save_message(conv.id, "user" if j % 2 == 0 else "assistant", CONTENT, 30)
        engine = store._engine
        operations = {
            "save_message": (
                lambda: store.save_message(conv.id, "user", CONTENT, 30),
                lambda: engine.save_message(conv.id, "user", CONTENT, 30, None, None),
            ),
            "load_history(20)": (
                lambda: store.load_history(conv.id, max_turns=20, max_messages=20),
                lambda: engine.load_history(conv.id, 20, 20, None, None),
            ),
            "get_conversation": (
                lambda: store.get_conversation(conv.id),
                lambda: engine.get_conversation(conv.id),
            ),
        }
        report = {}
        for name, (python_call, native_call) in operations.items():
            python_times, native_times = [], []
            for _ in range(args.calls):
                for call, times in ((python_call, python_times), (native_call, native_times)):
                    began = time.perf_counter()
                    call()
                    times.append(time.perf_counter() - began)
            python_us, native_us = _median_us(python_times), _median_us(native_times)
            report[name] = {
                "python_us": python_us,
                "native_us": native_us,
                "overhead_us": round(python_us - native_us, 1),
            }
        store.close()
    print(json.dumps({"calls": args.calls, "operations": report}, indent=2))


if __name__ == "__main__":
    main()
