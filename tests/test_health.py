"""``/healthz`` tells the truth (issue 15): one JSON with each part's state, 503 naming
every dead part and why — live status failed, the store refusing writes, the outbox's
sender dead or stuck — while the alert path keeps working without live status. On SQLite
and PostgreSQL. (The NATS consumer's part: ``tests/test_nats_ingest.py``.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import wait_for
from sqlalchemy import Engine, event, insert
from stores import migrated, sqlite_url
from test_http_events import incident_stream
from test_outbox import NOW, text
from test_summaries import alertmanager

from bot.health import PROBE_EVERY_S
from bot.runtime import Bot
from bot.slack.blocks import Message
from bot.slack.outbox import STUCK_S, Outbox
from bot.store.tables import incidents
from validators.events import QueueDepth


def test_every_part_is_reported_ok(client: TestClient) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "parts": {name: {"ok": True} for name in ("store", "store_writable", "live_status")}}


def poison_live_status(bot: Bot) -> None:
    """What a year-0001 event did to live status before the parser refused it."""
    bot.live.add([QueueDepth(event_id="p", ts=datetime(1, 1, 1, tzinfo=UTC), lane="l9-poison", seq=1, value=1)])
    wait_for(bot.live.problem, what="live status failed")


def test_a_failed_live_status_is_a_503_and_alerts_are_still_taken(client: TestClient, bot: Bot) -> None:
    """Before: live status died (OverflowError), /healthz answered 200 and every alert
    webhook answered 503 (the facts card read live status)."""
    client.post("/events", content=incident_stream().ndjson())
    poison_live_status(bot)
    health = client.get("/healthz")
    assert health.status_code == 503
    body = health.json()
    assert body["ok"] is False
    assert body["parts"]["live_status"]["ok"] is False
    assert "OverflowError" in body["parts"]["live_status"]["error"]
    assert body["parts"]["store"] == {"ok": True}
    assert body["error"].startswith("live_status: live lane status failed (OverflowError")
    answer = client.post("/webhooks/alertmanager", content=alertmanager())
    assert answer.status_code == 200, answer.text
    assert answer.json()["new"] == 1
    bot.ingestor.dirty.set()
    bot._last_snapshot = datetime.min.replace(tzinfo=UTC)
    bot.tick()  # the snapshot cannot be taken; notifications go on


def read_only(engine: Engine) -> Callable[[Any, Any], None]:
    """Every new connection refuses writes (as a full disk or a read-only replica would);
    the listener, to remove."""

    def refuse_writes(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        else:
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            dbapi_connection.commit()
        cursor.close()

    event.listen(engine, "connect", refuse_writes)
    engine.dispose()
    return refuse_writes


def test_a_store_that_refuses_writes_is_a_503_and_recovery_is_seen(client: TestClient, bot: Bot) -> None:
    clock = [0.0]
    bot.store_probe.clock = lambda: clock[0]
    bot.store_probe.probe()
    listener = read_only(bot.engine)
    assert client.get("/healthz").status_code == 200, "within the probe interval: no new write yet"
    clock[0] += PROBE_EVERY_S
    broken = wait_for(lambda: (answer := client.get("/healthz")).status_code == 503 and answer.json(), what="the probe's verdict")
    assert broken["parts"]["store"] == {"ok": True}, "reads still work"
    assert broken["parts"]["store_writable"]["error"].startswith("a write failed: ")
    assert "read" in broken["parts"]["store_writable"]["error"].lower()
    event.remove(bot.engine, "connect", listener)
    bot.engine.dispose()
    clock[0] += PROBE_EVERY_S
    wait_for(lambda: client.get("/healthz").status_code == 200, what="health back after the store took writes again")


def test_a_probe_waiting_for_the_write_lock_is_reported_and_never_holds_up_the_answer(client: TestClient, bot: Bot) -> None:
    """The write probe runs in a thread of its own: /healthz answers at once even while a
    writer holds the store (SQLite's lock, a PostgreSQL row lock), and says so once the
    probe has waited too long."""
    clock = [0.0]
    bot.store_probe.clock = lambda: clock[0]
    bot.store_probe.probe()
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        from sqlalchemy import text as sql

        with bot.engine.begin() as conn:
            conn.execute(sql("UPDATE store_probe SET written_at = written_at"))
            holding.set()
            release.wait(60)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        clock[0] += PROBE_EVERY_S
        assert client.get("/healthz").status_code == 200  # the probe starts and waits; the answer does not
        clock[0] += 60
        stuck = client.get("/healthz")
        assert stuck.status_code == 503
        assert stuck.json()["parts"]["store_writable"]["error"] == "a write has waited 60 s for the store"
    finally:
        release.set()
        thread.join()
    wait_for(lambda: bot.store_probe._running_since is None, what="the probe done")
    assert client.get("/healthz").status_code == 200


class Blocking:
    """A Slack poster whose post waits until released (a call that never returns), or
    raises a bug."""

    def __init__(self, bug: Exception | None = None) -> None:
        self.entered, self.release, self.bug = threading.Event(), threading.Event(), bug

    def post(self, incident_id: str, purpose: str, message: Message) -> None:
        self.entered.set()
        if self.bug is not None:
            raise self.bug
        self.release.wait(30)

    def is_posted(self, incident_id: str, purpose: str) -> bool:
        return False

    def adopt(self, incident_id: str, purpose: str, since: datetime) -> bool:
        return False


@pytest.fixture
def outbox_engine(tmp_path: Path) -> Iterator[Engine]:
    """A store holding incident inc-1, for an outbox of its own."""
    engine = migrated(sqlite_url(tmp_path))
    with engine.begin() as conn:
        conn.execute(
            insert(incidents).values(
                incident_id="inc-1", number=1, group_key="g", lanes=["l2-arb"], status="open", title="t",
                opened_at=NOW, updated_at=NOW, first_alert_at=NOW, pending_change=False,
            )
        )  # fmt: skip
    yield engine
    engine.dispose()


def test_an_outbox_stuck_in_a_call_is_reported(outbox_engine: Engine) -> None:
    poster = Blocking()
    outbox = Outbox(poster, outbox_engine).start()
    try:
        assert outbox.problem() is None
        outbox.send("inc-1", "card", text(1))
        assert poster.entered.wait(10)
        assert outbox.problem() is None
        problem = outbox.problem(now=time.monotonic() + STUCK_S + 5)
        assert problem is not None
        assert problem.startswith("the sender made no progress for")
    finally:
        poster.release.set()
        outbox.close(timeout=5)


def test_an_outbox_whose_sender_died_of_a_bug_is_reported(outbox_engine: Engine) -> None:
    poster = Blocking(bug=RuntimeError("a bug in the poster"))
    outbox = Outbox(poster, outbox_engine).start()
    outbox.send("inc-1", "card", text(1))
    problem = wait_for(outbox.problem, what="the dead sender reported")
    assert problem.startswith("the sender thread died (RuntimeError: a bug in the poster)")
    outbox.close(timeout=1)


def test_the_outbox_is_a_part_when_slack_is_configured(tmp_path: Path) -> None:
    from stores import running

    from bot.http.app import create_app

    slack = {"slack_bot_token": "xoxb-test-token-0000", "slack_api_url": "http://127.0.0.1:9/api/", "channel": "C1"}
    bot = running(sqlite_url(tmp_path), **slack)
    try:
        with TestClient(create_app(bot, background=False)) as client:
            assert client.get("/healthz").json()["parts"]["outbox"] == {"ok": True}
    finally:
        bot.close()
