"""The bot's clock, on the ground floor: every part that needs "now" takes a ``Clock``, so
replays and drills run in event time and tests in a time of their choosing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)
