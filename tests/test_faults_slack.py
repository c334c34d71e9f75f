"""Slack answering 429 and 500 for a whole minute: every message is delivered after, in
the order queued, none twice (not even one Slack stored before it answered 500), each
message in its latest version; and what was queued survives a restart of the outbox."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fakes import FakeSlack, Reply, running
from sqlalchemy import Engine, insert

from bot.clock import utcnow
from bot.slack.blocks import Message
from bot.slack.outbox import Outbox, Pace
from bot.slack.poster import SlackPoster
from bot.store.tables import incidents

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
CHANNEL = "C0INCIDENT"
OUTAGE_S = 60.0
RATELIMITED = Reply(status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "5"})
INTERNAL = Reply(status=500, body={"ok": False, "error": "internal_error"})
STORED_THEN_500 = Reply(status=500, body={"ok": False, "error": "internal_error"}, stored=True)


def card(incident: int, version: int) -> Message:
    words = f"inc-{incident} v{version}"
    return Message(words, [{"type": "section", "text": {"type": "mrkdwn", "text": words}}])


@pytest.fixture
def engine(store_engine: Engine) -> Engine:
    with store_engine.begin() as conn:
        conn.execute(
            insert(incidents),
            [
                {
                    "incident_id": f"inc-{i}", "number": i + 1, "group_key": f"g{i}", "lanes": ["l2-arb"], "status": "open",
                    "title": "t", "opened_at": NOW, "updated_at": NOW, "first_alert_at": NOW, "pending_change": False,
                }
                for i in range(10)
            ],
        )  # fmt: skip
    return store_engine


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with running(FakeSlack()) as fake:
        yield fake


def outbox_for(slack: FakeSlack, engine: Engine) -> Outbox:
    poster = SlackPoster.connect("xoxb-test-token-0000", slack.url, CHANNEL, engine, utcnow)
    return Outbox(poster, engine, Pace(max_backoff_s=5.0)).start()


def texts_in_channel(slack: FakeSlack) -> dict[str, str]:
    """Each message's latest text, by the incident its metadata names."""
    latest: dict[str, str] = {}
    by_ts = {m["ts"]: incident for m, (incident, _) in zip(slack.history, slack.owners(), strict=True)}
    for call in slack.calls:
        if call.method == "chat.postMessage":
            latest[call.args["metadata"]["event_payload"]["incident_id"]] = call.args["text"]
        elif call.method == "chat.update":
            latest[by_ts[call.args["ts"]]] = call.args["text"]
    return latest


def test_slack_failing_for_a_minute_delivers_everything_after_in_order_and_once(slack: FakeSlack, engine: Engine) -> None:
    outbox = outbox_for(slack, engine)
    outbox.send("inc-0", "card", card(0, 1))
    outbox.drain()
    slack.fail_for(OUTAGE_S, STORED_THEN_500, RATELIMITED, INTERNAL)  # the first post is stored, then 500
    outage_ends = time.monotonic() + OUTAGE_S
    for i in range(1, 7):
        outbox.send(f"inc-{i}", "card", card(i, 1))
    time.sleep(20)
    outbox.send("inc-0", "card", card(0, 2))  # an edit of a message posted before the outage
    outbox.send("inc-2", "card", card(2, 2))  # a newer version of one still waiting
    time.sleep(20)
    for i in (7, 8):
        outbox.send(f"inc-{i}", "card", card(i, 1))
    outbox.send("inc-2", "card", card(2, 3))
    outbox.drain(timeout=OUTAGE_S + 60)
    finished = time.monotonic()
    outbox.close()

    assert slack.refused >= 10, "the outage must have been met, many times"
    assert slack.ghosts >= 1, "Slack stored a post and answered 500 at least once"
    assert slack.of("conversations.history"), "so the outbox looked for it before posting again"
    per_incident = Counter(incident for incident, _ in slack.owners())
    assert per_incident == {f"inc-{i}": 1 for i in range(9)}, "every card in the channel exactly once"
    order = [incident for incident, _ in slack.owners()]
    assert order == [f"inc-{i}" for i in range(9)], "in the order queued"
    latest = texts_in_channel(slack)
    assert latest == {f"inc-{i}": f"inc-{i} v{3 if i == 2 else 2 if i == 0 else 1}" for i in range(9)}
    assert finished - outage_ends < 45, "delivered soon after Slack came back"
    print(json.dumps({"refused": slack.refused, "after_outage_s": round(finished - outage_ends, 1)}))


def test_messages_queued_when_the_outbox_stopped_go_out_from_the_next_one(slack: FakeSlack, engine: Engine) -> None:
    slack.fail_for(3600, INTERNAL)
    first = outbox_for(slack, engine)
    for i in range(3):
        first.send(f"inc-{i}", "card", card(i, 1))
    first.close(timeout=1)  # Slack is down: they stay queued in the store
    assert slack.history == []
    slack.fail_for(0)
    second = outbox_for(slack, engine)
    second.drain(timeout=30)
    second.close()
    assert [m["text"] for m in slack.history] == ["inc-0 v1", "inc-1 v1", "inc-2 v1"]
