"""Oversized bodies, declared or streamed: a bounded limit per kind of endpoint, a clear
413 that names the setting to change, and nothing of a refused webhook stored."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from stores import running
from test_summaries import alertmanager

from bot.http.app import create_app
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
