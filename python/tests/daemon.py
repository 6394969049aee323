"""A real `convstore serve` for the tests: built by cargo, started on a loopback port.

The daemon runs with a random bearer token and a fresh SQLite file in its own folder.
It is started on port 0 and its port read from the log line `listening addr=HOST:PORT`;
a daemon that logs only the configured bind (`listening bind=127.0.0.1:0`) gets a free
port chosen here instead, and keeps it across restarts, so that a client can find it
again after `kill()` and `start()`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LISTENING = re.compile(r"\blistening\b.*")
_PORT_OF = {kind: re.compile(rf"\b{kind}=\S*:(\d+)") for kind in ("addr", "bind")}


def listening_port(log: str) -> tuple[str, int] | None:
    """(`addr` or `bind`, port) of the daemon's `listening` log line, if it logged one.

    `addr=` is the address bound (port 0 resolved); `bind=` the configured one, which
    shows port 0 as 0.
    """
    line = _LISTENING.search(_ANSI.sub("", log))
    for kind, port_of in _PORT_OF.items() if line else ():
        shown = port_of.search(line.group(0))
        if shown:
            return kind, int(shown.group(1))
    return None


def build_binary() -> Path:
    """The daemon binary: `$CONVSTORE_BIN`, or the one `cargo build` makes of this repository."""
    given = os.environ.get("CONVSTORE_BIN")
    if given:
        return Path(given).resolve()
    built = subprocess.run(
        ["cargo", "build", "--bin", "convstore", "--message-format=json-render-diagnostics"],
        cwd=REPO,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in built.stdout.splitlines():
        record = json.loads(line)
        if record.get("reason") == "compiler-artifact" and record.get("executable"):
            return Path(record["executable"])
    raise RuntimeError("cargo build printed no executable for the convstore binary")


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Daemon:
    """One `convstore serve` process and the folder it keeps its database and log in.

    `env` adds environment variables; a `None` value leaves that variable unset. Without a
    database setting the daemon gets a fresh SQLite file in the folder.
    """

    reports_port: bool | None = None
    """Whether this binary logs the port it bound (learned from the first start)."""

    def __init__(self, binary: Path, folder: Path, env: dict[str, str | None] | None = None):
        self.binary = binary
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.token = secrets.token_urlsafe(18)
        self.port: int | None = None
        self.log_path = folder / "convstore.log"
        env = dict(env or {})
        if "CONVERSATION_DB_URL" not in env and "CONVERSATION_DATA_DIR" not in env:
            env["CONVERSATION_DB_URL"] = str(folder / "convstore.db")
        self.env = {name: value for name, value in env.items() if value is not None}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The daemon's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Daemon:
        """Start the daemon (on its known port after a restart) and wait until it is ready."""
        if self.port is not None:
            self._run(self.port)
        elif Daemon.reports_port is False:
            self._run(free_port())
        else:
            self._run(0)
        self._wait_ready()
        return self

    def _run(self, port: int) -> None:
        for _attempt in range(5):
            self._spawn(port)
            listening = self._wait_listening()
            if listening is None:  # the port was taken in the meantime: try another
                self.stop()
                port = free_port()
                continue
            kind, shown = listening
            if port == 0:
                Daemon.reports_port = kind == "addr" and shown != 0
                if not Daemon.reports_port:
                    self.stop()
                    port = free_port()
                    continue
                port = shown
            self.port = port
            return
        raise RuntimeError(f"convstore did not start:\n{self.log()}")

    def _spawn(self, port: int) -> None:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("CONVSTORE_", "CONVERSATION_"))
        }
        env.update(self.env)
        env.update(CONVSTORE_BIND=f"127.0.0.1:{port}", CONVSTORE_TOKEN=self.token, NO_COLOR="1")
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()
            log.write(f"--- start on port {port}\n".encode())
            self.process = subprocess.Popen(
                [str(self.binary), "serve"],
                cwd=self.folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _wait_listening(self) -> tuple[str, int] | None:
        """(`addr` or `bind`, port) of the daemon's listening line; `None` if its port was taken."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            text = self._log_since_start()
            found = listening_port(text)
            if found is not None:
                return found
            if self.process is not None and self.process.poll() is not None:
                if re.search(r"address already in use|os error 98", text, re.I):
                    return None
                raise RuntimeError(
                    f"convstore exited with {self.process.returncode}:\n{self.log()}"
                )
            time.sleep(0.005)
        raise RuntimeError(f"convstore logged no listening line within {START_TIMEOUT_S} s")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.005)
        raise RuntimeError(f"convstore was not ready within {START_TIMEOUT_S} s:\n{self.log()}")

    def _log_since_start(self) -> str:
        with open(self.log_path, "rb") as log:
            log.seek(self._log_offset)
            return log.read().decode(errors="replace")

    def kill(self) -> None:
        """SIGKILL the daemon and wait for it to be gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def terminate(self) -> None:
        """SIGTERM the daemon without waiting (see `wait`)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 15.0) -> int | None:
        """Wait for the daemon to exit (killing it after `timeout`); its exit status."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.process.returncode

    def stop(self) -> int | None:
        """SIGTERM the daemon and wait for it to exit."""
        self.terminate()
        return self.wait()

    def log(self) -> str:
        """The daemon's log so far."""
        return _ANSI.sub("", self.log_path.read_text(errors="replace"))
