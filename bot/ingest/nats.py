"""Optional event source: a durable NATS JetStream pull consumer that feeds settlement events to the store.

Delivery is at-least-once and the store makes it exactly-once: a message is acked only after
``commit`` said its events are committed, so a crash, a lost connection or a failed commit
leads to a redelivery, never to a loss, and the store's dedup by ``event_id`` drops the copy.

Acks use ``ack_sync`` (the server confirms each ack) rather than fire-and-forget ``ack``: a
plain ack that dies in a broken connection is lost without a trace and the stats would count
it as done. An unconfirmed ack is counted and logged; the message then comes back after
``ack_wait`` and is committed again, which the dedup makes harmless. Terms and naks are
fire-and-forget (nats-py has no confirmed variant) followed by a flush: losing one only means
the message is delivered again and judged again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from typing import NoReturn
from urllib.parse import urlsplit

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, StreamConfig

from bot.ingest.nats_parts import Backoff, BatchOutcome, Commit, ConsumerStats, NatsConfigError, NatsSource

__all__ = [
    "Backoff",
    "BatchOutcome",
    "Commit",
    "ConsumerStats",
    "NatsConfigError",
    "NatsConsumer",
    "NatsSource",
]

PullSubscription = JetStreamContext.PullSubscription
LOGGED_REJECTIONS = 20
"""Rejected messages of one batch logged one by one; the rest are counted in one line."""

# What a NATS operation raises when the connection or the server is in trouble: nats-py's own
# errors (timeouts, closed connection, JetStream API errors) and socket errors from connect.
_NATS_ERRORS = (nats.errors.Error, OSError)


class _NatsDown(Exception):
    """A NATS operation failed in a way a new connection may fix."""

    def __init__(self, during: str, cause: BaseException, detail: str | None = None) -> None:
        super().__init__(f"{during}: {type(cause).__name__}: {cause}" + (f" (last: {detail})" if detail else ""))


def _down(during: str, cause: BaseException) -> NoReturn:
    raise _NatsDown(during, cause) from cause


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, but wake as soon as ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _stream_seq(msg: Msg) -> int:
    return msg.metadata.sequence.stream


class NatsConsumer:
    """Fetch -> commit -> ack loop over one durable pull consumer, reconnecting with backoff.

    Connections are made with nats-py's own reconnect turned off: every connection loss ends the
    session, and the next one starts from a fresh connection and re-binds the durable (the
    server keeps its position), so there is one place that backs off, logs and counts.
    """

    def __init__(
        self, source: NatsSource, commit: Commit, *, log: logging.Logger | None = None, backoff: Backoff | None = None
    ) -> None:
        self._source = source
        self._commit = commit
        self._log = log or logging.getLogger(__name__)
        self._backoff = backoff or Backoff()
        self._stats = ConsumerStats()
        self._connect_failures = 0
        self._commit_failures = 0
        self._connected = False
        self._connect_error: str | None = None
        self._crashed: str | None = None

    @property
    def stats(self) -> ConsumerStats:
        return self._stats

    def problem(self) -> str | None:
        """Why no event is being consumed, for ``/healthz``; None while bound (or connecting
        for the first time)."""
        if self._crashed is not None:
            return f"stopped by an error: {self._crashed}"
        if not self._connected and self._connect_failures:
            return f"not consuming ({self._stats.last_error}); retrying"
        return None

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set. A batch being committed when it is set is finished (acked) first.

        A lost connection and a stream or durable that cannot be used (``NatsConfigError``) are
        retried with backoff until ``stop``; whatever ``commit`` raises (a bug) ends ``run`` with
        it, reported by ``problem`` (its messages stay unacked and are redelivered after ``ack_wait``).
        """
        try:
            while not stop.is_set():
                try:
                    await self._session(stop)
                except (_NatsDown, NatsConfigError) as exc:
                    self._connect_failures += 1
                    delay = self._backoff.delay(self._connect_failures)
                    self._error(str(exc))
                    level, message = (
                        (logging.ERROR, "nats stream or durable unusable, retrying")
                        if isinstance(exc, NatsConfigError)
                        else (logging.WARNING, "nats reconnecting")
                    )
                    self._emit(level, message, error=str(exc), attempt=self._connect_failures, in_s=delay)
                    await _sleep_unless(stop, delay)
        except Exception as exc:
            self._crashed = f"{type(exc).__name__}: {exc}"
            raise
        self._emit(logging.INFO, "nats consumer stopped", durable=self._source.durable, acked=self._stats.acked)

    # -- one connection -------------------------------------------------------------------

    async def _session(self, stop: asyncio.Event) -> None:
        nc = Client()
        self._connect_error = None
        try:
            try:
                await nc.connect(
                    [url.strip() for url in self._source.url.split(",")],
                    name="lanekeeper",
                    allow_reconnect=False,
                    max_reconnect_attempts=1,  # nats-py then tries each server twice, at once, before giving up
                    reconnect_time_wait=0,
                    connect_timeout=self._source.connect_timeout,
                    ping_interval=10,
                    max_outstanding_pings=3,
                    error_cb=self._on_error,
                )
            except nats.errors.NoServersError as exc:  # says only that every attempt failed; the last one says why
                raise _NatsDown("connect", exc, detail=self._connect_error) from exc
            except _NATS_ERRORS as exc:
                _down("connect", exc)
            sub, keepalive_s = await self._bind(nc.jetstream())
            self._connect_failures = 0
            self._connected = True
            self._stats = replace(self._stats, connects=self._stats.connects + 1)
            while not stop.is_set():
                msgs = await self._fetch(sub)
                if msgs:
                    await self._handle(nc, msgs, keepalive_s, stop)
        finally:
            self._connected = False
            await nc.close()

    async def _on_error(self, exc: Exception) -> None:
        """nats-py's error callback. While connecting, each failed attempt is kept for the one
        "nats reconnecting" line rather than logged on its own."""
        text = f"{type(exc).__name__}: {exc}"
        if self._connected:
            self._emit(logging.WARNING, "nats error", error=text)
        else:
            self._connect_error = text

    async def _bind(self, js: JetStreamContext) -> tuple[PullSubscription, float]:
        """Bind the durable (creating it if missing) and check it can give at-least-once delivery."""
        src = self._source
        config = ConsumerConfig(
            durable_name=src.durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=src.ack_wait,
            max_deliver=-1,
            filter_subject=src.subject,
        )
        try:
            if src.create_stream:
                await self._ensure_stream(js)
            sub = await js.pull_subscribe(src.subject, durable=src.durable, stream=src.stream, config=config)
            info = await sub.consumer_info()
        except nats.js.errors.NotFoundError as exc:
            raise NatsConfigError(f"stream {src.stream!r} not found on {self._where()}: {exc}") from exc
        except nats.js.errors.BadRequestError as exc:
            raise NatsConfigError(f"the server refused stream {src.stream!r} / durable {src.durable!r}: {exc}") from exc
        except _NATS_ERRORS as exc:
            _down("bind", exc)
        self._check_consumer(info)
        ack_wait = min([info.config.ack_wait or src.ack_wait, *(info.config.backoff or [])])
        self._emit(
            logging.INFO,
            "nats connected",
            server=self._where(),
            stream=src.stream,
            durable=src.durable,
            pending=info.num_pending,
            ack_pending=info.num_ack_pending,
            ack_wait_s=ack_wait,
        )
        return sub, ack_wait / 3

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        try:
            await js.stream_info(self._source.stream)
        except nats.js.errors.NotFoundError:
            await js.add_stream(StreamConfig(name=self._source.stream, subjects=[self._source.subject]))
            self._emit(logging.INFO, "nats stream created", stream=self._source.stream, subject=self._source.subject)

    def _check_consumer(self, info: ConsumerInfo) -> None:
        src, cfg = self._source, info.config
        where = f"durable {src.durable!r} on stream {src.stream!r}"
        if cfg.deliver_subject:
            raise NatsConfigError(f"{where} is a push consumer; a pull consumer is needed")
        if cfg.ack_policy != AckPolicy.EXPLICIT:
            raise NatsConfigError(f"{where} has ack policy {cfg.ack_policy}; explicit acks are needed for at-least-once")
        filters = cfg.filter_subjects or ([cfg.filter_subject] if cfg.filter_subject else [])
        if filters != [src.subject]:
            raise NatsConfigError(f"{where} filters {filters}, not {[src.subject]}: it would consume other messages")
        if cfg.max_deliver is not None and cfg.max_deliver > 0:
            message = "nats durable drops a message after max_deliver deliveries"
            self._emit(logging.WARNING, message, durable=src.durable, max_deliver=cfg.max_deliver)

    # -- one batch --------------------------------------------------------------------------

    async def _fetch(self, sub: PullSubscription) -> list[Msg]:
        try:
            return await sub.fetch(self._source.batch, timeout=self._source.fetch_wait)
        except TimeoutError:  # nats' TimeoutError and FetchTimeoutError: nothing arrived, the normal idle case
            return []
        except _NATS_ERRORS as exc:
            _down("fetch", exc)

    async def _handle(self, nc: Client, msgs: list[Msg], keepalive_s: float, stop: asyncio.Event) -> None:
        self._stats = replace(self._stats, fetched=self._stats.fetched + len(msgs))
        outcome = await self._commit_kept_alive(msgs, keepalive_s)
        if not outcome.committed:
            await self._redeliver(nc, msgs, stop)
            return
        self._commit_failures = 0
        bad = [i for i in outcome.rejected if not 0 <= i < len(msgs)]
        if bad:
            raise ValueError(f"commit rejected message indices {bad} of a batch of {len(msgs)}")
        try:
            for listed, (i, reason) in enumerate(sorted(outcome.rejected.items())):
                if listed < LOGGED_REJECTIONS:
                    self._emit(
                        logging.WARNING, "nats message rejected, terminated", stream_seq=_stream_seq(msgs[i]), reason=reason
                    )
                await msgs[i].term()
            if len(outcome.rejected) > LOGGED_REJECTIONS:
                self._emit(
                    logging.WARNING,
                    "nats messages rejected, terminated, not listed",
                    rejected_total=len(outcome.rejected),
                    not_listed=len(outcome.rejected) - LOGGED_REJECTIONS,
                )
            if outcome.rejected:
                await nc.flush(timeout=max(1, round(self._source.ack_timeout)))
        except _NATS_ERRORS as exc:
            _down("term", exc)
        self._stats = replace(self._stats, terminated=self._stats.terminated + len(outcome.rejected))
        acked = await self._ack(nc, [m for i, m in enumerate(msgs) if i not in outcome.rejected])
        self._stats = replace(self._stats, committed_batches=self._stats.committed_batches + 1)
        self._emit(
            logging.INFO,
            "nats batch committed",
            messages=len(msgs),
            acked=acked,
            terminated=len(outcome.rejected),
            redelivered=sum(m.metadata.num_delivered > 1 for m in msgs),  # > 0: the store's dedup is what keeps them single
            first_seq=_stream_seq(msgs[0]),
            last_seq=_stream_seq(msgs[-1]),
        )

    async def _commit_kept_alive(self, msgs: list[Msg], every_s: float) -> BatchOutcome:
        """Run ``commit``, telling the server every ``every_s`` that the batch is in progress so a
        slow commit does not make it redeliver the batch in the middle."""
        keepalive = asyncio.create_task(self._keep_alive(msgs, every_s))
        try:
            outcome = await self._commit([m.data for m in msgs])
        finally:
            keepalive.cancel()
            await asyncio.wait([keepalive])
        if not keepalive.cancelled() and (error := keepalive.exception()) is not None:
            raise error  # a bug in the keepalive itself: NATS errors end it quietly
        return outcome

    async def _keep_alive(self, msgs: list[Msg], every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                for msg in msgs:
                    await msg.in_progress()
            except _NATS_ERRORS as exc:  # best effort: the fetch or the acks will see the broken connection
                self._emit(logging.DEBUG, "nats keepalive failed", error=str(exc))
                return

    async def _redeliver(self, nc: Client, msgs: list[Msg], stop: asyncio.Event) -> None:
        """The commit failed: hand the batch back with a delay, and wait as long before fetching again."""
        self._commit_failures += 1
        delay = self._backoff.delay(self._commit_failures)
        self._stats = replace(self._stats, commit_failures=self._stats.commit_failures + 1, last_error="commit failed")
        self._emit(
            logging.WARNING,
            "nats commit failed, batch handed back",
            messages=len(msgs),
            first_seq=_stream_seq(msgs[0]),
            attempt=self._commit_failures,
            redelivery_in_s=delay,
        )
        naked = 0
        try:
            for msg in msgs:
                await msg.nak(delay=delay)
                naked += 1
            await nc.flush(timeout=max(1, round(self._source.ack_timeout)))
        except _NATS_ERRORS as exc:  # those not handed back come back after ack_wait
            _down("nak", exc)
        finally:
            self._stats = replace(self._stats, naked=self._stats.naked + naked)
        await _sleep_unless(stop, delay)

    async def _ack(self, nc: Client, msgs: list[Msg]) -> int:
        """Ack with server confirmation, all at once; returns how many were confirmed."""
        results = await asyncio.gather(*(m.ack_sync(timeout=self._source.ack_timeout) for m in msgs), return_exceptions=True)
        failed: list[tuple[Msg, BaseException]] = []
        for msg, result in zip(msgs, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, nats.errors.MsgAlreadyAckdError) or not isinstance(result, _NATS_ERRORS):
                    raise result  # a bug here, not a network problem
                failed.append((msg, result))
        acked = len(msgs) - len(failed)
        self._stats = replace(self._stats, acked=self._stats.acked + acked, ack_failures=self._stats.ack_failures + len(failed))
        if failed:
            error = f"{type(failed[0][1]).__name__}: {failed[0][1]}"
            self._error(f"ack: {error}")
            self._emit(
                logging.WARNING,
                "nats acks unconfirmed, those messages will be redelivered",
                messages=len(failed),
                stream_seqs=[_stream_seq(m) for m, _ in failed][:20],
                error=error,
            )
            if nc.is_closed:
                _down("ack", failed[0][1])
        return acked

    # -- reporting ----------------------------------------------------------------------------

    def _where(self) -> str:
        """The servers, without any credentials the URL may hold."""
        parts = (urlsplit(u if "://" in u else f"nats://{u}") for u in (u.strip() for u in self._source.url.split(",")))
        return ",".join(f"{p.hostname}:{p.port or 4222}" for p in parts)

    def _error(self, text: str) -> None:
        self._stats = replace(self._stats, last_error=text)

    def _emit(self, level: int, message: str, **fields: object) -> None:
        """One line per notable thing; the fields go in ``extra``, as everywhere in the bot (see ``bot.logs``)."""
        self._log.log(level, message, extra=fields)
