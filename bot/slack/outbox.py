"""Every message the bot writes goes through one outbox per channel.

Slack allows about one message per second per channel and answers 429 with Retry-After
beyond that. The outbox sends in order, spends a small burst allowance and then about one
call a second, waits out a 429's Retry-After and tries the same message again, and
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
    burst: int = 4
    per_second: float = 1.0
    max_backoff_s: float = 30.0


class Outbox:
    def __init__(self, poster: Poster, pace: Pace | None = None) -> None:
        self.poster = poster
        self.pace = pace or Pace()
        self._pending: OrderedDict[Key, Message] = OrderedDict()
        self._cond = threading.Condition()
        self._tokens = float(self.pace.burst)
        self._refilled = time.monotonic()
        self._sending = 0
        self._stopped = False
        self.sent = 0
        self._thread = threading.Thread(target=self._work, name="slack-outbox", daemon=True)
        self._thread.start()

    def send(self, incident_id: str, purpose: str, message: Message) -> None:
        """Queue ``message`` as the latest version of (incident, purpose); returns at once."""
        with self._cond:
            self._pending[(incident_id, purpose)] = message  # a waiting older version is replaced in place
            self._cond.notify()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopped:
                    self._cond.wait()
                if self._stopped and not self._pending:
                    return
                key, message = self._pending.popitem(last=False)
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
            self._take_token()
            try:
                self.poster.post(key[0], key[1], message)
                self.sent += 1
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

    def _take_token(self) -> None:
        """A token bucket: ``burst`` calls at once, then ``per_second``."""
        while True:
            now = time.monotonic()
            self._tokens = min(self.pace.burst, self._tokens + (now - self._refilled) * self.pace.per_second)
            self._refilled = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            time.sleep((1 - self._tokens) / self.pace.per_second)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until everything queued was delivered or dropped (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._sending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self._pending)} Slack messages still queued after {timeout}s")
                self._cond.wait(timeout=min(left, 0.05))

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
