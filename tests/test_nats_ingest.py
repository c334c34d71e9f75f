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
from bot.ingest.nats import Backoff
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


def _settings(database_url: str, tag: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=database_url,
        nats_url=NATS_URL,
        nats_stream=f"LK_INGEST_{tag}",
        nats_subject=f"lk.ingest.{tag}",
        nats_durable=f"lk-{tag}",
    )


def test_a_line_nested_1000_deep_among_valid_ones_never_stops_the_consumer(database_url: str) -> None:
    """Before: the parser raised RecursionError inside the consumer, which died silently,
    and again on every redelivery; none of the 999 valid lines was stored."""
    tag = uuid.uuid4().hex[:10]
    settings = _settings(database_url, tag)
    events = Stream()
    for i in range(333):
        events.settle(f"s{i}", i, i + 10)
        events.add("canary.result", i)
    lines = events.ndjson().splitlines(keepends=True)
    deep = ('{"event_id": "deep", "x": ' + "[" * 1000 + "]" * 1000 + "}\n").encode()
    messages = [b"".join(lines[:500]) + deep + b"".join(lines[500:]), deep, b"".join(lines[:3])]
    asyncio.run(_publish(settings.nats_stream, settings.nats_subject, messages))
    bot = Bot(settings)
    bot.start()
    try:
        sample = bot.metrics.registry.get_sample_value
        rejected = {"source": "nats", "outcome": "rejected"}
        asyncio.run(_run_until(bot, lambda: stored(bot) == 999 and sample("lanekeeper_events_total", rejected) == 2))
        assert stored(bot) == 999
        assert sample("lanekeeper_events_total", {"source": "nats", "outcome": "duplicate"}) == 3
        assert bot.nats is not None
        assert bot.nats.stats.terminated == 1
        assert bot.health().ok, bot.health().as_json()
    finally:
        bot.close()
        asyncio.run(_delete(settings.nats_stream))


def test_a_missing_stream_fails_health_until_it_exists_then_is_consumed(database_url: str) -> None:
    """Before: the consumer stopped for good at start-up (stream missing) and /healthz
    stayed 200; events published once the stream existed were never consumed."""
    tag = uuid.uuid4().hex[:10]
    settings = _settings(database_url, tag)
    events = Stream()
    events.settle("s1", 1, 5)
    bot = Bot(settings)
    bot.start()
    assert bot.nats is not None
    bot.nats._backoff = Backoff(initial=0.05, maximum=0.2)
    seen: list[str] = []

    def nats_part() -> str | None:
        return bot.health().parts["nats"]

    def watch() -> bool:
        problem = nats_part()
        if problem is not None and not seen:
            seen.append(problem)
            asyncio.run(_publish(settings.nats_stream, settings.nats_subject, events.ndjson().splitlines(keepends=True)))
        return bool(seen) and stored(bot) == 2

    try:
        asyncio.run(_run_until(bot, watch))
        assert seen
        assert f"stream '{settings.nats_stream}' not found" in seen[0]
        assert stored(bot) == 2
        assert nats_part() is None
    finally:
        bot.close()
        asyncio.run(_delete(settings.nats_stream))
