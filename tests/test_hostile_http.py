"""Oversized bodies, declared or streamed: a bounded limit per kind of endpoint, a clear
413 that names the setting to change, and nothing of a refused webhook stored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from types import MappingProxyType
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from stores import running
from test_summaries import alertmanager

from bot.http.app import create_app
from bot.http.body import BodyPace
from bot.runtime import Bot
from bot.store.tables import alerts

LIMIT = 4096


@pytest.fixture
def small(database_url: str) -> Iterator[tuple[Bot, TestClient]]:
    bot = running(
        database_url, max_webhook_bytes=LIMIT, slack_bot_token="xoxb-test-token-0000", slack_signing_secret="s3cret",
        slack_api_url="http://127.0.0.1:9/api/",
    )  # fmt: skip
    try:
        with TestClient(create_app(bot, background=False)) as client:
            yield bot, client
    finally:
        bot.close()


def padded_alert(size: int) -> bytes:
    payload = json.loads(alertmanager())
    payload["alerts"][0]["annotations"]["description"] = "x" * size
    return json.dumps(payload).encode()


def streamed(body: bytes) -> Iterator[bytes]:
    """Sent chunked, with no Content-Length to refuse it by."""
    for i in range(0, len(body), 1024):
        yield body[i : i + 1024]


@pytest.mark.parametrize("send", ["declared", "streamed"])
def test_an_oversized_webhook_gets_413_naming_the_setting_and_nothing_is_stored(small: tuple[Bot, TestClient], send: str) -> None:
    bot, client = small
    body = padded_alert(LIMIT * 4)
    answer = client.post("/webhooks/alertmanager", content=body if send == "declared" else streamed(body))
    assert answer.status_code == 413
    assert "LANEKEEPER_MAX_WEBHOOK_BYTES" in answer.json()["error"]
    with bot.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(alerts)) == 0
    fits = client.post("/webhooks/alertmanager", content=padded_alert(LIMIT // 4))
    assert fits.status_code == 200, "a payload within the limit still goes through"


def test_an_oversized_slack_request_gets_413_before_anything_reads_it(small: tuple[Bot, TestClient]) -> None:
    _, client = small
    answer = client.post("/slack/events", content=streamed(b"payload=" + b"x" * LIMIT * 4))
    assert answer.status_code == 413
    assert "LANEKEEPER_MAX_WEBHOOK_BYTES" in answer.json()["error"]


def test_the_events_endpoint_keeps_its_own_larger_limit(small: tuple[Bot, TestClient]) -> None:
    bot, client = small
    line = json.dumps({"event_id": "e1", "ts": "2026-03-02T14:00:00Z", "lane": "l2-arb", "seq": 1, "kind": "queue.depth"})
    body = (line[:-1] + ', "value": 3, "note": "' + "y" * LIMIT * 2 + '"}\n').encode()
    answer = client.post("/events", content=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["stored"] == 1
    assert bot.settings.max_body_bytes > LIMIT


def trickle(client: TestClient, path: str, pieces: list[bytes], gap: float) -> tuple[int, dict[str, Any], float]:
    """POST ``pieces`` straight into the app, a fake clock advancing ``gap`` seconds before
    each arrives (a test client would read the whole body first); the status, the JSON
    answer and the fake seconds taken. The body deadline: 10 s plus 1 s per 1,000 bytes."""
    clock = [0.0]
    client.app.state.body_pace = BodyPace(10, 1000, clock=lambda: clock[0])  # type: ignore[attr-defined]
    queue = list(pieces)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        clock[0] += gap
        piece = queue.pop(0)
        return {"type": "http.request", "body": piece, "more_body": bool(queue)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"content-type", b"application/json")], "client": ("127.0.0.1", 1), "server": ("testserver", 80),
    }  # fmt: skip
    asyncio.run(client.app(scope, receive, send))  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], {**json.loads(body), "connection": headers.get("connection")}, clock[0]


def test_a_body_trickled_behind_its_deadline_gets_408_naming_the_settings(small: tuple[Bot, TestClient]) -> None:
    """Issue 15: 1,100 connections trickling bodies were never timed out (and took /healthz
    down with them). A body may take LANEKEEPER_BODY_TIMEOUT plus 1 s per
    LANEKEEPER_BODY_MIN_RATE bytes; here 11-byte pieces arrive 4 s apart."""
    bot, client = small
    status, answer, taken = trickle(client, "/events", [b'{"event_id"'] * 10, 4.0)
    assert status == 408
    assert "LANEKEEPER_BODY_TIMEOUT" in answer["error"]
    assert "LANEKEEPER_BODY_MIN_RATE" in answer["error"]
    assert answer["connection"] == "close"
    assert taken == 12.0, "cut at the first piece past its deadline"
    status, _, _ = trickle(client, "/webhooks/alertmanager", [alertmanager()[:50]] * 5, 6.0)
    assert status == 408
    with bot.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(alerts)) == 0


def test_a_body_that_keeps_the_minimum_rate_is_never_cut(small: tuple[Bot, TestClient]) -> None:
    """About 54 fake seconds, far past the 10 s timeout, but above 1,000 bytes a second."""
    _, client = small
    line = json.dumps({"event_id": "e", "ts": "2026-03-02T14:00:00Z", "lane": "l2-arb", "seq": 1, "kind": "queue.depth"})
    lines = [(line[:-1] + f', "value": {i}, "pad": "' + "x" * 800 + '"}\n').replace('"e"', f'"e{i}"').encode() for i in range(60)]
    status, answer, taken = trickle(client, "/events", lines, 0.9)
    assert status == 200, answer
    assert answer["stored"] == 60
    assert taken > 50


def test_a_sender_that_stops_sending_is_cut_at_its_deadline() -> None:
    """No chunk ever comes: the wait itself is bounded (here by a 10 ms deadline)."""
    from bot.http.body import BodyTooSlow, stream_body

    class Stalled:
        headers = MappingProxyType({})

        async def stream(self) -> AsyncIterator[bytes]:
            await asyncio.Event().wait()
            yield b""

    async def read() -> None:
        async for _ in stream_body(Stalled(), 1 << 20, BodyPace(0.01, 1000)):  # type: ignore[arg-type]
            pass

    with pytest.raises(BodyTooSlow, match="0 bytes"):
        asyncio.run(read())


@pytest.mark.parametrize("path", ["/webhooks/alertmanager", "/webhooks/grafana", "/webhooks/pagerduty"])
def test_a_body_nested_100k_deep_is_a_400_never_a_500(client: TestClient, path: str) -> None:
    """Found attacking issue 15's fix: json.loads raised RecursionError out of the payload
    parser, a 500."""
    answer = client.post(path, content=b"[" * 100_000)
    assert answer.status_code == 400, answer.text
    assert "nested too deep" in answer.json()["error"]
