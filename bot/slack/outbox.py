"""Every message the bot writes goes through one outbox, kept in the store.

Slack allows about one new message per second per channel (with short bursts) and about
50 edits a minute, and answers 429 with Retry-After beyond that. The outbox paces each kind
of call on its own (so a backlog of edits never holds up a new incident's card), sends in
the order queued within a kind, waits out a 429's Retry-After and tries the same message
again, and coalesces: a newer version of a message still waiting replaces the waiting one
(``bot.slack.queue``). Transient failures (5xx, connection errors) are retried with
backoff; a refusal (``ok: false``, e.g. ``channel_not_found``) is logged and dropped, since
retrying cannot fix it.

Nothing queued is lost with the process: the queue is a table, and a restarted bot sends
what its predecessor left. A post whose answer never came back (the process was killed
under it, or Slack answered 5xx or the connection broke after sending) may be in the
channel already; before posting it again the outbox asks Slack for it by the metadata
every post carries (``SlackPoster.adopt``), so a crash does not post a card twice.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from bot.clock import utcnow
from bot.metrics import Metrics
from bot.slack.blocks import CARD, Message
from bot.slack.poster import Poster
from bot.slack.queue import Queued, done, enqueue, mark_attempted, queued, waiting
from bot.store.engine import reading
from bot.store.leader import SenderLock

log = logging.getLogger(__name__)
Key = tuple[str, str]  # (incident, purpose)
POLL_S = 1.0
"""How often an idle outbox looks at the queue (rows queued by other processes; in this
process ``send`` and ``wake`` do not wait for it)."""
STUCK_S = 120.0
"""A sender that made no progress this long (beyond a wait it chose: a Retry-After, a
backoff) is stuck: a Slack call takes at most slack_sdk's 30 s timeout."""


@dataclass(frozen=True, slots=True)
class Pace:
    """Slack's limits: a new message about 1/s per channel with short bursts
    (chat.postMessage); edits are tier 3, about 50 a minute (chat.update)."""

    post_burst: int = 4
    posts_per_second: float = 1.0
    update_burst: int = 10
    updates_per_second: float = 50 / 60
    max_backoff_s: float = 30.0


class Bucket:
    """A token bucket: ``burst`` calls at once, then ``rate`` a second."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self.tokens = float(burst)
        self.refilled = time.monotonic()

    def wait(self) -> float:
        """Seconds until a call may go (0: now)."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


class Outbox:
    def __init__(self, poster: Poster, engine: Engine, pace: Pace | None = None, *, metrics: Metrics | None = None) -> None:
        self.poster, self.engine, self.metrics = poster, engine, metrics
        self.pace = pace = pace or Pace()
        self._buckets = {
            "post": Bucket(pace.post_burst, pace.posts_per_second),
            "update": Bucket(pace.update_burst, pace.updates_per_second),
        }
        self.lock = SenderLock(engine)
        self._posted: set[Key] = set()  # keys known to have a message (their next call is an update)
        self._cond = threading.Condition()
        self._wakes = 0  # bumped by every send/wake/drain: a round that starts later sees their rows
        self._empty_at = -1  # the _wakes value of the last round that found the queue empty
        self._stopped = False
        self.sent = 0
        self._progress = (time.monotonic(), STUCK_S)  # (when the sender last moved, how long it may take)
        self._died: str | None = None
        self._thread = threading.Thread(target=self._work, name="slack-outbox", daemon=True)

    def start(self) -> Outbox:
        """Start sending (once the store's schema is in place)."""
        self._thread.start()
        return self

    def send(self, incident_id: str, purpose: str, message: Message) -> None:
        """Queue ``message`` as the latest version of (incident, purpose); returns once the
        queue has it (committed), long before Slack does."""
        with self.engine.begin() as conn:
            enqueue(conn, incident_id, purpose, message, utcnow())
        self.wake()

    def wake(self) -> None:
        """Something was queued (here or by the summary process): look now."""
        with self._cond:
            self._wakes += 1
            self._cond.notify_all()

    def has(self, incident_id: str, purpose: str) -> bool:
        """Whether (incident, purpose) is queued or was posted."""
        with reading(self.engine) as conn:  # closed before the poster opens its own (SQLite: one writer)
            waits = queued(conn, incident_id, purpose)
        return waits or self.poster.is_posted(incident_id, purpose)

    def _kind(self, key: Key) -> str:
        if key not in self._posted and self.poster.is_posted(*key):
            self._posted.add(key)
        return "update" if key in self._posted else "post"

    def _next(self, rows: list[Queued]) -> tuple[Queued, Bucket] | float:
        """The first waiting message whose kind of call may go now (new messages are not held
        up by a backlog of edits), else how long until one may. A reply waits for its
        incident's card, the thread's parent, while that is still queued."""
        soonest = POLL_S
        cards_waiting = {row.incident_id for row in rows if row.purpose == CARD and self._kind(row.key) == "post"}
        for row in rows:
            if row.purpose != CARD and row.incident_id in cards_waiting and self._kind(row.key) == "post":
                continue
            bucket = self._buckets[self._kind(row.key)]
            wait = bucket.wait()
            if wait == 0:
                return row, bucket
            soonest = min(soonest, wait)
        return soonest

    def problem(self, now: float | None = None) -> str | None:
        """Why nothing queued is being sent, for ``/healthz`` (a thread that died of a bug,
        or one stuck in a call); else None. ``now``: a monotonic time (tests pass a later one)."""
        if self._died is not None:
            return f"the sender thread died ({self._died}); queued messages wait in the store for a restart"
        if not self._thread.is_alive():
            return None  # not started yet, or closed
        moved, allowed = self._progress
        stalled = (time.monotonic() if now is None else now) - moved
        return f"the sender made no progress for {stalled:.0f} s (stuck in a call?)" if stalled > allowed else None

    def _moving(self, then_wait: float = 0.0) -> None:
        """The sender made progress and may now wait ``then_wait`` seconds by choice."""
        self._progress = (time.monotonic(), then_wait + STUCK_S)

    def _work(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a bug: logged, and reported by problem() for as long as it lasts
            self._died = f"{type(exc).__name__}: {exc}"
            log.exception("the Slack outbox's sender thread died")

    def _loop(self) -> None:
        while True:
            self._moving(POLL_S)
            with self._cond:
                if self._stopped:
                    return
                wakes = self._wakes
            try:
                pause = self._round(wakes)
            except OperationalError as exc:  # the store is down: the queue waits in it
                log.warning("outbox cannot read the store, retrying: %s", exc.orig)
                pause = POLL_S
            if pause:
                with self._cond:
                    if self._wakes == wakes and not self._stopped:
                        self._cond.wait(pause)

    def _round(self, wakes: int) -> float:
        """Send one message if one may go; else how long to wait."""
        if not self.lock.held():
            return POLL_S  # another replica sends
        with reading(self.engine) as conn:
            rows = waiting(conn)
        if not rows:
            with self._cond:
                self._empty_at = max(self._empty_at, wakes)
                self._cond.notify_all()
            return POLL_S
        found = self._next(rows)
        if isinstance(found, float):
            return found
        row, bucket = found
        bucket.take()
        self._deliver(row)
        return 0.0

    def _count(self, method: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.slack_calls.labels(method, outcome).inc()

    def _deliver(self, row: Queued) -> None:
        backoff = 1.0
        since = row.attempted_at  # set: a post of it may have reached Slack already
        uncertain = since is not None
        extra = {"incident_id": row.incident_id}
        while not self._stopped:
            self._moving()
            method = "chat.update" if self._kind(row.key) == "update" else "chat.postMessage"
            try:
                if method == "chat.postMessage":
                    if uncertain and since is not None and self.poster.adopt(row.incident_id, row.purpose, since):
                        log.info("%s was in the channel already; editing it, not posting again", row.purpose, extra=extra)
                        self._posted.add(row.key)
                        continue
                    if since is None:
                        since = utcnow()  # wall time: it is compared with Slack's clock
                        with self.engine.begin() as conn:
                            mark_attempted(conn, row, since)
                self.poster.post(row.incident_id, row.purpose, row.message)
                self._count(method, "ok")
                self._posted.add(row.key)
                self._finish(row)
                self.sent += 1
                return
            except SlackApiError as exc:
                status = exc.response.status_code
                if status == 429:
                    self._count(method, "ratelimited")
                    wait = float(exc.response.headers.get("Retry-After", "1") or 1)
                    log.warning("slack rate limited the channel; retrying in %.0f s", wait, extra=extra)
                    self._moving(wait)
                    time.sleep(wait)
                    continue
                if status < 500:
                    self._count(method, "refused")
                    log.error("slack refused %s of %s: %s", row.purpose, row.incident_id, exc.response.get("error"), extra=extra)
                    self._finish(row)
                    return
                self._count(method, "error")
                uncertain = True  # Slack may have posted before it failed
                log.warning("slack answered %d; retrying in %.0f s", status, backoff, extra=extra)
            except OSError as exc:  # connection refused, reset, timed out
                self._count(method, "error")
                refused = isinstance(getattr(exc, "reason", exc), ConnectionRefusedError)  # urllib wraps it in URLError
                uncertain = uncertain or not refused  # a refused connection sent nothing
                log.warning("slack unreachable (%s); retrying in %.0f s", exc, backoff, extra=extra)
            except OperationalError as exc:  # the store failed around the call: Slack may hold the post
                uncertain = True
                log.warning("store unavailable while sending (%s); retrying in %.0f s", exc.orig, backoff, extra=extra)
            self._moving(backoff)
            time.sleep(backoff)
            backoff = min(backoff * 2, self.pace.max_backoff_s)

    def _finish(self, row: Queued) -> None:
        with self.engine.begin() as conn:
            done(conn, row)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until everything queued so far was delivered or dropped (tests, shutdown)."""
        with self._cond:
            self._wakes += 1
            target = self._wakes
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: self._empty_at >= target, timeout):
                raise TimeoutError(f"Slack messages still queued after {timeout}s")

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout``), then stop; what is left stays queued in
        the store for the next start."""
        if not self._thread.is_alive():  # never started: nothing to deliver or stop
            return
        try:
            self.drain(timeout)
        except TimeoutError as exc:
            log.warning("%s; they stay queued and go out at the next start", exc)
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self.lock.release()
