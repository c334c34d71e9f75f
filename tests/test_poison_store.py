"""Poison through the whole bot, on SQLite and PostgreSQL (issue 15): every bad line is
refused with its number and the rest stored, no value the parser accepts fails a batch in
either store, live status and the alert path stay up, and a store that already holds
out-of-bound rows (written before the bounds existed) never stops a restart."""

from __future__ import annotations

import itertools
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from helpers import T0, Stream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert
from stores import migrated, running
from test_event_bounds import line, nested
from test_http_events import stored
from test_summaries import alertmanager

from bot.http.app import create_app
from bot.runtime import Bot
from bot.store.events import EventStore, to_us
from bot.store.tables import events as events_table
from validators.facts import Window, compute_facts
from validators.ndjson import parse_events
from validators.trust import scored

POISON = {
    "ts 0001-01-01": line(ts="0001-01-01T00:00:00Z"),
    "ts 9999-12-31": line(ts="9999-12-31T23:59:59Z"),
    "notional 1.7e308": line("settlement.submitted", notional_usd=1.7e308, settlement_id="big-1"),
    "another notional 1.7e308": line("settlement.submitted", notional_usd=1.7e308, settlement_id="big-2"),
    "nested 1000 deep": line(raw=nested(1000)),
    "lane of 201 characters": line(lane="l" * 201),
    "event_id of 201 characters": line(event_id="e" * 201),
    "unknown kind of 65 characters": line("k" * 65),
    "NUL in the lane": line(lane="l2\x00arb"),
    "NUL in a settlement_id": line("settlement.failed", settlement_id="s\x00", reason="r"),
}


def valid_stream() -> Stream:
    """999 valid lines on l2-arb, and the widest values the parser takes (they must fit
    every column of both stores)."""
    stream = Stream()
    for i in range(330):
        stream.settle(f"s{i}", i, i + 30, ok=i % 7 != 0)
    for i in range(336):
        stream.add("canary.result", 400 + i, ok=i % 50 != 0)
    stream.add("queue.depth", 1000, lane="ℓ" * 200, event_id="🙂" * 200)  # characters, not bytes
    stream.add("k" * 64, 1001)
    stream.add("settlement.submitted", 1002, settlement_id="s" * 200, notional_usd=999_999_999_999_999.0)
    assert len(stream.lines) == 999
    return stream


def test_poison_among_999_valid_lines_is_refused_and_the_bot_stays_whole(client: TestClient, bot: Bot) -> None:
    """Before: 0001/9999 and two 1.7e308 notionals killed live status (OverflowError), then
    alert webhooks answered 503 while /healthz said 200; 1000-deep nesting, NUL and long
    ids failed the whole body with a 500 (PostgreSQL)."""
    stream = valid_stream()
    lines = list(stream.lines)
    bad_at = []
    for offset, text in enumerate(POISON.values()):
        at = 50 + offset * 97
        lines.insert(at, text.replace('"event_id": "x"', f'"event_id": "poison-{offset}"'))
        bad_at.append(at + 1)
    answer = client.post("/events", content=("\n".join(lines) + "\n").encode())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["stored"], body["rejected_total"]) == (999, 999, len(POISON))
    assert [r["line"] for r in body["rejected"]] == bad_at
    assert stored(bot) == 999
    status = client.get("/lanes/l2-arb")
    assert status.status_code == 200, status.text
    valid = stream.events()
    watermark = max(e.ts for e in valid if e.lane == "l2-arb")
    facts = compute_facts(valid, Window(watermark - timedelta(minutes=30), watermark + timedelta(microseconds=1)))
    expected = scored(facts.lane("l2-arb"), bot.policy.trust, "l2-arb")
    assert status.json()["facts"] == expected.as_dict()
    assert client.post("/webhooks/alertmanager", content=alertmanager()).status_code == 200
    health = client.get("/healthz")
    assert (health.status_code, health.json()["ok"]) == (200, True)
    restarted = running(bot.settings.database_url)  # a second process on the same store, as after a restart
    try:
        assert restarted.lane_status()["l2-arb"].facts == expected
    finally:
        restarted.close()


EXAMPLES = itertools.count()
ANY_ID = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=200)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(ANY_ID, ANY_ID, st.integers(0, 2**63 - 1)), min_size=1, max_size=5))
def test_every_value_the_parser_accepts_fits_the_store(store_engine: Engine, rows: list[tuple[str, str, int]]) -> None:
    """Property: any event the parser accepts (ids and lanes of up to 200 of any characters
    but NUL, any seq below 2^63) is stored by one batch on both stores, never failing it."""
    salt = next(EXAMPLES)  # the store outlives one example: ids unique across them
    lines = [
        json.dumps(
            {"event_id": f"{salt}-{i}-{eid}"[:200], "ts": "2026-03-02T14:00:00Z", "lane": lane, "seq": seq}
            | {"kind": "queue.depth", "value": seq}
        )
        for i, (eid, lane, seq) in enumerate(rows)
    ]
    events, stats = parse_events([("\n".join(lines) + "\n").encode()])
    assert stats.rejected_total == 0, stats.rejected
    assert len(EventStore(store_engine).insert(events)) == len(events)


def _old_row(doc: dict[str, object]) -> dict[str, object]:
    """A row as a version without the bounds stored it (its body is the event's JSON)."""
    ts = datetime.fromisoformat(str(doc["ts"]).replace("Z", "+00:00"))
    return {
        "event_id": doc["event_id"],
        "lane": doc["lane"],
        "ts_us": to_us(ts),
        "seq": doc["seq"],
        "kind": doc["kind"],
        "settlement_id": doc.get("settlement_id"),
        "body": json.dumps(doc, separators=(",", ":")),
    }


def test_a_restart_skips_stored_rows_out_of_bounds_with_a_log_line(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """Before: every restart exited 1 (OverflowError rebuilding live status) until the
    database was fixed by hand. Now such rows are skipped, named in the log, and left in
    place for the operator."""
    stream = Stream()
    stream.settle("ok-1", 10, 40)
    stream.settle("ok-2", 20, None)
    bad = [
        json.loads(line(event_id="old-0001", lane="l9-old", ts="0001-01-01T00:00:00Z")),
        json.loads(line(event_id="old-9999", lane="l2-arb", ts="9999-12-31T23:59:59Z")),
        json.loads(line("settlement.submitted", event_id="old-big-1", settlement_id="b1", notional_usd=1.7e308, ts=_at(30))),
        json.loads(line("settlement.submitted", event_id="old-big-2", settlement_id="b2", notional_usd=1.7e308, ts=_at(31))),
    ]
    engine = migrated(database_url)
    with engine.begin() as conn:
        conn.execute(insert(events_table), [_old_row(json.loads(text)) for text in stream.lines] + [_old_row(d) for d in bad])
    engine.dispose()
    caplog.set_level(logging.WARNING)
    restarted = running(database_url)
    try:
        notes = [r for r in caplog.records if r.getMessage() == "skipped stored events out of contract bounds"]
        assert notes, caplog.text
        assert "old-big-1" in notes[0].first  # type: ignore[attr-defined]
        assert "$.notional_usd" in notes[0].reason  # type: ignore[attr-defined]
        valid = stream.events()
        status = restarted.lane_status()
        assert set(status) == {"l2-arb"}
        window = status["l2-arb"].window
        assert status["l2-arb"].facts == scored(compute_facts(valid, window).lane("l2-arb"), restarted.policy.trust, "l2-arb")
        with TestClient(create_app(restarted, background=False)) as client:
            assert client.get("/healthz").status_code == 200
            assert client.post("/webhooks/alertmanager", content=alertmanager()).status_code == 200
    finally:
        restarted.close()


def _at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


POISON_STARTS = ["0001-01-01T00:10:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00", "2101-01-01T00:00:00Z"]


@pytest.mark.parametrize("starts", POISON_STARTS)
def test_an_alert_starting_out_of_bounds_is_refused_with_422_and_the_bot_stays_whole(
    client: TestClient, bot: Bot, starts: str
) -> None:
    """A startsAt of year 0001 was filed, and every summary of its incident then failed with
    OverflowError (its window starts 30 minutes earlier); one with an offset before year 1
    in UTC raised out of the parser (a 500). Alertmanager's zero endsAt still means "firing"."""
    payload = json.loads(alertmanager())
    payload["alerts"][0]["startsAt"] = starts
    answer = client.post("/webhooks/alertmanager", content=json.dumps(payload))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"].startswith("alerts[0].startsAt: ")
    assert "2000 to 2100" in answer.json()["error"]
    assert client.get("/incidents").json()["incidents"] == []
    assert client.post("/webhooks/alertmanager", content=alertmanager()).status_code == 200
    assert client.get("/healthz").json()["ok"] is True


def test_a_body_of_bad_lines_is_answered_with_the_first_100_and_a_count(client: TestClient, bot: Bot) -> None:
    """Before: 8 MB of bad lines were answered with every rejection listed (288 MB)."""
    body = b"x\n" * 20_000 + Stream().ndjson() + (line(event_id="ok") + "\n").encode()
    answer = client.post("/events", content=body)
    assert answer.status_code == 200
    doc = answer.json()
    assert (doc["stored"], doc["rejected_total"], len(doc["rejected"])) == (1, 20_000, 100)
    assert doc["rejected"][-1] == {"line": 100, "reason": doc["rejected"][0]["reason"]}
    assert len(answer.content) < 10_000
    assert bot.metrics.registry.get_sample_value("lanekeeper_events_total", {"source": "http", "outcome": "rejected"}) == 20_000
