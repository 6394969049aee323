r"""The embedded store's Python overhead per call: `Store` methods against the same calls in Rust.

For each operation, the median time of the `convstore.Store` method (the Python call,
the argument checks, the native module's call, which sends the request to the store's
actor, or on SQLite reads on this thread, with the GIL released, and builds the
answer's dataclasses) and of the same call made from a plain Rust thread by the
example `in_process_calls` (the request sent and its answer back, no Python). Both
run on a fresh SQLite file with `synchronous = off`, so that the disk does not
dominate, in alternating rounds (the median of each side's round medians), so that
both see the same machine. The difference is what the Python layer costs.

    cargo build --release --example in_process_calls
    $VENV/bin/python python/bench/overhead.py --native target/release/examples/in_process_calls \
      [--calls 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from convstore import Store

CONTENT = "x" * 200


def _python_round(calls: int) -> dict[str, float]:
    """One round of the Python calls on a fresh store: each operation's median (µs)."""
    with tempfile.TemporaryDirectory() as folder:
        store = Store(str(Path(folder) / "overhead.db"), database={"sqlite_synchronous": "off"})
        conv = store.get_or_create("overhead", "bench")
        for _ in range(20):
            store.save_message(conv.id, "user", CONTENT, 30)
        operations = {
            "save_message": lambda: store.save_message(conv.id, "user", CONTENT, 30),
            "load_history(20)": lambda: store.load_history(conv.id, max_turns=20, max_messages=20),
            "get_conversation": lambda: store.get_conversation(conv.id),
        }
        medians = {}
        for name, call in operations.items():
            times = []
            for _ in range(calls):
                began = time.perf_counter()
                call()
                times.append(time.perf_counter() - began)
            medians[name] = statistics.median(times) * 1e6
        store.close()
    return medians


def _native_round(binary: str, calls: int) -> dict[str, float]:
    """One round of the same calls in Rust (the example's JSON)."""
    out = subprocess.run([binary, str(calls)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["native_us"]


def main() -> None:
    """Print one JSON object: per operation, the Python and the Rust medians (µs)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--native", required=True, help="the in_process_calls example binary")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    python_rounds, native_rounds = [], []
    for _ in range(args.rounds):
        python_rounds.append(_python_round(args.calls))
        native_rounds.append(_native_round(args.native, args.calls))
    report = {}
    for name in python_rounds[0]:
        python_us = statistics.median(r[name] for r in python_rounds)
        native_us = statistics.median(r[name] for r in native_rounds)
        report[name] = {
            "python_us": round(python_us, 1),
            "native_us": round(native_us, 1),
            "overhead_us": round(python_us - native_us, 1),
            "python_rounds_us": [round(r[name], 1) for r in python_rounds],
            "native_rounds_us": [round(r[name], 1) for r in native_rounds],
        }
    print(json.dumps({"calls": args.calls, "rounds": args.rounds, "operations": report}, indent=2))


if __name__ == "__main__":
    main()
