"""Fixtures: a real daemon per test, and the engines every API test runs on.

`engine` is parametrized over the engines of the one API. Today that is `remote` (a
`Client` against a fresh daemon on a loopback port); the embedded store adds its engines
(SQLite, PostgreSQL, MariaDB) to `ENGINES`, and every test taking `engine`, `store` or
`manager` then runs on each.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convstore import AsyncClient, Client
from convstore.compat import PersistentConversationManager
from tests.daemon import Daemon, build_binary

ENGINES = ["remote"]


@pytest.fixture(scope="session")
def convstore_binary() -> Path:
    """The daemon binary, built once per test session."""
    return build_binary()


@pytest.fixture(scope="session")
def _daemons() -> Iterator[list[Daemon]]:
    """Every daemon the session started: stopped together at the end (SIGTERM, then wait)."""
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.terminate()
    for daemon in started:
        daemon.wait()


@pytest.fixture
def start_daemon(convstore_binary: Path, tmp_path: Path, _daemons: list[Daemon]):
    """Starts a daemon in its own folder under the test's tmp_path, with extra environment."""

    def start(name: str = "daemon", **env: str | None) -> Daemon:
        daemon = Daemon(convstore_binary, tmp_path / name, env)
        _daemons.append(daemon)
        return daemon.start()

    return start


@pytest.fixture
def daemon(start_daemon) -> Daemon:
    """A fresh daemon on a fresh SQLite file."""
    return start_daemon()


class RemoteEngine:
    """The one API through `Client` / `AsyncClient` against a daemon."""

    name = "remote"

    def __init__(self, daemon: Daemon, start_daemon: Any):
        self.daemon = daemon
        self._start_daemon = start_daemon
        self._opened: list[Any] = []

    def store(self, **options: Any) -> Client:
        """A new sync client of the daemon."""
        client = Client(self.daemon.url, token=self.daemon.token, **options)
        self._opened.append(client)
        return client

    def async_store(self, **options: Any) -> AsyncClient:
        """A new async client of the daemon (create it inside the event loop that uses it)."""
        return AsyncClient(self.daemon.url, token=self.daemon.token, **options)

    def manager(self) -> PersistentConversationManager:
        """The drop-in, connected to the daemon."""
        manager = PersistentConversationManager(url=self.daemon.url, token=self.daemon.token)
        self._opened.append(manager)
        return manager

    def manager_as_constructed(
        self, **arguments: Any
    ) -> tuple[PersistentConversationManager, Path]:
        """The drop-in for the original's constructor `arguments`, and the folder it runs in.

        Remote, the arguments configure a daemon of their own (`db_url` and `data_dir` as
        the guide's `CONVERSATION_DB_URL` / `CONVERSATION_DATA_DIR`, `echo` as
        `CONVSTORE_ECHO`), started in that folder, and the manager connects to it.
        """
        env: dict[str, str | None] = {"CONVERSATION_DB_URL": None}
        if arguments.get("db_url") is not None:
            env["CONVERSATION_DB_URL"] = arguments["db_url"]
        if arguments.get("data_dir") is not None:
            env["CONVERSATION_DATA_DIR"] = arguments["data_dir"]
        if arguments.get("echo"):
            env["CONVSTORE_ECHO"] = "true"
        daemon = self._start_daemon(f"constructed{len(self._opened)}", **env)
        manager = PersistentConversationManager(url=daemon.url, token=daemon.token)
        self._opened.append(manager)
        return manager, daemon.folder

    def close(self) -> None:
        for opened in self._opened:
            opened.close()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[RemoteEngine]:
    """Each engine of the one API, on a fresh store."""
    assert request.param == "remote"
    engine = RemoteEngine(
        request.getfixturevalue("daemon"), request.getfixturevalue("start_daemon")
    )
    yield engine
    engine.close()


@pytest.fixture
def store(engine: RemoteEngine) -> Client:
    """A sync store of the engine."""
    return engine.store()


@pytest.fixture
def manager(engine: RemoteEngine) -> PersistentConversationManager:
    """The drop-in over the engine."""
    return engine.manager()
