"""What the validators know of the ids a proposal cites: the events (collected while the
stream passes, so no event is held) and the incident's alerts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from validators.events import CanaryResult, Event


@dataclass(frozen=True, slots=True)
class EventRef:
    lane: str
    ts: datetime
    kind: str
    ok: bool | None = None
    """For a canary: whether it passed (a passing canary cannot show a failure)."""
    settlement_id: str | None = None


@dataclass(frozen=True, slots=True)
class AlertRef:
    lane: str | None


@dataclass(frozen=True, slots=True)
class Evidence:
    events: Mapping[str, EventRef] = field(default_factory=dict)
    alerts: Mapping[str, AlertRef] = field(default_factory=dict)


def event_refs(events: Iterable[Event], wanted: set[str]) -> dict[str, EventRef]:
    """The cited events among ``events`` (call per chunk; merge the dicts)."""
    found = {}
    for ev in events:
        if ev.event_id in wanted:
            ok = ev.ok if isinstance(ev, CanaryResult) else None
            found[ev.event_id] = EventRef(ev.lane, ev.ts, ev.kind, ok, getattr(ev, "settlement_id", None))
    return found
