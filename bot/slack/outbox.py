"""Every message the bot writes goes through one outbox per channel.

Slack allows about one new message per second per channel (with short bursts) and about
50 edits a minute, and answers 429 with Retry-After beyond that. The outbox paces each kind
of call on its own (so a backlog of edits never holds up a new incident's card), sends in
order within a kind, waits out a 429's Retry-After and tries the same message again, and
coalesces: a newer version of a message still waiting (an incident card updated twice)
replaces the waiting one instead of queueing a second call. Transient failures (5xx,
connection errors) are retried with backoff; a refusal (``ok: false``, e.g.
``channel_not_found``) is logged and dropped, since retrying cannot fix it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot.slack.blocks import Message
from bot.slack.poster import Poster

log = logging.getLogger(__name__)
Key = tuple[str, str]  # (incident, purpose)


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
    def __init__(self, poster: Poster, pace: Pace | None = None) -> None:
        self.poster = poster
        self.pace = pace = pace or Pace()
        self._buckets = {
            "post": Bucket(pace.post_burst, pace.posts_per_second),
            "update": Bucket(pace.update_burst, pace.updates_per_second),
        }
        self._pending: OrderedDict[Key, Message] = OrderedDict()
        self._posted: set[Key] = set()  # keys known to have a message (their next call is an update)
        self._cond = threading.Condition()
        self._sending = 0
        self._stopped = False
        self.sent = 0
        self._thread = threading.Thread(target=self._work, name="slack-outbox", daemon=True)
        self._thread.start()

    def send(self, incident_id: str, purpose: str, message: Message) -> None:
        """Queue ``message`` as the latest version of (incident, purpose); returns at once."""
        with self._cond:
            self._pending[(incident_id, purpose)] = message  # a waiting older version is replaced in place
            self._cond.notify_all()  # the worker and any drain() waiting

    def _kind(self, key: Key) -> str:
        if key not in self._posted and self.poster.is_posted(*key):
            self._posted.add(key)
        return "update" if key in self._posted else "post"

    def _next(self) -> tuple[Key, Message, Bucket] | float:
        """The first waiting message whose kind of call may go now (new messages are not held
        up by a backlog of edits), else how long until one may."""
        soonest = float("inf")
        for key in self._pending:
            bucket = self._buckets[self._kind(key)]
            wait = bucket.wait()
            if wait == 0:
                return key, self._pending.pop(key), bucket
            soonest = min(soonest, wait)
        return soonest

    def _work(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopped and not self._pending:
                        return
                    found = self._next() if self._pending else None
                    if isinstance(found, tuple):
                        break
                    self._cond.wait(timeout=found)
                key, message, bucket = found
                bucket.take()
                self._sending += 1
            try:
                self._deliver(key, message)
            finally:
                with self._cond:
                    self._sending -= 1
                    self._cond.notify_all()

    def _deliver(self, key: Key, message: Message) -> None:
        backoff = 1.0
        while True:
            try:
                self.poster.post(key[0], key[1], message)
                self.sent += 1
                with self._cond:
                    self._posted.add(key)
                return
            except SlackApiError as exc:
                status = exc.response.status_code
                if status == 429:
                    wait = float(exc.response.headers.get("Retry-After", "1") or 1)
                    log.warning("slack rate limited the channel; retrying in %.0f s", wait, extra={"incident_id": key[0]})
                    time.sleep(wait)
                    continue
                if status < 500:
                    log.error(
                        "slack refused %s of %s: %s", key[1], key[0], exc.response.get("error"), extra={"incident_id": key[0]}
                    )
                    return
                log.warning("slack answered %d; retrying in %.0f s", status, backoff, extra={"incident_id": key[0]})
            except OSError as exc:  # connection refused, reset, timed out
                log.warning("slack unreachable (%s); retrying in %.0f s", exc, backoff, extra={"incident_id": key[0]})
            time.sleep(backoff)
            backoff = min(backoff * 2, self.pace.max_backoff_s)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until everything queued was delivered or dropped (tests, shutdown)."""
        with self._cond:
            if not self._cond.wait_for(lambda: not (self._pending or self._sending), timeout):
                raise TimeoutError(f"{len(self._pending)} Slack messages still queued after {timeout}s")

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout``), then stop."""
        try:
            self.drain(timeout)
        except TimeoutError as exc:
            log.error("%s; they are lost with this process", exc)
        with self._cond:
            self._stopped = True
            self._pending.clear()
            self._cond.notify_all()
        self._thread.join(timeout=5)
