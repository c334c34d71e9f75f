"""NatsConsumer against a real nats-server with JetStream (CI starts one; nothing here is mocked).

What is pinned: a message is acked only after commit returned committed=True; a failed commit
hands the batch back and it is committed later (nothing lost); a rejected message is terminated,
not redelivered; a restarted durable resumes after its last ack; a crash between commit and ack
makes the server deliver the batch to commit again, so the store's dedup by event_id is what
keeps it single; a slow commit is kept alive instead of redelivered; a lost connection is
reconnected with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from typing import Any

import nats
import pytest
from helpers import Stream
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, ConsumerInfo

from bot.ingest.nats import Backoff, BatchOutcome, NatsConsumer, NatsSource
from validators.events import Event
from validators.ndjson import parse_events

HOST, PORT = "127.0.0.1", 4222
NATS_URL = f"nats://{HOST}:{PORT}"
START_IT = (
    "start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- "
    "-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log"
)
FAST = Backoff(initial=0.05, maximum=0.2)


def _run(coro: Coroutine[Any, Any, None], timeout: float = 30) -> None:
    """Drive one test's coroutine; a hang fails after ``timeout`` instead of blocking CI."""
    asyncio.run(asyncio.wait_for(coro, timeout))


async def _jetstream_ok() -> None:
    nc = await nats.connect(NATS_URL, allow_reconnect=False, connect_timeout=2)
    try:
        await nc.jetstream().account_info()
    finally:
        await nc.close()


@pytest.fixture(scope="module", autouse=True)
def _nats_server() -> None:
    """These tests need the real server: when it is missing they fail (never skip) and say how to start it."""
    problem = None
    try:
        with socket.create_connection((HOST, PORT), timeout=2):
            pass
        _run(_jetstream_ok(), timeout=10)
    except (OSError, nats.errors.Error) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        pytest.fail(f"no nats-server with JetStream at {NATS_URL} ({problem}). Start one (CI does):\n  {START_IT}", pytrace=False)


def _source(**overrides: Any) -> NatsSource:
    """Names unique to one test, a wildcard subject, and short timings so redeliveries show fast."""
    tag = uuid.uuid4().hex[:12]
    base = NatsSource(
        url=NATS_URL,
        stream=f"LK_TEST_{tag}",
        subject=f"lk.test.{tag}.>",
        durable=f"lk-test-{tag}",
        batch=10,
        ack_wait=1.0,
        fetch_wait=0.2,
        ack_timeout=2.0,
        connect_timeout=2,
    )
    return replace(base, **overrides)


def _subject(source: NatsSource, leaf: str = "l2-arb") -> str:
    return source.subject.removesuffix(">") + leaf


@asynccontextmanager
async def _stream(source: NatsSource, *, create: bool = True) -> AsyncIterator[JetStreamContext]:
    """A test connection; the test's stream exists inside and is deleted afterwards."""
    nc = await nats.connect(NATS_URL, allow_reconnect=False)
    js = nc.jetstream()
    try:
        if create:
            await js.add_stream(name=source.stream, subjects=[source.subject])
        yield js
    finally:
        with suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(source.stream)
        await nc.close()


def _events(n: int, start: int = 0) -> list[bytes]:
    """``n`` one-event payloads with distinct event_ids."""
    s = Stream()
    ids = [s.add("queue.depth", start + i, event_id=f"evt-{start + i:05d}", value=i) for i in range(n)]
    assert len(ids) == n
    return [line.encode() for line in s.lines]


async def _publish(js: JetStreamContext, source: NatsSource, payloads: list[bytes]) -> dict[bytes, int]:
    """Publish, returning each payload's stream sequence."""
    return {p: (await js.publish(_subject(source, f"lane{i % 3}"), p)).seq for i, p in enumerate(payloads)}


class Store:
    """The store as the consumer sees it: commits every valid event once per event_id (a re-delivered
    one is counted and ignored) and rejects a message holding an invalid line."""

    def __init__(self, *, fail_first: int = 0, delay: float = 0.0) -> None:
        self.fail_left = fail_first
        self.delay = delay
        self.events: dict[str, Event] = {}
        self.duplicates = 0
        self.calls: list[list[bytes]] = []
        self.probe: Callable[[list[bytes]], Awaitable[None]] | None = None  # runs inside commit, after storing
        self.crash: BaseException | None = None  # raised after storing, once

    @property
    def payloads(self) -> list[bytes]:
        return [p for call in self.calls for p in call]

    async def commit(self, payloads: list[bytes]) -> BatchOutcome:
        self.calls.append(list(payloads))
        await asyncio.sleep(self.delay)
        if self.fail_left:
            self.fail_left -= 1
            if self.probe:
                await self.probe(payloads)
            return BatchOutcome(committed=False)
        rejected: dict[int, str] = {}
        for i, payload in enumerate(payloads):
            events, stats = parse_events([payload])
            if stats.rejected:
                rejected[i] = "; ".join(f"line {r.line}: {r.reason}" for r in stats.rejected)
            for event in events:
                if event.event_id in self.events:
                    self.duplicates += 1
                else:
                    self.events[event.event_id] = event
        if self.probe:
            await self.probe(payloads)
        if self.crash:
            crash, self.crash = self.crash, None
            raise crash
        return BatchOutcome(committed=True, rejected=rejected)


async def _until(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def _running(consumer: NatsConsumer) -> AsyncIterator[None]:
    """Run the consumer for the body, then stop it and surface whatever it raised."""
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield
    finally:
        stop.set()
        done, _ = await asyncio.wait([task], timeout=10)
        if not done:
            task.cancel()
            await asyncio.wait([task])
            raise AssertionError("the consumer did not stop within 10 s of stop being set")
        task.result()


def _logged(caplog: pytest.LogCaptureFixture, message: str) -> list[Any]:
    """The consumer's log records with this message; their fields are attributes (``extra``)."""
    return [r for r in caplog.records if r.name == "bot.ingest.nats" and r.getMessage() == message]


async def _info(js: JetStreamContext, source: NatsSource) -> ConsumerInfo:
    return await js.consumer_info(source.stream, source.durable)


def _seqs(info: ConsumerInfo) -> tuple[int, int]:
    """(last delivered, ack floor) stream sequences."""
    assert info.delivered is not None
    assert info.ack_floor is not None
    return info.delivered.stream_seq, info.ack_floor.stream_seq


def test_every_message_reaches_commit_and_is_acked_only_after_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.ingest.nats")
    source = _source(batch=7)
    singles = _events(17)
    multi = [b"\n".join(_events(2, start=100 + 2 * i)) + b"\n" for i in range(3)]  # NDJSON: several events per message
    published = singles + multi

    async def main() -> None:
        async with _stream(source) as js:
            seqs = await _publish(js, source, published)
            store = Store()
            while_committing: list[tuple[int, int, int, int]] = []  # (first seq of batch, batch size, ack floor, ack pending)

            async def probe(payloads: list[bytes]) -> None:
                info = await _info(js, source)
                _, floor = _seqs(info)
                assert info.num_ack_pending is not None
                while_committing.append((min(seqs[p] for p in payloads), len(payloads), floor, info.num_ack_pending))

            store.probe = probe
            consumer = NatsConsumer(source, store.commit)
            async with _running(consumer):
                await _until(lambda: consumer.stats.acked == len(published), "every message acked")

            assert sorted(store.payloads) == sorted(published)  # each one reached commit exactly once
            assert len(store.events) == 17 + 6
            assert store.duplicates == 0
            for first_seq, size, floor, ack_pending in while_committing:
                assert floor < first_seq, "a message was acked before its commit returned"
                assert ack_pending >= size
            info = await _info(js, source)
            assert _seqs(info) == (len(published), len(published))
            assert (info.num_ack_pending, info.num_pending, info.num_redelivered) == (0, 0, 0)
            stats = consumer.stats
            assert (stats.fetched, stats.acked, stats.terminated, stats.naked, stats.ack_failures) == (20, 20, 0, 0, 0)
            assert stats.connects == 1

    _run(main())
    assert [r.durable for r in _logged(caplog, "nats connected")] == [source.durable]
    first = _logged(caplog, "nats batch committed")[0]
    assert (first.messages, first.acked, first.terminated, first.redelivered) == (7, 7, 0, 0)
    assert (first.first_seq, first.last_seq) == (1, 7)


def test_failed_commit_acks_nothing_and_the_batch_is_committed_when_redelivered() -> None:
    source = _source()
    published = _events(5)

    async def main() -> None:
        async with _stream(source) as js:
            await _publish(js, source, published)
            store = Store(fail_first=2)
            unacked_while_failing: list[int | None] = []

            async def probe(payloads: list[bytes]) -> None:
                unacked_while_failing.append((await _info(js, source)).num_ack_pending)

            store.probe = probe
            consumer = NatsConsumer(source, store.commit, backoff=FAST)
            async with _running(consumer):
                await _until(lambda: consumer.stats.acked == 5, "the batch acked after two failed commits")

            assert [sorted(call) for call in store.calls] == [sorted(published)] * 3  # the same batch, three times
            assert unacked_while_failing == [5, 5, 5]  # the 2 failed commits and the good one: nothing acked yet
            assert len(store.events) == 5
            info = await _info(js, source)
            assert info.delivered is not None
            assert info.delivered.consumer_seq == 15  # 5 messages delivered 3 times each: naked, not dropped
            assert _seqs(info) == (5, 5)
            assert (info.num_ack_pending, info.num_pending) == (0, 0)
            stats = consumer.stats
            assert (stats.fetched, stats.commit_failures, stats.naked, stats.acked) == (15, 2, 10, 5)

    _run(main())


def test_rejected_message_is_terminated_and_not_redelivered(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.ingest.nats")
    source = _source()
    good = _events(3)
    published = [good[0], b"not json at all", good[1] + b'\n{"event_id": "half"}\n', good[2]]

    async def main() -> None:
        async with _stream(source) as js:
            await _publish(js, source, published)
            store = Store()
            consumer = NatsConsumer(source, store.commit)
            async with _running(consumer):
                await _until(lambda: consumer.stats.terminated == 2 and consumer.stats.acked == 2, "2 acked, 2 terminated")
                await asyncio.sleep(source.ack_wait * 1.5)  # a message left pending would be redelivered by now

            assert len(store.calls) == 1
            assert sorted(store.events) == ["evt-00000", "evt-00001", "evt-00002"]  # the valid line beside a bad one is kept
            info = await _info(js, source)
            assert _seqs(info) == (4, 4)
            assert (info.num_ack_pending, info.num_redelivered, info.num_pending) == (0, 0, 0)

    _run(main())
    rejected = _logged(caplog, "nats message rejected, terminated")
    assert [r.stream_seq for r in rejected] == [2, 3]
    assert rejected[0].reason.startswith("line 1: ")
    assert rejected[1].reason.startswith("line 2: ")


def test_restarted_durable_resumes_after_its_last_ack() -> None:
    source = _source(batch=4)
    first, second = _events(6), _events(6, start=6)

    async def main() -> None:
        async with _stream(source) as js:
            await _publish(js, source, first)
            before = Store()
            consumer = NatsConsumer(source, before.commit)
            async with _running(consumer):
                await _until(lambda: consumer.stats.acked == 6, "the first 6 acked")

            await _publish(js, source, second)
            after = Store()
            restarted = NatsConsumer(source, after.commit)
            async with _running(restarted):
                await _until(lambda: restarted.stats.acked == 6, "the next 6 acked")
                await asyncio.sleep(source.ack_wait * 1.5)  # room for any wrong redelivery to show

            assert sorted(before.payloads) == sorted(first)
            assert sorted(after.payloads) == sorted(second)  # none of the acked ones again
            info = await _info(js, source)
            assert _seqs(info) == (12, 12)
            assert (info.num_ack_pending, info.num_redelivered) == (0, 0)

    _run(main())


def test_crash_between_commit_and_ack_redelivers_to_commit_and_the_store_dedup_keeps_one_copy() -> None:
    source = _source()
    published = _events(3)

    async def main() -> None:
        async with _stream(source) as js:
            await _publish(js, source, published)
            store = Store()
            # An OSError, like the connection errors the consumer does handle: from commit it is a crash and propagates.
            store.crash = ConnectionResetError("the process died after the store committed, before the ack")
            crashed = NatsConsumer(source, store.commit)
            with pytest.raises(ConnectionResetError, match="before the ack"):
                await asyncio.wait_for(crashed.run(asyncio.Event()), 10)
            assert crashed.stats.acked == 0
            info = await _info(js, source)
            assert info.num_ack_pending == 3
            assert _seqs(info) == (3, 0)

            restarted = NatsConsumer(source, store.commit)
            async with _running(restarted):
                await _until(lambda: restarted.stats.acked == 3, "the redelivered batch acked")

            assert [sorted(call) for call in store.calls] == [sorted(published)] * 2  # commit saw the batch twice ...
            assert len(store.events) == 3  # ... and the store kept one copy of each event
            assert store.duplicates == 3
            info = await _info(js, source)
            assert _seqs(info) == (3, 3)
            assert info.num_ack_pending == 0

    _run(main())


def test_slow_commit_is_kept_in_progress_so_another_instance_is_not_handed_the_batch() -> None:
    source = _source(ack_wait=0.6)
    published = _events(2)

    async def main() -> None:
        async with _stream(source) as js:
            await _publish(js, source, published)
            store = Store()
            other_instance_got: list[bytes] = []

            async def slow_while_another_instance_pulls(payloads: list[bytes]) -> None:
                # A second replica on the same durable pulls for 2.5 x ack_wait while this commit is still running.
                sub = await js.pull_subscribe(source.subject, durable=source.durable, stream=source.stream)
                try:
                    other_instance_got.extend(m.data for m in await sub.fetch(len(payloads), timeout=1.5))
                except nats.errors.TimeoutError:
                    pass
                finally:
                    await sub.unsubscribe()

            store.probe = slow_while_another_instance_pulls
            consumer = NatsConsumer(source, store.commit)
            async with _running(consumer):
                await _until(lambda: consumer.stats.acked == 2, "the slow batch acked")

            assert other_instance_got == []
            assert len(store.calls) == 1
            info = await _info(js, source)
            assert info.delivered is not None
            assert info.delivered.consumer_seq == 2  # delivered once each: no redelivery during the commit
            assert info.num_ack_pending == 0

    _run(main())


class _Proxy:
    """A TCP relay to the real server that the test can cut, to lose the connection for real."""

    def __init__(self) -> None:
        self.up = True
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, HOST, 0)
        self.url = f"nats://{HOST}:{self._server.sockets[0].getsockname()[1]}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            if not self.up:
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(HOST, PORT)
            self._writers |= {writer, upstream_writer}
            await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))
            self._writers -= {writer, upstream_writer}
            upstream_writer.close()
            with suppress(OSError):
                await upstream_writer.wait_closed()
        finally:
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()
            self._handlers.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    def cut(self) -> None:
        """Drop every relayed connection, as a network failure would."""
        for writer in self._writers:
            writer.transport.abort()

    async def close(self) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        await asyncio.gather(*self._handlers)


def test_lost_connection_is_reconnected_with_backoff_and_nothing_is_lost(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.ingest.nats")
    first, second = _events(3), _events(3, start=3)

    async def main() -> None:
        proxy = _Proxy()
        await proxy.start()
        source = _source(url=proxy.url)
        try:
            async with _stream(source) as js:
                await _publish(js, source, first)
                store = Store()
                consumer = NatsConsumer(source, store.commit, backoff=FAST)
                async with _running(consumer):
                    await _until(lambda: consumer.stats.acked == 3, "the first 3 acked")
                    proxy.up = False
                    proxy.cut()
                    await _publish(js, source, second)  # while the consumer is cut off
                    await _until(lambda: bool(_logged(caplog, "nats reconnecting")), "the consumer noticing the loss")
                    await asyncio.sleep(0.3)  # several refused attempts, backing off
                    proxy.up = True
                    await _until(lambda: consumer.stats.acked == 6, "the 3 published during the outage acked")

                assert sorted(store.payloads) == sorted(first + second)
                assert consumer.stats.connects == 2
                info = await _info(js, source)
                assert _seqs(info) == (6, 6)
                assert info.num_ack_pending == 0
        finally:
            await proxy.close()

    _run(main())
    attempts = _logged(caplog, "nats reconnecting")
    assert [(r.attempt, r.in_s) for r in attempts[:2]] == [(1, 0.05), (2, 0.1)]  # backing off
    assert attempts[0].error.startswith("fetch: ConnectionClosedError")


def test_connection_lost_between_commit_and_ack_is_counted_and_the_batch_redone(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.ingest.nats")
    published = _events(3)

    async def main() -> None:
        proxy = _Proxy()
        await proxy.start()
        source = _source(url=proxy.url)
        try:
            async with _stream(source) as js:
                await _publish(js, source, published)
                store = Store()

                async def cut_once(payloads: list[bytes]) -> None:
                    store.probe = None
                    proxy.cut()  # the events are stored; the acks will have no connection to travel on

                store.probe = cut_once
                consumer = NatsConsumer(source, store.commit, backoff=FAST)
                async with _running(consumer):
                    await _until(lambda: consumer.stats.acked == 3, "the redelivered batch acked")

                assert [sorted(call) for call in store.calls] == [sorted(published)] * 2
                assert (len(store.events), store.duplicates) == (3, 3)
                stats = consumer.stats
                assert (stats.ack_failures, stats.acked, stats.connects) == (3, 3, 2)
                info = await _info(js, source)
                assert _seqs(info) == (3, 3)
                assert info.num_ack_pending == 0
        finally:
            await proxy.close()

    _run(main())
    [unconfirmed] = _logged(caplog, "nats acks unconfirmed, those messages will be redelivered")
    assert (unconfirmed.messages, unconfirmed.stream_seqs) == (3, [1, 2, 3])
    [batch] = _logged(caplog, "nats batch committed")
    assert (batch.acked, batch.redelivered) == (3, 3)  # the second delivery of all three


def test_unreachable_server_is_retried_until_stopped() -> None:
    source = _source(url="nats://127.0.0.1:1")  # nothing listens on port 1

    async def main() -> None:
        consumer = NatsConsumer(source, Store().commit, backoff=FAST)
        async with _running(consumer):
            await asyncio.sleep(0.5)
        assert consumer.stats.connects == 0
        assert consumer.stats.last_error is not None
        assert "ConnectionRefusedError" in consumer.stats.last_error

    _run(main())


def test_missing_stream_is_reported_and_retried_until_it_exists(caplog: pytest.LogCaptureFixture) -> None:
    """Before, a stream missing at start-up stopped the consumer for good (and /healthz
    stayed 200): events published after the stream was created were never consumed."""
    caplog.set_level(logging.INFO, logger="bot.ingest.nats")
    source = _source()

    async def main() -> None:
        async with _stream(source, create=False) as js:
            store = Store()
            consumer = NatsConsumer(source, store.commit, backoff=FAST)
            async with _running(consumer):
                await _until(lambda: consumer.problem() is not None, "the problem reported")
                assert f"stream '{source.stream}' not found" in str(consumer.problem())
                assert consumer.problem().endswith("retrying")  # type: ignore[union-attr]
                await js.add_stream(name=source.stream, subjects=[source.subject])
                await _publish(js, source, _events(2))
                await _until(lambda: consumer.stats.acked == 2, "both messages acked, no restart")
                assert consumer.problem() is None
            assert sorted(store.events) == ["evt-00000", "evt-00001"]

    _run(main())
    assert _logged(caplog, "nats stream or durable unusable, retrying")[0].levelname == "ERROR"


def test_a_consumer_asked_to_create_its_stream_creates_it() -> None:
    source = replace(_source(), create_stream=True)

    async def main() -> None:
        async with _stream(source, create=False) as js:
            consumer = NatsConsumer(source, Store().commit)
            async with _running(consumer):
                await _until(lambda: consumer.stats.connects == 1, "connected")
                await _publish(js, source, _events(1))
                await _until(lambda: consumer.stats.acked == 1, "the message acked")
            assert (await js.stream_info(source.stream)).config.subjects == [source.subject]

    _run(main())


def test_durable_with_another_filter_is_refused_and_reported() -> None:
    source = _source()

    async def main() -> None:
        async with _stream(source) as js:
            other = _subject(source, "other")
            await js.add_consumer(source.stream, ConsumerConfig(durable_name=source.durable, filter_subject=other))
            consumer = NatsConsumer(source, Store().commit, backoff=FAST)
            async with _running(consumer):
                await _until(lambda: consumer.problem() is not None, "the problem reported")
                assert "would consume other messages" in str(consumer.problem())
                assert consumer.stats.connects == 0

    _run(main())


def test_commit_rejecting_an_index_outside_the_batch_is_a_bug_and_acks_nothing() -> None:
    source = _source()

    async def main() -> None:
        async with _stream(source) as js:
            await _publish(js, source, _events(1))

            async def commit(payloads: list[bytes]) -> BatchOutcome:
                return BatchOutcome(committed=True, rejected={len(payloads): "off by one"})

            consumer = NatsConsumer(source, commit)
            with pytest.raises(ValueError, match=r"indices \[1\] of a batch of 1"):
                await asyncio.wait_for(consumer.run(asyncio.Event()), 10)
            assert (await _info(js, source)).num_ack_pending == 1
            assert str(consumer.problem()).startswith("stopped by an error: ValueError")

    _run(main())
