"""Executing an approved action: ``LANEKEEPER_ACTION_WEBHOOK``, called once, signed, with
an idempotency key; or nobody, when the runbook (or a drill) is how it is done.

The outcome says only what is known. A 2xx answer: executed. A request that never left
(connection refused) or an answer that refuses it (3xx, 4xx): failed, nothing was done.
Anything else (a timeout, a connection lost after sending, a 5xx from a receiver that broke
mid-way) may or may not have acted: unknown, and the people are told to check the target
before acting, never to act again by hand.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx

from bot.actions.model import UNKNOWN_OUTCOME, ActionState

log = logging.getLogger(__name__)
IDEMPOTENCY_HEADER = "Idempotency-Key"
CONNECT_S = 3.0
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
"""Transport errors raised before any byte of the request reached the receiver."""


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Literal["executed", "failed", "unknown"]
    text: str


class Executor(Protocol):
    @property
    def handoff(self) -> str | None:
        """The outcome recorded at approval when nothing is called (runbook, drill); None
        when ``call`` executes the action."""

    @property
    def longest_s(self) -> float:
        """The longest a call can take: past it, an action still executing was cut short."""

    def call(self, action: ActionState) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class NoExecution:
    """Approval is the end of the bot's part: a person executes per runbook, or it is a drill."""

    handoff: str
    longest_s: float = 0.0

    def call(self, action: ActionState) -> Outcome:
        raise AssertionError(f"{action.action_id}: nothing is called when the outcome is {self.handoff!r}")


RUNBOOK = NoExecution("approved: no action webhook is configured, execute it per runbook")
EXERCISE = NoExecution("approved: EXERCISE, nothing executes")


def sign(body: bytes, secret: str, now: float | None = None) -> dict[str, str]:
    """``X-Lanekeeper-Timestamp`` and ``X-Lanekeeper-Signature: sha256=HMAC(secret, "ts.body")``."""
    stamp = str(int(now if now is not None else time.time()))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Lanekeeper-Timestamp": stamp, "X-Lanekeeper-Signature": f"sha256={digest}"}


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    secret: str
    timeout_s: float
    handoff: None = None

    @property
    def longest_s(self) -> float:
        """The call has one deadline for everything (``timeout_s``); a second more for
        tearing the connection down."""
        return self.timeout_s + 1.0

    def call(self, action: ActionState) -> Outcome:
        """One request, never retried: the receiver deduplicates on the idempotency key if a
        person sends it again after checking."""
        body = json.dumps(
            {
                "action_id": action.action_id,
                "idempotency_key": action.action_id,
                "incident_id": action.incident_id,
                "kind": action.kind,
                "lane": action.lane,
                "approved_by": action.approved_by,
            }
        ).encode()
        headers = {"content-type": "application/json", IDEMPOTENCY_HEADER: action.action_id, **sign(body, self.secret)}
        return asyncio.run(self._send(action, body, headers))

    async def _send(self, action: ActionState, body: bytes, headers: dict[str, str]) -> Outcome:
        # One deadline for the whole call: httpx's timeouts bound each read, so a receiver that
        # trickles its answer could hold the call past ``longest_s``, after which another
        # replica says it was cut short. Connecting gets less, so "nothing was sent" is told
        # apart from "no answer". The answer is streamed and closed unread: its status says
        # what became of the call, and a huge or undecodable body cannot lose it.
        phases = httpx.Timeout(self.timeout_s, connect=min(CONNECT_S, self.timeout_s / 2))
        code: int | None = None
        try:
            async with (
                httpx.AsyncClient(timeout=phases) as client,  # outside the deadline: it builds a TLS context
                asyncio.timeout(self.timeout_s),
                client.stream("POST", self.url, content=body, headers=headers) as answer,
            ):
                code = answer.status_code
        except NOT_SENT as exc:
            return Outcome("failed", f"failed: the action webhook could not be reached ({type(exc).__name__}); nothing was sent")
        except (httpx.HTTPError, TimeoutError) as exc:  # sent, then the answer was lost, late or garbled: it may have acted
            if code is None:  # (a deadline that struck while the connection closed changes nothing)
                why = f"no answer within {self.timeout_s:g} s" if isinstance(exc, TimeoutError) else type(exc).__name__
                log.error("action webhook: %s after sending %s", why, action.action_id)
                return Outcome("unknown", f"{UNKNOWN_OUTCOME} (the webhook's answer was lost: {why})")
        if 200 <= code < 300:
            return Outcome("executed", f"executed: the action webhook answered {code}")
        if code < 500:
            return Outcome("failed", f"failed: the action webhook answered {code}; it did not act")
        return Outcome("unknown", f"{UNKNOWN_OUTCOME} (the webhook answered {code})")
