"""The remote client's retries against a daemon that goes away, and answers that get lost."""

from __future__ import annotations

import threading
import time

import pytest

import convstore
from convstore import NewMessage, Unavailable
from tests.proxy import LossyProxy


@pytest.fixture(params=["native", "httpx"])
def transport(request: pytest.FixtureRequest) -> str:
    """Each transport of the sync client: the same retry rules must hold on both."""
    return request.param


def _restart_later(daemon, delay: float) -> threading.Thread:
    """Kill the daemon now and start it again on the same port after `delay` seconds."""
    daemon.kill()

    def restart() -> None:
        time.sleep(delay)
        daemon.start()

    thread = threading.Thread(target=restart)
    thread.start()
    return thread


def test_reads_and_saves_wait_out_a_daemon_restart(daemon, transport):
    client = convstore.Client(
        daemon.url, token=daemon.token, retries=8, backoff=0.05, transport=transport
    )
    conv = client.get_or_create("u", "feishu")
    client.save_message(conv.id, "user", "before")

    restart = _restart_later(daemon, 0.4)
    began = time.monotonic()
    history = client.load_history(conv.id)
    waited = time.monotonic() - began
    restart.join()
    assert [m.content for m in history] == ["before"]
    assert waited >= 0.4  # the read was refused until the daemon was back, then repeated

    restart = _restart_later(daemon, 0.3)
    saved = client.save_message(conv.id, "assistant", "after the restart")
    restart.join()
    assert saved.created
    assert [m.content for m in client.load_history(conv.id)] == ["before", "after the restart"]
    client.close()


def test_calls_that_would_act_twice_are_not_repeated_but_still_wait_for_a_connection(
    daemon, transport
):
    client = convstore.Client(
        daemon.url, token=daemon.token, retries=8, backoff=0.05, transport=transport
    )
    conv = client.get_or_create("u", "feishu")
    restart = _restart_later(daemon, 0.3)
    # Refused connections never reached the daemon: even a usage update is sent again.
    assert client.update_conversation_stats(conv.id, 5).total_tokens == 5
    restart.join()
    client.close()


def test_a_daemon_that_stays_away_gives_unavailable_after_the_retries(daemon, transport):
    client = convstore.Client(
        daemon.url, token=daemon.token, retries=2, backoff=0.01, transport=transport
    )
    conv = client.get_or_create("u", "feishu")
    daemon.kill()
    with pytest.raises(Unavailable) as caught:
        client.get_conversation(conv.id)
    assert caught.value.status is None
    with pytest.raises(Unavailable):
        client.save_message(conv.id, "user", "lost?")
    daemon.start()
    assert client.get_conversation(conv.id).message_count == 0
    client.close()


def test_a_save_whose_answer_is_lost_is_stored_once(daemon, transport):
    proxy = LossyProxy(daemon.port)
    client = convstore.Client(proxy.url, token=daemon.token, backoff=0.01, transport=transport)
    conv = client.get_or_create("u", "feishu")

    proxy.lose_next_answers(1)
    saved = client.save_message(conv.id, "user", "Hello", tokens=5)  # no idempotency key given
    assert proxy.lost == 1
    assert saved.created is False  # the retry found the copy the lost attempt stored
    assert saved.idempotency_key is not None

    proxy.lose_next_answers(2)
    batch = client.save_messages(
        conv.id, [NewMessage("assistant", "Hi", tokens=3), NewMessage("user", "Bye", tokens=1)]
    )
    assert proxy.lost == 3
    assert [m.content for m in batch] == ["Hi", "Bye"]

    stored = client.load_history(conv.id)
    assert [m.content for m in stored] == ["Hello", "Hi", "Bye"]
    assert client.get_conversation(conv.id).total_tokens == 9
    client.close()
    proxy.close()


def test_a_usage_update_whose_answer_is_lost_is_not_sent_twice(daemon, transport):
    proxy = LossyProxy(daemon.port)
    client = convstore.Client(proxy.url, token=daemon.token, backoff=0.01, transport=transport)
    conv = client.get_or_create("u", "feishu")
    proxy.lose_next_answers(1)
    with pytest.raises(Unavailable, match="may or may not have taken effect"):
        client.update_conversation_stats(conv.id, 100)
    assert client.get_conversation(conv.id).total_tokens == 100
    client.close()
    proxy.close()


def test_the_async_client_retries_a_lost_answer_too(daemon):
    import asyncio

    proxy = LossyProxy(daemon.port)

    async def scenario() -> None:
        async with convstore.AsyncClient(proxy.url, token=daemon.token, backoff=0.01) as client:
            conv = await client.get_or_create("u", "feishu")
            proxy.lose_next_answers(1)
            saved = await client.save_message(conv.id, "user", "Hello")
            assert saved.created is False
            assert (await client.get_conversation(conv.id)).message_count == 1

    asyncio.run(scenario())
    proxy.close()
