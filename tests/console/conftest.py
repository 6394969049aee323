"""Fixtures of the console's browser test: a real daemon, seeded data, a real Chromium.

The daemon is the binary named by ``CONVSTORE_BIN`` (default ``target/debug/convstore``),
started on loopback port 0 (its port read from the ``listening addr=`` line it logs) with
a random token, an archive folder for cleanups, and SQLite in a temporary folder; or, when
``CONVERSATION_DB_URL`` is set, on that database, which must be empty (a fresh PostgreSQL
or MariaDB database, say). Data is seeded through the HTTP API only. Chromium is Debian's
(``CONSOLE_CHROMIUM``, default /usr/bin/chromium), driven by Playwright. Screenshots go to
``CONSOLE_SCREENSHOTS`` (default ``target/console-screenshots``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

REPOSITORY = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The browser's zone and language: far from UTC, so that a time shown in UTC by mistake
# is caught, and a fixed number format.
TIME_ZONE = "Asia/Tokyo"
LOCALE = "en-US"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


class ApiError(Exception):
    """A call to the daemon answered an error status."""

    def __init__(self, status: int, body: str):
        """The error of an answer with ``status`` and ``body``."""
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


@dataclass
class Daemon:
    """A running ``convstore serve`` and a client for its API."""

    base: str
    token: str
    work: Path
    process: subprocess.Popen
    log: Path

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite file of the store, or None when it is on a server."""
        if os.environ.get("CONVERSATION_DB_URL"):
            return None
        return self.work / "data" / "conversations.db"

    @property
    def archive(self) -> Path:
        """The folder cleanups archive to (``schedule.archive_dir``)."""
        return self.work / "archive"

    def call(self, method: str, path: str, body=None, *, token: str | None = None, raw=False):
        """Calls the API with the token; answers the decoded JSON (or text when ``raw``)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if token or self.token:
            request.add_header("Authorization", f"Bearer {token or self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, error.read().decode()) from None
        if raw:
            return text
        return json.loads(text) if text else None

    def get(self, path: str):
        """``GET path``."""
        return self.call("GET", path)

    def post(self, path: str, body=None):
        """``POST path`` with a JSON body."""
        return self.call("POST", path, body if body is not None else None)


LISTENING = re.compile(r"\blistening addr=(\S+)")


def wait_until_listening(process: subprocess.Popen, log: Path, seconds: float = 30) -> str:
    """The base URL of the daemon, from the ``listening addr=HOST:PORT`` line it logs.

    The daemon binds port 0, so the system chose a free port: no other process can take it
    between a probe and the bind.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = LISTENING.search(log.read_text(errors="replace"))
        if found:
            return "http://" + found.group(1)
        if process.poll() is not None:
            pytest.fail(f"convstore exited with {process.returncode}:\n{log.read_text()}")
        time.sleep(0.05)
    pytest.fail(f"convstore logged no listening address within {seconds} s:\n{log.read_text()}")


def wait_until_ready(daemon: Daemon, seconds: float = 30) -> None:
    """Waits for ``/readyz``; fails with the daemon's log if it dies or stays unready."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if daemon.process.poll() is not None:
            pytest.fail(
                f"convstore exited with {daemon.process.returncode}:\n{daemon.log.read_text()}"
            )
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(daemon.base + "/readyz", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"convstore was not ready within {seconds} s:\n{daemon.log.read_text()}")


@contextlib.contextmanager
def running_daemon(work: Path, token: str | None, database_url: str | None = None):
    """``convstore serve`` in ``work`` with ``token`` (None: none), for a ``with`` block.

    It is stopped with SIGTERM when the block ends, and must exit 0 without a panic.
    """
    binary = Path(os.environ.get("CONVSTORE_BIN", REPOSITORY / "target" / "debug" / "convstore"))
    if not binary.is_file():
        pytest.fail(f"{binary} does not exist: build it first (cargo build --bins)")
    # Only this run's settings configure the daemon.
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CONVSTORE_", "CONVERSATION_")) and name != "NOTIFY_SOCKET"
    }
    environment.update(
        CONVERSATION_DATA_DIR=str(work / "data"),
        CONVSTORE_BIND="127.0.0.1:0",
        CONVSTORE_SCHEDULE__ARCHIVE_DIR=str(work / "archive"),
        # A locked database answers 503 within a second (the outage test).
        CONVSTORE_DATABASE__BUSY_TIMEOUT_MS="1000",
        # Warnings, and the line that names the port (`listening addr=`).
        RUST_LOG=os.environ.get("RUST_LOG", "warn,convstore::app=info"),
    )
    if token is not None:
        environment["CONVSTORE_TOKEN"] = token
    if database_url:
        environment["CONVERSATION_DB_URL"] = database_url
    log = work / "convstore.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(binary), "serve"], cwd=work, env=environment, stdout=output, stderr=output
        )
    try:
        running = Daemon(wait_until_listening(process, log), token or "", work, process, log)
        wait_until_ready(running)
        yield running
    finally:
        process.terminate()
        try:
            status = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            status = process.wait()
        text = log.read_text(errors="replace")
        assert "panicked" not in text, text
        assert status == 0, f"convstore exited with {status} on SIGTERM:\n{text}"


@pytest.fixture(scope="session")
def daemon(tmp_path_factory) -> Daemon:
    """The daemon under test, with a random token, on SQLite or ``CONVERSATION_DB_URL``."""
    work = tmp_path_factory.mktemp("daemon")
    with running_daemon(
        work, secrets.token_urlsafe(24), os.environ.get("CONVERSATION_DB_URL")
    ) as running:
        yield running


@dataclass
class Seeded:
    """What the seed wrote, for the tests to look for."""

    tool_user: str
    tool_conversation: int
    long_user: str
    long_conversation: int
    long_messages: int
    members: list[str]
    saved_today: int = 0
    tokens_today: int = 0


TOOL_CALL_ID = "call_weather_1"
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
LONG_TEXT = "\n".join(
    f"Line {n}: the forecast for the coming days, hour by hour." for n in range(40)
)


def seed_store(daemon: Daemon) -> Seeded:
    """Several users on three platforms, a tool call and its result, a long conversation."""
    stats = daemon.get("/v1/stats")
    if stats["total_conversations"] != 0:
        pytest.fail(f"the store of the test must be empty; it holds {stats}")
    seeded = Seeded(
        tool_user="feishu:group:alice",
        tool_conversation=0,
        long_user="feishu:group:bob",
        long_conversation=0,
        long_messages=130,
        members=[f"slack:team:member{n:02d}" for n in range(30)],
    )

    def open_conversation(user_key: str, platform: str, chat_id: str | None = None) -> int:
        body = {"user_key": user_key, "platform": platform}
        if chat_id:
            body["chat_id"] = chat_id
        return daemon.post("/v1/conversations", body)["id"]

    def save(conversation: int, messages: list[dict]) -> list[dict]:
        saved = daemon.post(
            f"/v1/conversations/{conversation}/messages/batch", {"messages": messages}
        )
        seeded.saved_today += len(messages)
        seeded.tokens_today += sum(m.get("tokens", 0) for m in messages)
        return saved["messages"]

    # The long conversation first, so that the tool call's conversation is the newest.
    bob = open_conversation(seeded.long_user, "feishu", "chat-bob")
    seeded.long_conversation = bob
    save(
        bob,
        [
            {
                "role": "user" if n % 2 == 0 else "assistant",
                "content": f"bob message {n + 1}",
                "tokens": 10 + n % 7,
            }
            for n in range(seeded.long_messages)
        ],
    )
    for user_key, platform in [
        ("qq:user:carol", "qq"),
        ("feishu:dm:erin", "feishu"),
        ("slack:team:dave", "slack"),
    ]:
        conversation = open_conversation(user_key, platform)
        save(conversation, [{"role": "user", "content": f"hello from {user_key}", "tokens": 4}])
    for member in seeded.members:
        open_conversation(member, "slack")

    alice = open_conversation(seeded.tool_user, "feishu", "chat456")
    seeded.tool_conversation = alice
    call = {
        "id": TOOL_CALL_ID,
        "type": "function",
        "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
    }
    save(
        alice,
        [
            {"role": "system", "content": "You are a helpful weather bot.", "tokens": 8},
            {"role": "user", "content": "What's the weather in Paris?", "tokens": 12},
            {
                "role": "assistant",
                "content": "",
                "tokens": 20,
                "metadata": {"tool_calls": [call], "model": "gpt-4o"},
            },
            {
                "role": "tool",
                "content": json.dumps({"temperature_c": 18, "sky": "sunny"}),
                "tokens": 9,
                "metadata": {"tool_call_id": TOOL_CALL_ID},
            },
            {
                "role": "assistant",
                "content": "It is sunny in Paris, 18 °C.",
                "tokens": 15,
                "metadata": {"model": "gpt-4o", "finish_reason": "stop"},
            },
            {"role": "user", "content": HOSTILE, "tokens": 6},
            {"role": "assistant", "content": LONG_TEXT, "tokens": 300},
        ],
    )
    daemon.call(
        "PUT",
        f"/v1/conversations/{alice}/summary",
        {"summary": "Alice asked about the weather in Paris."},
    )
    daemon.call("PUT", f"/v1/conversations/{alice}/persona", {"persona_id": "weather-bot"})
    return seeded


@pytest.fixture(scope="session")
def seeded(daemon: Daemon) -> Seeded:
    """The seeded store."""
    return seed_store(daemon)


def old_documents(count: int, prefix: str, year: int) -> list[dict]:
    """Export documents of conversations idle since March ``year`` (for a cleanup)."""
    stamp = datetime(year, 3, 1, 12, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return [
        {
            "format": "convstore/1",
            "conversation": {
                "user_key": f"{prefix}{n}",
                "platform": "qq",
                "created_at": stamp,
                "last_activity": stamp,
            },
            "messages": [
                {"role": "user", "content": f"an old question {n}", "timestamp": stamp, "tokens": 3}
            ],
        }
        for n in range(count)
    ]


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where screenshots are saved (kept by CI)."""
    folder = Path(
        os.environ.get("CONSOLE_SCREENSHOTS", REPOSITORY / "target" / "console-screenshots")
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def browser() -> Browser:
    """Debian's Chromium, headless."""
    executable = os.environ.get("CONSOLE_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).is_file():
        pytest.fail(f"{executable} is missing: apt-get install chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def new_context(browser: Browser, viewport: dict) -> BrowserContext:
    """A fresh browser profile (no storage) at ``viewport``."""
    context = browser.new_context(
        viewport=viewport, locale=LOCALE, timezone_id=TIME_ZONE, accept_downloads=True
    )
    context.set_default_timeout(10_000)
    return context


@pytest.fixture
def page(browser: Browser, seeded: Seeded) -> Page:
    """A desktop-sized page in a fresh profile, failing the test on any script error."""
    context = new_context(browser, DESKTOP)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == [], f"script errors in the page: {errors}"
