"""The test daemon's port discovery reads both shapes of the daemon's listening line."""

from __future__ import annotations

from tests.daemon import listening_port


def test_the_bound_address_and_the_configured_bind_are_told_apart():
    colored = (
        "\x1b[32m INFO\x1b[0m convstore::app: listening "
        "\x1b[3maddr\x1b[0m\x1b[2m=\x1b[0m127.0.0.1:41234"
    )
    assert listening_port(colored) == ("addr", 41234)
    assert listening_port("INFO convstore::app: listening bind=127.0.0.1:0") == ("bind", 0)
    assert listening_port("listening bind=127.0.0.1:0 addr=127.0.0.1:999") == ("addr", 999)
    assert listening_port("INFO opening the store database=sqlite:/tmp/c.db") is None
