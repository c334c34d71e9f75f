"""``kill -9`` in the middle of a large ingest, restart, re-send: every event exactly once,
and the live lane status rebuilt from the store equals the facts of the events."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from server import ServerProcess
from sqlalchemy import select

from bot.store.engine import make_engine
from bot.store.tables import events as events_table
from bot.wiring import load_policy
from validators.facts import COUNT_FACTS, TOLERANCE, Window, compute_facts
from validators.ndjson import parse_events
from validators.trust import scored

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from gen_stream import generate


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("crash") / "events.ndjson"
    generate(path, minutes=6, seed=11)
    return path.read_bytes()


def stored_ids(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.scalars(select(events_table.c.event_id)))
    finally:
        engine.dispose()


def send_slowly(url: str, body: bytes, errors: list[BaseException]) -> None:
    def chunks() -> object:
        for i in range(0, len(body), 256 * 1024):
            yield body[i : i + 256 * 1024]
            time.sleep(0.01)

    try:
        httpx.post(url + "/events", content=chunks(), timeout=120)  # type: ignore[arg-type]
    except httpx.TransportError as exc:  # the server died under it: expected
        errors.append(exc)


def test_kill_9_mid_ingest_then_resend_stores_every_event_exactly_once(database_url: str, tmp_path: Path, payload: bytes) -> None:
    sent, stats = parse_events([payload])
    assert not stats.rejected
    assert len(sent) > 60_000
    env = {"LANEKEEPER_DATABASE_URL": database_url}
    server = ServerProcess(env, tmp_path / "server.log").start()
    errors: list[BaseException] = []
    sender = threading.Thread(target=send_slowly, args=(server.url, payload, errors))
    sender.start()
    deadline = time.monotonic() + 60
    while not (0 < len(stored_ids(database_url)) < len(sent)) and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()
    sender.join()
    before = len(stored_ids(database_url))
    assert 0 < before < len(sent), "the kill must land in the middle of the ingest"
    assert errors, "the sender must have seen the connection die"

    server = ServerProcess(env, tmp_path / "server.log").start()
    try:
        response = httpx.post(server.url + "/events", content=payload, timeout=120)
        assert response.status_code == 200, f"{response.text}\n{(tmp_path / 'server.log').read_text()[-3000:]}"
        answer = response.json()
        assert (answer["accepted"], answer["stored"], answer["duplicates"]) == (len(sent), len(sent) - before, before)
        ids = stored_ids(database_url)
        assert len(ids) == len(sent)
        assert set(ids) == {e.event_id for e in sent}
        lanes = {row["lane"]: row for row in httpx.get(server.url + "/lanes").json()["lanes"]}
    finally:
        server.stop()

    # The lane status after the restart was rebuilt from the store plus the re-send's new
    # events: it must equal the facts computed from scratch over each lane's window (its
    # silence measured to the freshest lane, its trust by the default policy).
    freshest = max(e.ts for e in sent)
    for lane, row in lanes.items():
        watermark = max(e.ts for e in sent if e.lane == lane)
        own = compute_facts(sent, Window(watermark - timedelta(minutes=30), watermark + timedelta(microseconds=1))).lane(lane)
        silence = (freshest + timedelta(microseconds=1) - watermark).total_seconds()
        expected = scored(replace(own, silence_s=silence), load_policy(None).trust, lane)
        for fact, value in expected.as_dict().items():
            got = row["facts"][fact]
            if fact in COUNT_FACTS or value is None:
                assert got == value, (lane, fact)
            else:
                assert got == pytest.approx(value, rel=TOLERANCE), (lane, fact)
