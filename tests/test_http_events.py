"""``POST /events``, ``/healthz``, ``/metrics`` and ``/lanes`` through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

from fastapi.testclient import TestClient
from helpers import T0, Stream, chunks
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from stores import running

from bot.config import Settings
from bot.http.app import create_app
from bot.lanes import snapshot
from bot.runtime import Bot
from bot.store.tables import events as events_table
from validators.facts import Window, compute_facts
from validators.trust import scored


def stored(bot: Bot) -> int:
    with bot.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(events_table)) or 0)


def incident_stream() -> Stream:
    stream = Stream()
    for i in range(20):
        stream.settle(f"s{i}", i, i + 20 if i % 4 else None)  # every 4th still pending
    stream.settle("bad", 30, 45, ok=False)
    stream.add("canary.result", 50, ok=False)
    return stream


def test_valid_events_are_stored_and_counted(client: TestClient, bot: Bot) -> None:
    stream = incident_stream()
    answer = client.post("/events", content=stream.ndjson(), headers={"content-type": "application/x-ndjson"})
    assert answer.status_code == 200
    n = len(stream.lines)
    assert answer.json() == {"accepted": n, "stored": n, "duplicates": 0, "rejected": [], "rejected_total": 0} | {
        "unknown_kinds": {}
    }
    assert stored(bot) == n


def test_bad_lines_are_reported_and_the_valid_ones_beside_them_kept(client: TestClient, bot: Bot) -> None:
    stream = Stream()
    stream.add("canary.result", 1)
    stream.lines.append('{"event_id": "broken", "ts": ')  # line 2: not JSON
    stream.add("canary.result", 2)
    stream.lines.append(
        '{"event_id": "x", "ts": "2026-03-02T14:00:03Z", "lane": "l2-arb", "seq": -1, "kind": "queue.depth", "value": 1}'
    )
    stream.add("mystery.kind", 3)
    answer = client.post("/events", content=stream.ndjson()).json()
    assert (answer["accepted"], answer["stored"]) == (3, 3)
    assert [r["line"] for r in answer["rejected"]] == [2, 4]
    assert answer["rejected"][0]["reason"].startswith("invalid JSON")
    assert "$.seq" in answer["rejected"][1]["reason"]
    assert answer["unknown_kinds"] == {"mystery.kind": 1}
    assert stored(bot) == 3


def test_a_body_with_nothing_valid_is_refused(client: TestClient, bot: Bot) -> None:
    answer = client.post("/events", content=b"not json\n{}\n")
    assert answer.status_code == 422
    assert [r["line"] for r in answer.json()["rejected"]] == [1, 2]
    assert stored(bot) == 0


def test_a_resent_body_is_stored_once(client: TestClient, bot: Bot) -> None:
    body = incident_stream().ndjson()
    first = client.post("/events", content=body).json()
    again = client.post("/events", content=body).json()
    assert (again["accepted"], again["stored"], again["duplicates"]) == (first["accepted"], 0, first["accepted"])
    assert stored(bot) == first["stored"]


def test_a_body_streamed_in_small_chunks_splits_lines_correctly(client: TestClient, bot: Bot) -> None:
    stream = incident_stream()
    answer = client.post("/events", content=chunks(stream.ndjson(), 7)).json()  # type: ignore[arg-type]
    assert answer["stored"] == len(stream.lines)
    assert answer["rejected"] == []


def test_a_body_over_the_limit_is_refused_with_413(database_url: str) -> None:
    bot = running(database_url, max_body_bytes=100)
    try:
        with TestClient(create_app(bot, background=False)) as client:
            answer = client.post("/events", content=incident_stream().ndjson())
            assert answer.status_code == 413
            assert "LANEKEEPER_MAX_BODY_BYTES" in answer.json()["error"]
            assert stored(bot) == 0
            counted = {"sender": "events", "reason": "too_large"}
            assert bot.metrics.registry.get_sample_value("lanekeeper_payloads_rejected_total", counted) == 1
    finally:
        bot.close()


def test_lane_status_matches_the_facts_of_the_events(client: TestClient, bot: Bot) -> None:
    stream = incident_stream()
    client.post("/events", content=stream.ndjson())
    lane = client.get("/lanes/l2-arb").json()
    watermark = T0 + timedelta(seconds=50)
    expected = compute_facts(stream.events(), Window(watermark - timedelta(minutes=30), watermark + timedelta(microseconds=1)))
    assert lane["facts"] == scored(expected.lane("l2-arb"), bot.policy.trust, "l2-arb").as_dict()
    assert lane["watermark"] == "2026-03-02T14:00:50Z"
    assert lane["healthy"] is False
    assert any("failure_rate" in reason for reason in lane["unhealthy_because"])
    assert [row["lane"] for row in client.get("/lanes").json()["lanes"]] == ["l2-arb"]
    assert client.get("/lanes/l9-none").status_code == 404


def test_lane_status_survives_a_restart(database_url: str, client: TestClient, bot: Bot) -> None:
    client.post("/events", content=incident_stream().ndjson())
    before = client.get("/lanes").json()
    restarted = running(database_url)
    try:
        with TestClient(create_app(restarted, background=False)) as again:
            assert again.get("/lanes").json() == before
    finally:
        restarted.close()


def test_a_restarted_bot_reports_each_lanes_watermark_before_any_traffic(database_url: str, client: TestClient) -> None:
    """Prometheus' LaneSilent rule (time() - watermark > 300) must keep firing across a
    restart, not resolve because the series vanished."""
    client.post("/events", content=incident_stream().ndjson())
    restarted = running(database_url)
    try:
        with TestClient(create_app(restarted, background=False)) as again:
            exposed = {
                (sample.name, tuple(sample.labels.items())): sample.value
                for family in text_string_to_metric_families(again.get("/metrics").text)
                for sample in family.samples
            }
            watermark = exposed[("lanekeeper_lane_watermark_timestamp_seconds", (("lane", "l2-arb"),))]
            assert watermark == (T0 + timedelta(seconds=50)).timestamp()  # the canary at 14:00:50, its newest event
    finally:
        restarted.close()


def test_the_snapshot_lets_other_processes_read_lane_status(client: TestClient, bot: Bot) -> None:
    client.post("/events", content=incident_stream().ndjson())
    bot.save_snapshot()
    [row] = snapshot.load(bot.engine)
    assert row.status == bot.lane_status()["l2-arb"]


def test_healthz_answers_ok_while_the_store_answers(client: TestClient) -> None:
    assert client.get("/healthz").json()["ok"] is True


def test_healthz_and_reads_do_not_wait_for_a_writer(client: TestClient, bot: Bot) -> None:
    """Found by the alert storm: on SQLite every read began with BEGIN IMMEDIATE, so /healthz
    (and the facts card, the outbox, the summary's context) queued behind each write."""
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with bot.engine.begin() as conn:
            conn.execute(events_table.delete().where(events_table.c.event_id == "none"))  # takes the write lock
            holding.set()
            release.wait(60)  # beyond the busy timeout: a read that queued behind it would fail

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        assert client.get("/healthz").json()["ok"] is True  # would wait out the busy timeout (30 s)
        assert client.get("/incidents").status_code == 200
        assert release.is_set() is False, "answered while the writer still held the store"
    finally:
        release.set()
        thread.join()


def test_healthz_fails_when_the_store_is_unreachable() -> None:
    bot = Bot(Settings(_env_file=None, database_url="postgresql://nobody@127.0.0.1:1/none"))  # type: ignore[call-arg]
    with TestClient(create_app(bot, background=False)) as client:
        answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["parts"]["store"]["error"].startswith("store unreachable")
    assert answer.json()["error"].startswith("store: store unreachable")


def test_a_dead_live_status_process_fails_health_and_status_but_keeps_ingesting_safely(client: TestClient, bot: Bot) -> None:
    bot.live._process.kill()
    bot.live._process.join()
    health = client.get("/healthz")
    assert health.status_code == 503
    assert "live lane status process exited" in health.json()["parts"]["live_status"]["error"]
    assert client.get("/lanes").status_code == 503
    sent = client.post("/events", content=incident_stream().ndjson())
    assert sent.status_code == 503  # committed, but not acknowledged: the sender's retry is deduplicated
    assert bot.events.count() == len(incident_stream().lines)


def test_metrics_count_events_by_outcome_and_time_requests(client: TestClient) -> None:
    client.post("/events", content=incident_stream().ndjson() + b"garbage\n")
    client.post("/events", content=incident_stream().ndjson())
    text = client.get("/metrics").text
    n = len(incident_stream().lines)
    assert f'lanekeeper_events_total{{outcome="stored",source="http"}} {n}.0' in text
    assert f'lanekeeper_events_total{{outcome="duplicate",source="http"}} {n}.0' in text
    assert 'lanekeeper_events_total{outcome="rejected",source="http"} 1.0' in text
    assert 'lanekeeper_http_request_duration_seconds_count{method="POST",route="/events",status="200"} 2.0' in text
    assert "lanekeeper_incidents_open 0.0" in text
