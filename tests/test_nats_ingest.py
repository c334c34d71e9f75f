"""Settlement events from NATS JetStream into the store and live status, through the bot
as ``lanekeeper serve`` runs it (real nats-server; SQLite and PostgreSQL stores)."""

from __future__ import annotations

import asyncio
import time
import uuid

import nats
from helpers import Stream
from test_http_events import stored

from bot.config import Settings
from bot.runtime import Bot

NATS_URL = "nats://127.0.0.1:4222"


async def _publish(stream_name: str, subject: str, messages: list[bytes]) -> None:
    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        await js.add_stream(name=stream_name, subjects=[subject])
        for body in messages:
            await js.publish(subject, body)
    finally:
        await nc.close()


async def _delete(stream_name: str) -> None:
    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().delete_stream(stream_name)
    finally:
        await nc.close()


async def _run_until(bot: Bot, done: object, timeout: float = 30) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(bot.background(stop))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not await asyncio.to_thread(done):  # type: ignore[arg-type]
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, 15)


def test_events_from_jetstream_are_committed_once_and_counted_live(database_url: str) -> None:
    tag = uuid.uuid4().hex[:10]
    stream_name, subject = f"LK_INGEST_{tag}", f"lk.ingest.{tag}"
    events = Stream()
    for i in range(30):
        events.settle(f"s{i}", i, i + 10, ok=i % 10 != 0)
    lines = events.ndjson().splitlines(keepends=True)
    messages = [
        *lines[:20],  # one event per message
        b"".join(lines[20:]),  # the rest as one NDJSON message
        lines[0],  # a re-delivery by the producer: stored once
        b"not an event\n",  # no valid event: terminated, not redelivered forever
    ]
    asyncio.run(_publish(stream_name, subject, messages))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=database_url,
        nats_url=NATS_URL,
        nats_stream=stream_name,
        nats_subject=subject,
        nats_durable=f"lk-{tag}",
    )
    bot = Bot(settings)
    bot.start()
    try:
        sample = bot.metrics.registry.get_sample_value
        terminated = {"source": "nats", "outcome": "rejected"}
        asyncio.run(_run_until(bot, lambda: stored(bot) == len(lines) and sample("lanekeeper_events_total", terminated) == 1))
        assert stored(bot) == len(lines)
        facts = bot.lane_status()["l2-arb"].facts
        assert (facts.submitted, facts.finalized, facts.failed) == (30, 27, 3)
        assert sample("lanekeeper_events_total", {"source": "nats", "outcome": "stored"}) == len(lines)
        assert sample("lanekeeper_events_total", {"source": "nats", "outcome": "duplicate"}) == 1
        assert sample("lanekeeper_events_total", {"source": "nats", "outcome": "rejected"}) == 1
    finally:
        bot.close()
        asyncio.run(_delete(stream_name))
