"""What one incident's summary is built from and checked against, read from the store.

The window runs from the first alert's start minus the lookback to the lanes' watermark
(or the resolution), as DESIGN.md's "Time" says. The events loaded are exactly what the
validators need to compute the facts of that window: the lanes' events in it, earlier
submissions still open at its start (pending), and reference prices of any lane (feed
divergence pairs a lane price with the latest reference, wherever it came from).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from bot.store.engine import reading
from bot.store.events import EventStore
from bot.store.tables import alerts, incidents
from validators.events import Event, FeedPrice, kind_of
from validators.evidence import AlertRef
from validators.facts import Window, WindowFacts, compute_facts
from validators.policy import Policy
from validators.support import Support, supporting_ids
from validators.trust import with_trust

_SECOND = timedelta(seconds=1)


class ContextError(LookupError):
    """The incident cannot be summarized (an unknown id)."""


@dataclass(frozen=True, slots=True)
class AlertText:
    """An alert as the prompt shows it: untrusted text, redacted later."""

    alert_id: str
    lane: str | None
    name: str
    status: str
    starts_at: datetime
    annotations: dict[str, str]


@dataclass(frozen=True, slots=True)
class IncidentContext:
    incident_id: str
    title: str
    status: str
    lanes: tuple[str, ...]
    window: Window
    facts: WindowFacts
    severity: str
    events: list[Event]
    """Every event loaded (for the validators); ``events_checked`` counts those in the window."""
    events_checked: int
    support: Support
    alerts: list[AlertText]
    alert_refs: dict[str, AlertRef]


def _whole_second(ts: datetime) -> datetime:
    return ts.replace(microsecond=0)


def load_context(engine: Engine, store: EventStore, policy: Policy, incident_id: str, lookback: timedelta) -> IncidentContext:
    with reading(engine) as conn:
        row = conn.execute(select(incidents).where(incidents.c.incident_id == incident_id)).mappings().first()
        if row is None:
            raise ContextError(f"no incident {incident_id!r}")
        alert_rows = conn.execute(
            select(alerts).where(alerts.c.incident_id == incident_id).order_by(alerts.c.starts_at.desc())
        ).mappings()
        texts = [
            AlertText(a["alert_id"], a["lane"], a["name"], a["status"], a["starts_at"], dict(a["annotations"]))
            for a in alert_rows
        ]
    lanes = tuple(sorted(row["lanes"]))
    start = _whole_second(row["first_alert_at"] - lookback)
    window = Window(start, _end(store, lanes, start, row["resolved_at"]))
    # Fallback lanes too: whether a reroute or pause may be suggested depends on their health.
    fallbacks = {spec.fallback for lane, spec in policy.lanes.items() if lane in lanes and spec.fallback}
    events = _events(store, tuple(sorted(set(lanes) | fallbacks)), window) if lanes else []  # no lane: no facts
    facts = with_trust(compute_facts(events, window), policy.trust)
    severity, _ = policy.severity_of([(lane, facts.lane(lane)) for lane in lanes])
    return IncidentContext(
        incident_id=incident_id,
        title=row["title"],
        status=row["status"],
        lanes=lanes,
        window=window,
        facts=facts,
        severity=severity,
        events=events,
        events_checked=sum(1 for ev in events if ev.lane in lanes and ev.ts in window),
        support=supporting_ids(events, window, lanes),
        alerts=texts,
        alert_refs={a.alert_id: AlertRef(a.lane) for a in texts},
    )


def _end(store: EventStore, lanes: tuple[str, ...], start: datetime, resolved_at: datetime | None) -> datetime:
    """The whole second after the lanes' newest event (or the resolution, if earlier). Lanes
    with no event at all: up to the resolution, so that a resolved incident's window spans it
    (a postmortem of an alert-only incident read one second before it began)."""
    marks = [ts for lane, ts in store.watermarks().items() if lane in lanes]
    newest = max(marks, default=resolved_at or start)
    if resolved_at is not None:
        newest = min(newest, resolved_at)
    return max(_whole_second(newest) + _SECOND, start + _SECOND)


def _events(store: EventStore, lanes: tuple[str, ...], window: Window) -> list[Event]:
    inside = store.between(window.start, window.end, lanes=lanes)
    earlier = [ev for ev in store.open_before(window.start) if ev.lane in lanes]
    seen = {ev.event_id for ev in inside}
    references = [
        ev
        for ev in store.between(window.start - (window.end - window.start), window.end, kinds=[kind_of(FeedPrice)])
        if ev.source == "reference" and ev.event_id not in seen  # type: ignore[union-attr]
    ]
    return earlier + references + inside
