"""A poster that records the Slack Web API calls the bot would make, instead of making
them: replays and offline drills show the channel as it would read, and write the calls
(``[{"method", "args"}]``) for anyone to check."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.slack.blocks import CARD, Message
from validators.rules import stamp


@dataclass
class Transcript:
    channel: str = "#lanekeeper"
    clock: Callable[[], datetime] | None = None
    """When set, each call records the time it was made at (event time in replays)."""
    calls: list[dict[str, Any]] = field(default_factory=list)
    _posted: dict[tuple[str, str], str] = field(default_factory=dict)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def post(self, incident_id: str, purpose: str, message: Message) -> None:
        """As the Slack poster does: the card at the top, everything else in its thread."""
        with self._lock:
            ts = self._posted.get((incident_id, purpose))
            args: dict[str, Any] = {"channel": self.channel, "text": message.text, "blocks": message.blocks}
            parent = None if purpose == CARD else self._posted.get((incident_id, CARD))
            if parent is not None and ts is None:
                args |= {"thread_ts": parent, "reply_broadcast": message.broadcast}
            at = {"at": stamp(self.clock())} if self.clock else {}
            if ts is None:
                ts = self._posted[(incident_id, purpose)] = f"1700000000.{next(self._ts):06d}"
                self.calls.append({"method": "chat.postMessage", "args": args, "ts": ts, "incident_id": incident_id, **at})
            else:
                self.calls.append(
                    {"method": "chat.update", "args": {**args, "ts": ts}, "ts": ts, "incident_id": incident_id, **at}
                )

    def is_posted(self, incident_id: str, purpose: str) -> bool:
        with self._lock:
            return (incident_id, purpose) in self._posted

    def adopt(self, incident_id: str, purpose: str, since: datetime) -> bool:
        """A transcript records every post it took: one it does not know was never made."""
        return self.is_posted(incident_id, purpose)
