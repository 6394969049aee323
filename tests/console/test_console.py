"""The operator console in a real Chromium against a real daemon with seeded data.

Each test signs in as an operator would, looks at what a person sees (text, layout,
focus), and saves a screenshot of each page under ``target/console-screenshots/``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from conftest import (
    DESKTOP,
    HOSTILE,
    PHONE,
    TIME_ZONE,
    TOOL_CALL_ID,
    ApiError,
    Daemon,
    Seeded,
    new_context,
    old_documents,
    running_daemon,
)


def utc_date(days_ago: int) -> str:
    """The UTC date ``days_ago`` days before today, as YYYY-MM-DD."""
    return (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%d")


def one_decimal(value: float) -> str:
    """``value`` as the page shows it: grouped, at most one decimal."""
    text = f"{value:,.1f}"
    return text[:-2] if text.endswith(".0") else text


def replay_daily(page: Page) -> None:
    """Answers the page's ``GET /v1/stats/daily?days=30`` with known figures.

    Newest first as the contract has it; days without activity left out; one day
    older than the window, which the chart must leave out.
    """
    days = [
        {"date": utc_date(0), "messages": 140, "tokens": 2066, "active_conversations": 35},
        {"date": utc_date(2), "messages": 40, "tokens": 900, "active_conversations": 4},
        {"date": utc_date(10), "messages": 75, "tokens": 1500, "active_conversations": 9},
        {"date": utc_date(29), "messages": 5, "tokens": 50, "active_conversations": 1},
        {"date": utc_date(31), "messages": 999, "tokens": 9999, "active_conversations": 99},
    ]
    page.route(
        "**/v1/stats/daily?days=30",
        lambda route: route.fulfill(status=200, json={"days": days}),
    )


def sign_in(page: Page, daemon: Daemon, token: str | None = None) -> None:
    """Opens the console and signs in with ``token`` (default: the daemon's)."""
    page.goto(daemon.base + "/console")
    page.get_by_label("Token", exact=True).fill(token or daemon.token)
    page.get_by_label("Token", exact=True).press("Enter")


def signed_in(page: Page, daemon: Daemon) -> None:
    """Signs in and waits for the overview."""
    sign_in(page, daemon)
    expect(page.get_by_role("navigation", name="Console")).to_be_visible()
    expect(page.get_by_role("heading", level=1, name="Overview")).to_be_visible()


def shows_local_time(page: Page, selector: str) -> None:
    """The first ``<time>`` under ``selector`` shows its UTC instant in the browser's zone."""
    element = page.locator(f"{selector} time").first
    stamp = element.get_attribute("datetime")
    local = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(ZoneInfo(TIME_ZONE))
    hour = local.hour % 12 or 12
    expected = f"{local:%b} {local.day}, {local.year}, {hour}:{local:%M:%S} {local:%p}"
    shown = re.sub(r"\s", " ", element.inner_text())
    assert shown == expected, f"{stamp} shown as {shown!r}, expected {expected!r} in {TIME_ZONE}"


def no_sideways_scroll(page: Page) -> None:
    """The page fits the window's width."""
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"the page is {width} px wide in a {viewport} px window"


def test_a_wrong_token_sees_nothing(page: Page, daemon: Daemon, seeded: Seeded, screenshots):
    """Without the right token the page shows the sign-in and nothing of the store."""
    answers = []
    page.on("response", lambda r: answers.append((r.url.replace(daemon.base, ""), r.status)))
    sign_in(page, daemon, token="not-the-token")
    refusal = page.locator("#sign-in-message")
    expect(refusal).to_contain_text("refused")
    expect(refusal).to_contain_text("Nothing of the store is shown")
    expect(page.get_by_role("navigation", name="Console")).to_be_hidden()
    expect(page.locator("#view")).to_be_empty()
    text = page.locator("body").inner_text()
    for user in [seeded.tool_user, seeded.long_user, *seeded.members[:3]]:
        assert user not in text
    api_calls = [(path, status) for path, status in answers if not path.startswith("/console")]
    assert api_calls == [("/admin/schedule", 401), ("/admin/schedule", 401)], api_calls
    assert page.evaluate("sessionStorage.length") == 0
    page.screenshot(path=screenshots / "01-sign-in-refused.png", full_page=True)


def test_sign_in_shows_the_statistics(page: Page, daemon: Daemon, seeded: Seeded, screenshots):
    """The token is asked once, kept for the tab, and the guide's seven figures shown."""
    page.goto(daemon.base + "/console")
    expect(page.get_by_label("Token", exact=True)).to_be_focused()
    page.screenshot(path=screenshots / "00-sign-in.png", full_page=True)
    signed_in(page, daemon)
    stats = daemon.get("/v1/stats")
    figures = {
        "total_conversations": f"{stats['total_conversations']:,}",
        "total_messages": f"{stats['total_messages']:,}",
        "total_tokens": f"{stats['total_tokens']:,}",
        "average_messages_per_conversation": one_decimal(
            stats["average_messages_per_conversation"]
        ),
        "average_tokens_per_conversation": one_decimal(stats["average_tokens_per_conversation"]),
        "longest_conversation_messages": f"{stats['longest_conversation_messages']:,}",
        "longest_conversation_user": stats["longest_conversation_user"],
    }
    assert stats["longest_conversation_user"] == seeded.long_user
    for key, shown in figures.items():
        expect(page.locator(f'[data-stat="{key}"] dd')).to_have_text(shown)
    assert page.evaluate("sessionStorage.getItem('convstore.console.token')") == daemon.token
    assert page.evaluate("localStorage.length") == 0
    # A reload keeps the session; the token is not asked again.
    page.reload()
    expect(page.get_by_role("heading", level=1, name="Overview")).to_be_visible()
    expect(page.get_by_label("Token", exact=True)).to_be_hidden()
    page.screenshot(path=screenshots / "02-overview.png", full_page=True)
    # The longest conversation's user leads to it.
    page.locator('[data-stat="longest_conversation_user"] a').click()
    expect(page.get_by_role("heading", level=1, name=seeded.long_user)).to_be_visible()


def test_the_chart_draws_the_contract_shape(
    page: Page, daemon: Daemon, seeded: Seeded, screenshots
):
    """The chart of a /v1/stats/daily answer in the contract's shape (replayed to the page).

    The page's drawing is checked here against a known answer; the next test checks it
    against the daemon's own figures.
    """
    replay_daily(page)
    signed_in(page, daemon)
    chart = page.locator("svg.chart")
    bars = chart.locator("rect.bar")
    expect(bars).to_have_count(30)
    heights = {
        bar.get_attribute("data-date"): float(bar.get_attribute("height")) for bar in bars.all()
    }
    dates = list(heights)
    assert dates[0] == utc_date(29) and dates[-1] == utc_date(0), dates
    assert utc_date(31) not in heights
    assert heights[utc_date(0)] > 0
    assert abs(heights[utc_date(10)] / heights[utc_date(0)] - 75 / 140) < 0.01, heights
    assert abs(heights[utc_date(29)] / heights[utc_date(0)] - 5 / 140) < 0.01, heights
    assert heights[utc_date(1)] == 0 and heights[utc_date(20)] == 0
    tokens = [int(d.get_attribute("data-tokens")) for d in chart.locator("circle.dot").all()]
    assert tokens[29] == 2066 and tokens[27] == 900 and tokens[19] == 1500 and tokens[1] == 0
    expect(chart.locator("polyline.line")).to_have_count(1)
    expect(chart.locator("line.axis")).to_have_count(3)
    assert chart.locator("text.date-label").count() >= 5
    labels = chart.locator("text.messages-label").all_text_contents()
    assert labels[0] == "0" and len(labels) >= 3, labels
    expect(chart.locator("text.axis-title")).to_have_text(["messages", "tokens", "day (UTC)"])
    assert "260 messages and 4,516 tokens" in chart.get_attribute("aria-label")
    page.get_by_text("Show as a table").click()
    rows = page.locator(".daily table.data tbody tr")
    expect(rows).to_have_count(30)
    expect(rows.first.locator("th")).to_have_text(utc_date(0))
    expect(rows.first.locator("td")).to_have_text(["140", "2,066", "35"])
    page.screenshot(path=screenshots / "03-overview-chart.png", full_page=True)


def test_the_chart_draws_the_last_30_days(page: Page, daemon: Daemon, seeded: Seeded, screenshots):
    """Messages and tokens per day, 30 UTC days, with axes and labels, from /v1/stats/daily."""
    signed_in(page, daemon)
    chart = page.locator("svg.chart")
    expect(page.locator(".chart-section .message.error")).to_have_count(0)
    expect(chart).to_be_visible()
    daily = daemon.get("/v1/stats/daily?days=30")["days"]
    today = daily[0]
    assert today["messages"] >= seeded.saved_today, daily[:2]
    assert today["tokens"] >= seeded.tokens_today, daily[:2]
    bars = chart.locator("rect.bar")
    expect(bars).to_have_count(30)
    newest = bars.nth(29)
    assert newest.get_attribute("data-date") == today["date"]
    assert int(newest.get_attribute("data-messages")) == today["messages"]
    assert float(newest.get_attribute("height")) > 0
    assert int(chart.locator("circle.dot").nth(29).get_attribute("data-tokens")) == today["tokens"]
    expect(chart.locator("polyline.line")).to_have_count(1)
    expect(chart.locator("line.axis")).to_have_count(3)
    assert chart.locator("text.date-label").count() >= 5
    assert chart.locator("text.messages-label").count() >= 2
    expect(chart.locator("text.axis-title")).to_have_count(3)
    page.get_by_text("Show as a table").click()
    first_row = page.locator(".daily table.data tbody tr").first
    expect(first_row.locator("th")).to_have_text(today["date"])
    expect(first_row.locator("td").first).to_have_text(f"{today['messages']:,}")
    page.screenshot(path=screenshots / "03-overview-chart-live.png", full_page=True)


def test_find_a_user_by_prefix_and_page_the_list(
    page: Page, daemon: Daemon, seeded: Seeded, screenshots
):
    """Conversations newest first, filtered by user key prefix and platform, 25 a page."""
    signed_in(page, daemon)
    page.get_by_role("link", name="Conversations").click()
    expect(page.get_by_role("heading", level=1, name="Conversations")).to_be_visible()
    page.get_by_label("User key starts with").fill("feishu:group:")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.conversations tbody tr")
    expect(rows).to_have_count(2)
    # Newest activity first: alice's conversation was written last.
    expect(rows.nth(0).locator("th")).to_have_text(seeded.tool_user)
    expect(rows.nth(1).locator("th")).to_have_text(seeded.long_user)
    shows_local_time(page, "table.conversations tbody tr:first-child")
    page.screenshot(path=screenshots / "04-conversations-by-prefix.png", full_page=True)

    # The prefix is exact: another case finds nobody.
    page.get_by_label("User key starts with").fill("Feishu:")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No conversation matches these filters.")).to_be_visible()

    page.get_by_label("User key starts with").fill("slack:")
    page.get_by_label("Platform").fill("slack")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(25)
    first_page = rows.locator("th").all_inner_texts()
    page.get_by_role("link", name="Next page").click()
    expect(rows).to_have_count(len(seeded.members) + 1 - 25)
    second_page = rows.locator("th").all_inner_texts()
    assert sorted(first_page + second_page) == sorted([*seeded.members, "slack:team:dave"])
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    page.go_back()
    expect(rows).to_have_count(25)


def test_a_tool_call_is_shown_beside_its_result(
    page: Page, daemon: Daemon, seeded: Seeded, screenshots
):
    """The assistant's call and the tool's answer side by side, untrusted text kept text."""
    signed_in(page, daemon)
    page.goto(f"{daemon.base}/console#/conversations?prefix={seeded.tool_user}")
    page.get_by_role("link", name=seeded.tool_user).click()
    expect(page.get_by_role("heading", level=1, name=seeded.tool_user)).to_be_visible()
    conversation = daemon.get(f"/v1/conversations/{seeded.tool_conversation}")
    history = daemon.get(f"/v1/conversations/{seeded.tool_conversation}/history?max_messages=100")
    messages = history["messages"]

    pair = page.locator(f'.tool-pair[data-call-id="{TOOL_CALL_ID}"]')
    expect(pair).to_have_count(1)
    call, result = pair.locator(".tool-call"), pair.locator(".tool-result")
    expect(call).to_contain_text("get_weather")
    expect(call).to_contain_text('"city": "Paris"')
    expect(result).to_contain_text('"sky": "sunny"')
    expect(result).to_contain_text("9 tokens")
    tool_message = next(m for m in messages if m["role"] == "tool")
    assert result.get_attribute("data-message-id") == str(tool_message["id"])
    call_box, result_box = call.bounding_box(), result.bounding_box()
    assert result_box["x"] >= call_box["x"] + call_box["width"] - 1, (call_box, result_box)
    assert abs(result_box["y"] - call_box["y"]) < 2, (call_box, result_box)
    # The tool message is not repeated on its own; every other message is there, oldest first.
    cards = page.locator("ol.messages > li")
    expect(cards).to_have_count(len(messages) - 1)
    shown_ids = [int(i) for i in cards.evaluate_all("cards => cards.map(c => c.dataset.messageId)")]
    assert shown_ids == [m["id"] for m in messages if m["role"] != "tool"]

    # Record, summary, persona, metadata and tokens.
    record = page.locator("dl.record")
    expect(record).to_contain_text("weather-bot")
    expect(record).to_contain_text("chat456")
    expect(record).to_contain_text(f"{conversation['total_tokens']:,}")
    expect(page.locator("section.summary")).to_contain_text(
        "Alice asked about the weather in Paris."
    )
    assistant = cards.filter(has=page.locator(".tool-exchange"))
    expect(assistant.locator(".facts").first).to_contain_text("20 tokens")
    own_metadata = assistant.locator("article > details.metadata")
    own_metadata.locator("summary").click()
    expect(own_metadata.locator("pre")).to_contain_text('"model": "gpt-4o"')
    shows_local_time(page, "ol.messages")

    # Untrusted content is shown as text and runs nothing.
    expect(page.get_by_text(HOSTILE)).to_be_visible()
    assert page.evaluate("window.__pwned") is None
    assert page.locator("ol.messages img, ol.messages script").count() == 0

    # Long contents are folded, with a button that unfolds them.
    unfold = page.get_by_role("button", name=re.compile(r"^Show all"))
    expect(unfold).to_have_count(1)
    folded = page.locator("pre.is-folded")
    expect(folded).not_to_contain_text("Line 39")
    page.screenshot(path=screenshots / "05-conversation-tool-call.png", full_page=True)
    unfold.click()
    expect(page.get_by_role("button", name="Show less")).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_text("Line 39:", exact=False)).to_be_visible()


def test_page_back_through_a_long_conversation(
    page: Page, daemon: Daemon, seeded: Seeded, screenshots
):
    """The newest 50 messages first, then 50 earlier at a time, until the first."""
    signed_in(page, daemon)
    page.goto(f"{daemon.base}/console#/conversation/{seeded.long_conversation}")
    cards = page.locator("ol.messages > li")
    expect(cards).to_have_count(50)
    expect(page.locator("p.shown")).to_have_text("Showing 50 messages of 130, oldest first.")
    expect(cards.first).to_contain_text("bob message 81")
    expect(cards.last).to_contain_text("bob message 130")
    earlier = page.get_by_role("button", name=re.compile(r"^Show earlier messages"))
    expect(earlier).to_have_text("Show earlier messages (80 more)")
    earlier.click()
    expect(cards).to_have_count(100)
    expect(cards.first).to_contain_text("bob message 31")
    earlier.click()
    expect(cards).to_have_count(130)
    expect(earlier).to_be_hidden()
    texts = cards.locator("pre.content").all_inner_texts()
    assert texts == [f"bob message {n}" for n in range(1, 131)]
    page.screenshot(path=screenshots / "06-conversation-paged-back.png")


def test_export_one_conversation(page: Page, daemon: Daemon, seeded: Seeded):
    """The conversation page downloads its export document."""
    signed_in(page, daemon)
    page.goto(f"{daemon.base}/console#/conversation/{seeded.tool_conversation}")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export this conversation (JSON)").click()
    assert download.value.suggested_filename == f"conversation-{seeded.tool_conversation}.json"
    document = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert document["conversation"]["user_key"] == seeded.tool_user
    assert [m["content"] for m in document["messages"]][:2] == [
        "You are a helpful weather bot.",
        "What's the weather in Paris?",
    ]
    expect(page.get_by_text(f"Saved conversation-{seeded.tool_conversation}.json.")).to_be_visible()


def test_cleanup_and_vacuum_ask_first_and_show_their_result(
    page: Page, daemon: Daemon, seeded: Seeded, screenshots
):
    """The schedule, a confirmed cleanup (archived first), a cancelled one, VACUUM."""
    for document in old_documents(3, "archive:old:user", 2024):
        daemon.post("/v1/import", document)
    before = daemon.get("/v1/stats")["total_conversations"]
    signed_in(page, daemon)
    page.get_by_role("link", name="Operations").click()
    jobs = page.locator("table.jobs tbody tr")
    expect(jobs).to_have_count(2)
    expect(jobs.filter(has_text="Cleanup")).to_contain_text("0 0 3 * * *")
    shows_local_time(page, 'table.jobs tr[data-job="cleanup"]')
    expect(page.get_by_text("An archive folder is configured")).to_be_visible()
    days = page.get_by_label(re.compile("Delete conversations without activity"))
    expect(days).to_have_value("30")

    # Cancelled: nothing is deleted.
    days.fill("365")
    page.get_by_role("button", name="Run cleanup…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("more than 365 days")
    expect(dialog).to_contain_text("archived first")
    page.screenshot(path=screenshots / "07-operations-confirm-cleanup.png")
    page.keyboard.press("Escape")
    expect(page.get_by_text("Cleanup cancelled; nothing was deleted.")).to_be_visible()
    assert daemon.get("/v1/stats")["total_conversations"] == before

    page.get_by_role("button", name="Run cleanup…").click()
    page.get_by_role("button", name="Delete idle conversations").click()
    expect(
        page.get_by_text("Cleanup done: 3 conversations deleted (idle for more than 365 days).")
    ).to_be_visible()
    assert daemon.get("/v1/stats")["total_conversations"] == before - 3
    for n in range(3):
        with pytest.raises(ApiError) as missing:
            daemon.get(f"/v1/conversations/by-user/archive%3Aold%3Auser{n}")
        assert missing.value.status == 404
    archived = [
        json.loads(line)["conversation"]["user_key"]
        for f in daemon.archive.glob("*.ndjson")
        for line in f.read_text().splitlines()
    ]
    assert sorted(k for k in archived if k.startswith("archive:old:")) == [
        f"archive:old:user{n}" for n in range(3)
    ]

    page.get_by_role("button", name="Run maintenance…").click()
    page.get_by_role("button", name="Run maintenance", exact=True).click()
    backend = daemon.post("/admin/vacuum")["backend"]
    expect(
        page.get_by_text(re.compile(rf"^Maintenance done on {backend} in [\d,]+ ms\.$"))
    ).to_be_visible()
    page.screenshot(path=screenshots / "08-operations-results.png", full_page=True)


def test_export_everything_streams_to_a_file(page: Page, daemon: Daemon, seeded: Seeded):
    """GET /admin/export is streamed to a download by the console's service worker."""
    signed_in(page, daemon)
    page.get_by_role("link", name="Operations").click()
    page.wait_for_function(
        "navigator.serviceWorker.getRegistration('/console/').then(r => !!(r && r.active))"
    )
    with page.expect_download() as download:
        page.get_by_role("button", name="Export every conversation (NDJSON)").click()
    expect(
        page.get_by_text(re.compile("Export started: your browser is saving .* as it streams"))
    ).to_be_visible()
    assert download.value.suggested_filename.endswith(".ndjson")
    lines = download.value.path().read_text(encoding="utf-8").splitlines()
    documents = [json.loads(line) for line in lines]
    assert len(documents) == daemon.get("/v1/stats")["total_conversations"]
    assert {d["format"] for d in documents} == {"convstore/1"}
    assert seeded.tool_user in {d["conversation"]["user_key"] for d in documents}
    # The worker's one-time link is spent.
    assert "/console/download/" not in page.url


def test_a_refused_token_sends_back_to_sign_in(page: Page, daemon: Daemon, seeded: Seeded):
    """A 401 in the middle of a session (the token changed) asks for the token again."""
    signed_in(page, daemon)
    page.evaluate("sessionStorage.setItem('convstore.console.token', 'rotated-away')")
    page.get_by_role("link", name="Conversations").click()
    expect(page.locator("#sign-in-message")).to_contain_text("The token was refused (401)")
    expect(page.locator("#view")).to_be_empty()
    expect(page.get_by_label("Token", exact=True)).to_be_focused()
    assert page.evaluate("sessionStorage.length") == 0


def test_an_unavailable_database_is_said_so(
    page: Page, daemon: Daemon, seeded: Seeded, screenshots
):
    """While another process holds the SQLite file locked, a cleanup says 503, then works."""
    if daemon.sqlite_file is None:
        pytest.skip(
            "this test locks the SQLite file; the store is on a server (CONVERSATION_DB_URL)"
        )
    for document in old_documents(2, "locked:old:user", 2020):
        daemon.post("/v1/import", document)
    signed_in(page, daemon)
    page.get_by_role("link", name="Operations").click()
    page.get_by_label(re.compile("Delete conversations without activity")).fill("1825")
    lock = sqlite3.connect(daemon.sqlite_file, isolation_level=None, timeout=10)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        page.get_by_role("button", name="Run cleanup…").click()
        page.get_by_role("button", name="Delete idle conversations").click()
        expect(page.get_by_text("The database is unavailable (503)")).to_be_visible()
        page.screenshot(path=screenshots / "09-database-unavailable.png")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    page.get_by_role("button", name="Run cleanup…").click()
    page.get_by_role("button", name="Delete idle conversations").click()
    expect(page.get_by_text("Cleanup done: 2 conversations deleted")).to_be_visible()


def test_a_daemon_without_a_token_asks_for_none(browser, tmp_path):
    """Without a configured token the console opens at once, and says that anyone may."""
    with running_daemon(tmp_path, token=None) as open_daemon:
        open_daemon.post("/v1/conversations", {"user_key": "open:user", "platform": "qq"})
        context = new_context(browser, DESKTOP)
        page = context.new_page()
        try:
            page.goto(open_daemon.base + "/console")
            expect(page.get_by_role("heading", level=1, name="Overview")).to_be_visible()
            expect(page.locator("#notice")).to_contain_text("no token configured")
            expect(page.locator('[data-stat="total_conversations"] dd')).to_have_text("1")
            expect(page.get_by_label("Token", exact=True)).to_be_hidden()
            expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
        finally:
            context.close()


def test_keyboard_only(page: Page, daemon: Daemon, seeded: Seeded):
    """Sign-in, navigation and a view's controls work from the keyboard, focus visible."""
    page.goto(daemon.base + "/console")
    expect(page.get_by_label("Token", exact=True)).to_be_focused()
    page.keyboard.type(daemon.token)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Overview")).to_be_focused()
    # Tab goes through the view, leaves the page, and comes round to the header.
    focused = []
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement === document.body"):
            continue
        focused.append(page.evaluate("document.activeElement.textContent.trim()"))
        style = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert style != "none", f"no visible focus on {focused[-1]!r}"
    assert {"Overview", "Conversations", "Operations", "Sign out"} <= set(focused), focused
    page.get_by_role("link", name="Conversations").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Conversations")).to_be_focused()


def test_a_phone_sized_window(browser, daemon: Daemon, seeded: Seeded, screenshots):
    """At 390 px every page fits the width; a tool call's result comes below the call."""
    context = new_context(browser, PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        replay_daily(page)
        signed_in(page, daemon)
        expect(page.locator("svg.chart rect.bar")).to_have_count(30)
        chart_box = page.locator("svg.chart").bounding_box()
        assert chart_box["x"] >= 0 and chart_box["x"] + chart_box["width"] <= PHONE["width"]
        no_sideways_scroll(page)
        page.screenshot(path=screenshots / "10-phone-overview.png", full_page=True)
        page.goto(f"{daemon.base}/console#/conversations?prefix=feishu:")
        expect(page.locator("table.conversations tbody tr")).to_have_count(3)
        no_sideways_scroll(page)
        page.screenshot(path=screenshots / "11-phone-conversations.png", full_page=True)
        page.goto(f"{daemon.base}/console#/conversation/{seeded.tool_conversation}")
        pair = page.locator(".tool-pair")
        expect(pair).to_have_count(1)
        call, result = (
            pair.locator(".tool-call").bounding_box(),
            pair.locator(".tool-result").bounding_box(),
        )
        assert result["y"] >= call["y"] + call["height"], (call, result)
        no_sideways_scroll(page)
        page.screenshot(path=screenshots / "12-phone-conversation.png", full_page=True)
        page.goto(f"{daemon.base}/console#/operations")
        expect(page.locator("table.jobs tbody tr")).to_have_count(2)
        no_sideways_scroll(page)
        page.screenshot(path=screenshots / "13-phone-operations.png", full_page=True)
    finally:
        context.close()
    assert errors == [], f"script errors in the page: {errors}"


def test_desktop_width_is_used(page: Page, daemon: Daemon, seeded: Seeded):
    """At 1280 px the list is a table, not cards, and fits the width."""
    assert page.viewport_size == DESKTOP
    signed_in(page, daemon)
    page.goto(f"{daemon.base}/console#/conversations")
    header = page.locator("table.conversations thead")
    expect(header).to_be_visible()
    no_sideways_scroll(page)
