"""Request bodies within a bounded size and time: a sender that declares too much is refused
before anything is read, one that streams too much is cut off at the limit, and one that
sends too slowly is cut off at its deadline.

The deadline is Apache's ``mod_reqtimeout`` rule: a body may take ``timeout_s`` plus one
second per ``min_rate`` bytes received, so a sender keeping up the rate is never cut and a
trickling one (1,100 of them held /healthz and /events down for 40 s, each forever) is
answered 408 and its connection closed within ``timeout_s`` of falling behind. uvicorn's
``timeout_keep_alive`` only covers idle time between requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from fastapi import Request


class BodyTooLarge(ValueError):
    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(f"request body over {limit} bytes ({setting}); send it in smaller parts")


class BodyTooSlow(TimeoutError):
    def __init__(self, pace: BodyPace, received: int) -> None:
        super().__init__(
            f"request body too slow: {received} bytes, behind {pace.timeout_s:g} s plus 1 s per {pace.min_rate} bytes "
            "(LANEKEEPER_BODY_TIMEOUT, LANEKEEPER_BODY_MIN_RATE); nothing after the last commit was acknowledged"
        )


@dataclass(frozen=True, slots=True)
class BodyPace:
    """How slowly a body may arrive (see the module's docstring)."""

    timeout_s: float = 10.0
    min_rate: int = 16 << 10
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    def remaining(self, started: float, received: int) -> float:
        """Seconds left for the rest of a body begun at ``started`` with ``received`` bytes in."""
        return started + self.timeout_s + received / self.min_rate - self.clock()


async def stream_body(
    request: Request, limit: int, pace: BodyPace, setting: str = "LANEKEEPER_MAX_BODY_BYTES"
) -> AsyncIterator[bytes]:
    """``setting`` names the limit in the 413's message, so a sender knows what to change."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit, setting)
    started, seen = pace.clock(), 0
    chunks = request.stream()
    try:
        while True:
            left = pace.remaining(started, seen)
            if left <= 0:
                raise BodyTooSlow(pace, seen)
            try:
                chunk = await asyncio.wait_for(anext(chunks), left)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise BodyTooSlow(pace, seen) from None
            if pace.remaining(started, seen) <= 0:  # arrived, but only after its deadline
                raise BodyTooSlow(pace, seen)
            seen += len(chunk)
            if seen > limit:
                raise BodyTooLarge(limit, setting)
            if chunk:
                yield chunk
    finally:
        await chunks.aclose()


async def read_body(request: Request, limit: int, pace: BodyPace, setting: str) -> bytes:
    return b"".join([chunk async for chunk in stream_body(request, limit, pace, setting)])
