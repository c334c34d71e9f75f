"""The per-channel outbox against a loopback Slack Web API: paced, 429-aware, in order,
coalescing, nothing lost and nothing doubled."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakes import FakeSlack, Reply, running
from sqlalchemy import Engine, insert
from stores import migrated, sqlite_url

from bot.slack.blocks import Message
from bot.slack.outbox import Outbox, Pace
from bot.slack.poster import SlackPoster
from bot.slack.queue import enqueue
from bot.store.tables import incidents

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def text(n: int) -> Message:
    return Message(f"message {n}", [{"type": "section", "text": {"type": "mrkdwn", "text": f"message {n}"}}])


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = migrated(sqlite_url(tmp_path))
    with engine.begin() as conn:
        for i in range(20):
            conn.execute(
                insert(incidents).values(
                    incident_id=f"inc-{i}", number=i + 1, group_key=f"g{i}", lanes=["l2-arb"], status="open", title="t",
                    opened_at=NOW, updated_at=NOW, first_alert_at=NOW, pending_change=False,
                )
            )  # fmt: skip
    yield engine
    engine.dispose()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with running(FakeSlack()) as fake:
        yield fake


def outbox_for(slack: FakeSlack, engine: Engine, pace: Pace | None = None) -> Outbox:
    return Outbox(SlackPoster.connect("xoxb-test-token-0000", slack.url, "#incidents", engine, lambda: NOW), engine, pace).start()


def test_a_429_storm_delivers_everything_after_in_order_and_once(slack: FakeSlack, engine: Engine) -> None:
    slack.failures["chat.postMessage"] = [
        Reply(status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "1"})
    ] * 3
    outbox = outbox_for(slack, engine, Pace(post_burst=10, posts_per_second=50, update_burst=10, updates_per_second=50))
    started = time.monotonic()
    for i in range(8):
        outbox.send(f"inc-{i}", "card", text(i))
    outbox.drain()
    outbox.close()
    posted = [c.args["text"] for c in slack.of("chat.postMessage")]
    assert posted == [f"message {i}" for i in range(8)]
    assert slack.calls[0].at - started >= 2.9  # three Retry-After: 1 waited out
    assert outbox.sent == 8


def test_updates_waiting_behind_a_rate_limit_coalesce_into_the_latest(slack: FakeSlack, engine: Engine) -> None:
    outbox = outbox_for(slack, engine)
    outbox.send("inc-1", "card", text(0))
    outbox.drain()
    slack.failures["chat.update"] = [Reply(status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "1"})]
    outbox.send("inc-1", "card", text(1))  # taken, then held by the 429
    time.sleep(0.2)
    outbox.send("inc-2", "card", text(2))
    outbox.send("inc-1", "card", text(3))
    outbox.send("inc-1", "card", text(4))
    outbox.drain()
    outbox.close()
    updates = [c.args["text"] for c in slack.of("chat.update")]
    assert updates == ["message 1", "message 4"]  # 3 was replaced by 4 while waiting
    assert [c.args["text"] for c in slack.of("chat.postMessage")] == ["message 0", "message 2"]


def test_after_a_burst_a_channel_gets_about_one_message_a_second(slack: FakeSlack, engine: Engine) -> None:
    outbox = outbox_for(slack, engine, Pace(post_burst=2, posts_per_second=1.0))
    for i in range(5):
        outbox.send(f"inc-{i}", "card", text(i))
    outbox.drain()
    outbox.close()
    times = [c.at for c in slack.of("chat.postMessage")]
    gaps = [b - a for a, b in itertools.pairwise(times[1:])]  # after the burst of two
    assert len(times) == 5
    assert all(gap >= 0.9 for gap in gaps), gaps


def test_a_refused_message_is_dropped_and_the_rest_still_go(slack: FakeSlack, engine: Engine) -> None:
    slack.failures["chat.postMessage"] = [Reply(status=200, body={"ok": False, "error": "channel_not_found"})]
    outbox = outbox_for(slack, engine, Pace(post_burst=10, posts_per_second=50, update_burst=10, updates_per_second=50))
    outbox.send("inc-1", "card", text(1))
    outbox.send("inc-2", "card", text(2))
    outbox.drain()
    outbox.close()
    assert [c.args["text"] for c in slack.of("chat.postMessage")] == ["message 2"]


def test_server_errors_are_retried_until_delivered(slack: FakeSlack, engine: Engine) -> None:
    slack.failures["chat.postMessage"] = [Reply(status=500, body={"ok": False, "error": "internal_error"})] * 2
    outbox = outbox_for(slack, engine, Pace(post_burst=10, posts_per_second=50, update_burst=10, updates_per_second=50))
    outbox.send("inc-1", "card", text(1))
    outbox.drain(timeout=20)
    outbox.close()
    assert [c.args["text"] for c in slack.of("chat.postMessage")] == ["message 1"]
    assert "channel" in json.dumps(slack.calls[0].args)


def test_a_backlog_of_edits_does_not_hold_up_a_new_incidents_card(slack: FakeSlack, engine: Engine) -> None:
    outbox = outbox_for(slack, engine, Pace(post_burst=20, posts_per_second=20, update_burst=2, updates_per_second=1.0))
    for i in range(6):
        outbox.send(f"inc-{i}", "card", text(i))
    outbox.drain()
    for i in range(6):  # six edits: two go at once, the rest about one a second
        outbox.send(f"inc-{i}", "card", text(100 + i))
    time.sleep(0.1)
    outbox.send("inc-19", "card", text(19))  # a new incident's card
    outbox.drain()
    outbox.close()
    order = [c.args["text"] for c in slack.calls]
    assert order.index("message 19") < order.index("message 104")
    assert [t for t in order if t.startswith("message 10")] == [f"message {100 + i}" for i in range(6)]


def test_a_reply_waits_for_its_card_and_then_goes_in_its_thread(slack: FakeSlack, engine: Engine) -> None:
    """A reply queued before its card (the card queued again at start-up after a crash lost
    it) must not go out first, at the top of the channel: it waits, then replies."""
    with engine.begin() as conn:
        enqueue(conn, "inc-1", "thread:1", Message("told", [], broadcast=True), NOW)
        enqueue(conn, "inc-1", "card", text(0), NOW)
    outbox = outbox_for(slack, engine, Pace(post_burst=10, posts_per_second=50, update_burst=10, updates_per_second=50))
    outbox.drain()
    outbox.close()
    card, reply = slack.of("chat.postMessage")
    assert "thread_ts" not in card.args
    assert (reply.args["thread_ts"], reply.args["reply_broadcast"]) == (slack.history[0]["ts"], True)
