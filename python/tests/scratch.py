"""Scratch databases on the test servers, one per test.

They are created and dropped with the servers' own command-line clients (`psql`,
`mysql`), as CI's `.ci/run` does.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit


def _client_command(url: str) -> list[str]:
    """The `psql` or `mysql` command that runs SQL on the server of `url`."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme in ("postgres", "postgresql"):
        return ["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c"]
    if scheme in ("mysql", "mariadb"):
        command = ["mysql", "-h", parts.hostname or "127.0.0.1", "-P", str(parts.port or 3306)]
        command += ["-u", parts.username or "root"]
        if parts.password:
            command.append(f"-p{parts.password}")
        return [*command, "-e"]
    raise ValueError(f"not a PostgreSQL or MySQL URL: {url}")


@dataclass
class ScratchDatabase:
    """A database of its own on the server of a URL; `url` names it."""

    server_url: str
    name: str

    @classmethod
    def create(cls, server_url: str) -> ScratchDatabase:
        """A new, empty database on the server `server_url` names."""
        scratch = cls(server_url, f"convstore_py_{secrets.token_hex(6)}")
        scratch._run(f"CREATE DATABASE {scratch.name}")
        return scratch

    @property
    def url(self) -> str:
        """The server URL with this database in place of the one it named."""
        parts = urlsplit(self.server_url)
        return urlunsplit(parts._replace(path=f"/{self.name}"))

    def drop(self) -> None:
        """Drop the database (and with it everything the test wrote)."""
        statement = f"DROP DATABASE IF EXISTS {self.name}"
        if urlsplit(self.server_url).scheme.startswith("postgres"):
            statement += " WITH (FORCE)"
        self._run(statement)

    def _run(self, statement: str) -> None:
        subprocess.run(
            [*_client_command(self.server_url), statement], check=True, capture_output=True
        )
