"""The remote engines: the one API over the daemon's HTTP API, with httpx.

`Client` is synchronous and thread-safe: one instance (one keep-alive connection pool) is
meant to be shared by every thread of a bot. `AsyncClient` has the same methods as
coroutines, for asyncio bots. Both send the requests of `convstore._requests` and read
errors into the exceptions of `convstore.errors`.

Transports: `Client` carries its requests to an `http://` daemon with the native module's
transport (`convstore._native.HttpTransport`: a keep-alive pool in Rust, the GIL
released while a request waits), and to an `https://` one, or without the native module,
with httpx; `transport="httpx"` asks for httpx always. `AsyncClient` uses httpx. The
retry rules below are the same for every transport.

Retries: a failed attempt is repeated, after a growing pause (`backoff`, doubling, at
most 2 s), up to `retries` times, when the daemon could not be reached (connection
refused or reset, no answer, 503 `unavailable`) and repeating is safe: reads, idempotent
updates and saves (which always carry an idempotency key) are repeated after any such
failure; calls that would act twice (usage, `truncate(last=)`, deletes, fork, cleanup)
only when no connection was made. When the attempts run out the call raises
`Unavailable`.
"""

from __future__ import annotations

import abc
import asyncio
import json
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode

import httpx

from convstore import _requests
from convstore.api import AsyncConvstoreAPI, ConvstoreAPI, operation_names
from convstore.errors import ConvstoreError, NotFound, Unavailable, from_error_body

DEFAULT_TIMEOUT = 30.0
"""Seconds a request may take (connect, write, wait for the answer), unless told otherwise."""

try:
    from convstore._native import HttpTransport, MaybeSent, Unsent  # type: ignore[import-not-found]
except ImportError:  # an installation without the native module: httpx only
    HttpTransport = None

    class Unsent(ConnectionError):  # type: ignore[no-redef]
        """Stands for the native transport's exception, which this installation lacks."""

    class MaybeSent(ConnectionError):  # type: ignore[no-redef]
        """Stands for the native transport's exception, which this installation lacks."""


_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, Unsent)
"""Failures that happen before the request leaves: repeating them is always safe."""
_MAYBE_SENT = (
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    MaybeSent,
)
"""Failures after the request may have reached the daemon."""
_NO_ANSWER = (httpx.TransportError, Unsent, MaybeSent)
"""Every failure of a transport to bring back an answer."""

_MAX_PAUSE = 2.0

_Pool = TypeVar("_Pool", httpx.Client, httpx.AsyncClient)


@dataclass(frozen=True)
class Answer:
    """The daemon's answer to one request: its status and body."""

    status_code: int
    content: bytes

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        """The answer an httpx response carries."""
        return cls(response.status_code, response.content)


@dataclass(frozen=True)
class _Send:
    """Step of an exchange: send the request (again)."""


@dataclass(frozen=True)
class _Pause:
    """Step of an exchange: wait this long before the next attempt."""

    seconds: float


def _exchange(
    request: _requests.Request, retries: int, backoff: float
) -> Generator[_Send | _Pause, Answer | Exception | None, Any]:
    """Drives one call: yields what to do next and receives each attempt's outcome.

    The sync and async clients run this same generator, doing the I/O it asks for, so the
    retry rules exist once. It returns the decoded result or raises the call's error.
    """
    pause = backoff
    for attempt in range(retries + 1):
        outcome = yield _Send()
        last = attempt == retries
        if isinstance(outcome, Answer):
            if outcome.status_code == 503 and request.retry is _requests.Retry.SAFE and not last:
                yield _Pause(pause)
                pause = min(pause * 2, _MAX_PAUSE)
                continue
            return _decode(request, outcome)
        repeatable = isinstance(outcome, _UNSENT) or (
            isinstance(outcome, _MAYBE_SENT) and request.retry is _requests.Retry.SAFE
        )
        if not repeatable or last:
            raise _unreachable(request, outcome)
        yield _Pause(pause)
        pause = min(pause * 2, _MAX_PAUSE)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _unreachable(request: _requests.Request, error: Any) -> ConvstoreError:
    """The error for an attempt that got no answer."""
    if isinstance(error, _UNSENT):
        return Unavailable(f"cannot reach the convstore daemon: {error}")
    if isinstance(error, _MAYBE_SENT):
        return Unavailable(
            f"no answer from the convstore daemon to {request.method} {request.path} "
            f"(it may or may not have taken effect): {error}"
        )
    return ConvstoreError(f"{request.method} {request.path}: {error}")


def _decode(request: _requests.Request, answer: Answer) -> Any:
    """The result of a call from the daemon's answer, or the error it carries."""
    try:
        body = json.loads(answer.content) if answer.content else None
    except ValueError:
        body = answer.content.decode("utf-8", "replace")
    if 200 <= answer.status_code < 300:
        return request.decode(answer.status_code, body)
    error = from_error_body(answer.status_code, body)
    if request.none_if_missing and isinstance(error, NotFound):
        return None
    raise error


def _headers(token: str | None) -> dict[str, str]:
    """The headers every request of a client carries."""
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _pool(
    cls: type[_Pool], url: str, token: str | None, timeout: float, max_connections: int
) -> _Pool:
    """The httpx client (sync or async) of an engine: its keep-alive pool and headers."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return cls(base_url=url, headers=_headers(token), timeout=timeout, limits=limits)


class _HttpxTransport:
    """`Client`'s requests over an httpx keep-alive pool."""

    def __init__(self, url: str, token: str | None, timeout: float, max_connections: int):
        self._http = _pool(httpx.Client, url, token, timeout, max_connections)

    def send(self, request: _requests.Request) -> Answer:
        """The daemon's answer to `request`; an httpx error when none came."""
        response = self._http.request(
            request.method, request.path, params=request.params, json=request.json
        )
        return Answer.of(response)

    def close(self) -> None:
        """Close the pool."""
        self._http.close()


class _NativeTransport:
    """`Client`'s requests over the native module's keep-alive pool (`http://` only)."""

    def __init__(self, url: str, token: str | None, timeout: float, max_connections: int):
        self._http = HttpTransport(url, list(_headers(token).items()), timeout, max_connections)

    def send(self, request: _requests.Request) -> Answer:
        """The daemon's answer to `request`; `Unsent` or `MaybeSent` when none came."""
        path = request.path
        if request.params:
            path = f"{path}?{urlencode(_query_values(request.params))}"
        body = None
        if request.json is not None:
            body = json.dumps(request.json, ensure_ascii=False, separators=(",", ":")).encode()
        status, content = self._http.request(request.method, path, body)
        return Answer(status, content)

    def close(self) -> None:
        """Nothing to close: the pool goes with the transport."""


def _query_values(params: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters as text, booleans as JSON writes them (as httpx does)."""
    return {
        name: ("true" if value else "false") if isinstance(value, bool) else str(value)
        for name, value in params.items()
    }


Transport = Literal["auto", "native", "httpx"]
"""Which transport a `Client` uses: see the module documentation."""


def _transport(
    url: str, token: str | None, timeout: float, max_connections: int, choice: Transport
) -> _HttpxTransport | _NativeTransport:
    """The transport `choice` names for a daemon at `url`."""
    native_possible = HttpTransport is not None and url.startswith("http://")
    if choice == "native" and not native_possible:
        raise ValueError(
            "transport='native' needs the native module and an http:// URL; use 'httpx'"
        )
    if choice not in ("auto", "native", "httpx"):
        raise ValueError(f"transport: {choice!r} is not one of auto, native, httpx")
    if choice == "httpx" or not native_possible:
        return _HttpxTransport(url, token, timeout, max_connections)
    return _NativeTransport(url, token, timeout, max_connections)


def _sync_operation(build: Callable[..., _requests.Request]) -> Callable[..., Any]:
    def operation(self: Client, *args: Any, **kwargs: Any) -> Any:
        return self.send(build(*args, **kwargs))

    return operation


def _async_operation(build: Callable[..., _requests.Request]) -> Callable[..., Any]:
    async def operation(self: AsyncClient, *args: Any, **kwargs: Any) -> Any:
        return await self.send(build(*args, **kwargs))

    return operation


def _with_operations(
    cls: type, api: type, wrap: Callable[[Callable[..., _requests.Request]], Callable[..., Any]]
) -> type:
    """Gives `cls` one method per operation of the one API, sending that operation's request.

    Each method takes the signature and documentation of the API's declaration.
    """
    for name in operation_names():
        if name == "close":
            continue
        method = wrap(getattr(_requests, name))
        declared = getattr(api, name)
        method.__name__ = name
        method.__qualname__ = f"{cls.__name__}.{name}"
        method.__doc__ = declared.__doc__
        method.__wrapped__ = declared  # type: ignore[attr-defined]
        setattr(cls, name, method)
    abc.update_abstractmethods(cls)
    return cls


class Client(ConvstoreAPI):
    """The store behind a convstore daemon, over HTTP.

    `url` is the daemon's base URL (`http://127.0.0.1:8377`), `token` its bearer token,
    `timeout` the seconds one request may take. `retries` and `backoff` tune the retries
    described in the module documentation; `max_connections` bounds the keep-alive pool;
    `transport` picks the transport (`auto`: the native one for `http://` when the
    native module is there, else httpx).
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        retries: int = 5,
        backoff: float = 0.05,
        max_connections: int = 64,
        transport: Transport = "auto",
    ):
        self.url = url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self._transport = _transport(self.url, token, timeout, max_connections, transport)

    @property
    def transport(self) -> str:
        """The transport in use: `native` or `httpx`."""
        return "native" if isinstance(self._transport, _NativeTransport) else "httpx"

    def send(self, request: _requests.Request) -> Any:
        """Send one request of the contract, with the retries it allows; its decoded result."""
        steps = _exchange(request, self.retries, self.backoff)
        step = next(steps)
        while True:
            outcome: Answer | Exception | None = None
            if isinstance(step, _Pause):
                time.sleep(step.seconds)
            else:
                try:
                    outcome = self._transport.send(request)
                except _NO_ANSWER as error:
                    outcome = error
            try:
                step = steps.send(outcome)
            except StopIteration as done:
                return done.value

    def close(self) -> None:
        """Close the connection pool."""
        self._transport.close()


class AsyncClient(AsyncConvstoreAPI):  # type: ignore[misc, valid-type]
    """`Client` for asyncio: the same constructor, and the same methods as coroutines."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        retries: int = 5,
        backoff: float = 0.05,
        max_connections: int = 64,
    ):
        self.url = url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self._http = _pool(httpx.AsyncClient, self.url, token, timeout, max_connections)

    async def send(self, request: _requests.Request) -> Any:
        """Send one request of the contract, with the retries it allows; its decoded result."""
        steps = _exchange(request, self.retries, self.backoff)
        step = next(steps)
        while True:
            outcome: Answer | Exception | None = None
            if isinstance(step, _Pause):
                await asyncio.sleep(step.seconds)
            else:
                try:
                    response = await self._http.request(
                        request.method, request.path, params=request.params, json=request.json
                    )
                    outcome = Answer.of(response)
                except httpx.TransportError as error:
                    outcome = error
            try:
                step = steps.send(outcome)
            except StopIteration as done:
                return done.value

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()


_with_operations(Client, ConvstoreAPI, _sync_operation)
_with_operations(AsyncClient, AsyncConvstoreAPI, _async_operation)
