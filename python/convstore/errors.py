"""The exceptions every convstore engine raises, embedded or remote.

Each error of the store has one class, whatever carried it: `NotFound` for an unknown
conversation or message (HTTP 404), `InvalidInput` for bad input, naming the field (400),
`Conflict` when the thing to create exists (409), `Unavailable` when the database or the
daemon cannot answer now (503, or no connection), `Unauthorized` for a missing or wrong
token (401), `TooLarge` for a body over the daemon's limit (413). Anything else is a
`ConvstoreError` with its `code`.

`InvalidInput` and `TooLarge` are also `ValueError`s and `NotFound` is a `LookupError`, so
code written for plain Python exceptions catches them too.
"""

from __future__ import annotations

from typing import Any


class ConvstoreError(Exception):
    """Base of every convstore error.

    `code` is the contract's error code (`invalid_input`, `not_found`, ...) and `status`
    the HTTP status when the error came over HTTP (`None` from the embedded store or when
    no answer arrived).
    """

    code: str = "internal"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.status = status


class NotFound(ConvstoreError, LookupError):
    """The conversation or message does not exist."""

    code = "not_found"


class InvalidInput(ConvstoreError, ValueError):
    """The input broke a rule; `field` names what to fix (e.g. `role`, `messages[2].tokens`)."""

    code = "invalid_input"

    def __init__(
        self, message: str, *, field: str, code: str | None = None, status: int | None = None
    ):
        super().__init__(message, code=code, status=status)
        self.field = field


class Conflict(ConvstoreError):
    """The thing to create exists already (e.g. a fork onto a user key in use)."""

    code = "conflict"


class Unavailable(ConvstoreError):
    """The database or the daemon cannot answer now; the call may be retried later."""

    code = "unavailable"


class Unauthorized(ConvstoreError):
    """The daemon wants a bearer token and did not get the right one."""

    code = "unauthorized"


class TooLarge(ConvstoreError, ValueError):
    """The request is larger than the daemon accepts."""

    code = "too_large"


_BY_CODE: dict[str, type[ConvstoreError]] = {
    cls.code: cls for cls in (NotFound, Conflict, Unavailable, Unauthorized, TooLarge)
}


def field_of(message: str) -> str:
    """The field an `invalid_input` message names.

    The daemon writes them as `"<field>: <what is wrong>"` (`role: "x" is not one of ...`,
    `messages[1].tokens: must not be negative`); a message without that shape names no
    field and is reported as about the `body`.
    """
    field, separator, _ = message.partition(": ")
    if separator and field and " " not in field:
        return field
    return "body"


def from_error_body(status: int, body: Any) -> ConvstoreError:
    """The exception for an error answer `{"error": {"code", "message"}}` of the daemon."""
    detail = body.get("error") if isinstance(body, dict) else None
    if not isinstance(detail, dict):
        return ConvstoreError(f"HTTP {status}: {str(body)[:200]}", status=status)
    code = str(detail.get("code", "internal"))
    message = str(detail.get("message", ""))
    if code == "invalid_input":
        return InvalidInput(message, field=field_of(message), status=status)
    cls = _BY_CODE.get(code, ConvstoreError)
    return cls(message, code=code, status=status)
