"""A loopback TCP proxy in front of the daemon that can lose answers.

`lose_next_answers(n)` makes the proxy read the daemon's next n answers and, instead of
passing them on, close the client's connection: the request was handled (and committed)
by the daemon, but the client never hears so, as when a network drops an answer.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable


class LossyProxy:
    """Forwards 127.0.0.1:`port` to the daemon on `upstream_port`, losing answers on request."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._to_lose = 0
        self.lost = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        """The proxy's base URL, to give the client instead of the daemon's."""
        return f"http://127.0.0.1:{self.port}"

    def lose_next_answers(self, count: int = 1) -> None:
        """Throw away the daemon's next `count` answers and drop those connections."""
        with self._lock:
            self._to_lose = count

    def close(self) -> None:
        """Stop accepting connections."""
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._answers, args=(upstream, client), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        _pump(client, upstream, lambda: False)

    def _answers(self, upstream: socket.socket, client: socket.socket) -> None:
        _pump(upstream, client, self._take_loss)

    def _take_loss(self) -> bool:
        with self._lock:
            if self._to_lose == 0:
                return False
            self._to_lose -= 1
            self.lost += 1
            return True


def _pump(source: socket.socket, sink: socket.socket, lose: Callable[[], bool]) -> None:
    """Copy bytes from `source` to `sink` until either closes, or `lose()` says to drop."""
    try:
        while True:
            chunk = source.recv(65536)
            if not chunk or lose():
                break
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()
