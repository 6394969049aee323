"""Fixtures: a real daemon per test, and the engines every API test runs on.

`engine` is parametrized over the engines of the one API: `remote` (a `Client` against a
fresh daemon on a loopback port, over the native transport), `remote_httpx` (the same
over httpx), and the embedded `Store` on a fresh SQLite file
(`sqlite`), on a scratch PostgreSQL database (`postgres`) and on a scratch MariaDB/MySQL
database (`mysql`). Every test taking `engine`, `store` or `manager` runs on each.

The server engines take their server from `CONVSTORE_TEST_POSTGRES_URL` and
`CONVSTORE_TEST_MYSQL_URL` (as the Rust tests do) and create a database of their own per
test, dropped afterwards. Without the URL such an engine's tests are skipped, or fail
when `CONVSTORE_REQUIRE_ALL_BACKENDS=1` (as in CI).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convstore import AsyncClient, Client
from convstore.compat import PersistentConversationManager
from convstore.embedded import AsyncStore, Store
from tests.daemon import Daemon, build_binary
from tests.scratch import ScratchDatabase

ENGINES = ["remote", "remote_httpx", "sqlite", "postgres", "mysql"]
SERVER_URLS = {"postgres": "CONVSTORE_TEST_POSTGRES_URL", "mysql": "CONVSTORE_TEST_MYSQL_URL"}


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
    backend = "sqlite"
    """The database the daemon runs on."""

    def __init__(self, daemon: Daemon, start_daemon: Any, transport: str):
        self.daemon = daemon
        self.transport = transport
        self._start_daemon = start_daemon
        self._opened: list[Any] = []

    def store(self, **options: Any) -> Client:
        """A new sync client of the daemon."""
        options.setdefault("transport", self.transport)
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


class EmbeddedEngine:
    """The one API through the embedded `Store` / `AsyncStore` on one database.

    `db_url` is the database (a SQLite file in the test's folder, or a scratch database on
    a server); every store of the engine opens it, so they see the same conversations.
    """

    def __init__(self, name: str, db_url: str, folder: Path, monkeypatch: pytest.MonkeyPatch):
        self.name = name
        self.backend = name
        self.db_url = db_url
        self.folder = folder
        self._monkeypatch = monkeypatch
        self._opened: list[Any] = []

    def store(self, **options: Any) -> Store:
        """A new embedded store on the engine's database."""
        store = Store(self.db_url, **options)
        self._opened.append(store)
        return store

    def async_store(self, **options: Any) -> AsyncStore:
        """A new async embedded store on the engine's database."""
        store = AsyncStore(self.db_url, **options)
        self._opened.append(store.store)
        return store

    def manager(self) -> PersistentConversationManager:
        """The drop-in, embedded, on the engine's database."""
        manager = PersistentConversationManager(self.db_url)
        self._opened.append(manager)
        return manager

    def manager_as_constructed(
        self, **arguments: Any
    ) -> tuple[PersistentConversationManager, Path]:
        """The drop-in built with the original's constructor `arguments`, and its folder.

        It runs in a folder of its own (the working directory, for the relative paths of
        the guide's calls), whatever database the engine has.
        """
        folder = self.folder / f"constructed{len(self._opened)}"
        folder.mkdir()
        self._monkeypatch.chdir(folder)
        manager = PersistentConversationManager(**arguments)
        self._opened.append(manager)
        return manager, folder

    def close(self) -> None:
        for opened in self._opened:
            opened.close()


Engine = RemoteEngine | EmbeddedEngine


def _server_url(name: str) -> str:
    """The server URL of engine `name` from the environment; skips (or fails) without it."""
    variable = SERVER_URLS[name]
    url = os.environ.get(variable)
    if url:
        return url
    message = f"{variable} is not set: the embedded store on {name} is not tested"
    if os.environ.get("CONVSTORE_REQUIRE_ALL_BACKENDS") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """Each engine of the one API, on a fresh store."""
    name = request.param
    scratch = None
    if name.startswith("remote"):
        engine: Engine = RemoteEngine(
            request.getfixturevalue("daemon"),
            request.getfixturevalue("start_daemon"),
            "httpx" if name == "remote_httpx" else "native",
        )
    else:
        if name == "sqlite":
            db_url = str(tmp_path / "embedded" / "conversations.db")
        else:
            scratch = ScratchDatabase.create(_server_url(name))
            db_url = scratch.url
        monkeypatch = request.getfixturevalue("monkeypatch")
        engine = EmbeddedEngine(name, db_url, tmp_path, monkeypatch)
    yield engine
    engine.close()
    if scratch is not None:
        scratch.drop()


@pytest.fixture
def store(engine: Engine) -> Any:
    """A sync store of the engine."""
    return engine.store()


@pytest.fixture
def manager(engine: Engine) -> PersistentConversationManager:
    """The drop-in over the engine."""
    return engine.manager()
