"""What a postmortem is written from, read from the store in one place.

Only reads: the incident's row, alerts, timeline, actions with their votes and the
validated summaries, and the facts of the incident's window computed exactly as its
summaries were (``load_context``), so the draft and the thread tell the same figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from bot.actions import records
from bot.actions.model import ActionState
from bot.incidents.engine import IncidentError
from bot.store.engine import reading
from bot.store.events import EventStore
from bot.store.tables import actions, alerts, incidents, llm_calls, timeline
from bot.summarize.context import IncidentContext, load_context
from validators.policy import Policy


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    name: str
    lane: str | None
    status: str
    starts_at: datetime
    ends_at: datetime | None
    severity: str = "warning"
    summary: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    """One timeline entry as stored: who did what, when."""

    at: datetime
    kind: str
    actor: str | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Taken:
    """An action of the incident, what became of it, and every vote on it."""

    state: ActionState
    suggested_at: datetime
    decided_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class Summary:
    """A summary the validators passed, as it was posted (headline and claim texts)."""

    at: datetime
    headline: str
    claims: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    incident_id: str
    number: int
    title: str
    status: str
    severity: str | None
    opened_at: datetime
    first_alert_at: datetime
    acked_at: datetime | None
    acked_by: str | None
    resolved_at: datetime | None
    alerts: tuple[Alert, ...]
    entries: tuple[Entry, ...]
    actions: tuple[Taken, ...]
    summaries: tuple[Summary, ...]
    context: IncidentContext


def load_record(engine: Engine, policy: Policy, incident_id: str, lookback: timedelta) -> IncidentRecord:
    """``IncidentError`` when there is no such incident."""
    with reading(engine) as conn:
        row = conn.execute(select(incidents).where(incidents.c.incident_id == incident_id)).mappings().first()
        if row is None:
            raise IncidentError(f"no incident {incident_id}")
        alert_rows = conn.execute(select(alerts).where(alerts.c.incident_id == incident_id).order_by(alerts.c.starts_at))
        found = tuple(
            Alert(
                a.alert_id,
                a.name,
                a.lane,
                a.status,
                a.starts_at,
                a.ends_at,
                str(a.labels.get("severity", "warning")),
                str(a.annotations.get("summary", "")),
            )
            for a in alert_rows
        )
        entry_rows = conn.execute(
            select(timeline).where(timeline.c.incident_id == incident_id).order_by(timeline.c.at, timeline.c.entry_id)
        )
        entries = tuple(Entry(e.at, e.kind, e.actor, dict(e.detail)) for e in entry_rows)
        taken = _actions(conn, incident_id)
        validated = conn.execute(
            select(llm_calls.c.created_at, llm_calls.c.raw_output)
            .where(llm_calls.c.incident_id == incident_id, llm_calls.c.outcome == "validated")
            .order_by(llm_calls.c.call_id)
        ).all()
    context = load_context(engine, EventStore(engine), policy, incident_id, lookback)
    return IncidentRecord(
        incident_id=incident_id,
        number=row["number"],
        title=row["title"],
        status=row["status"],
        severity=row["severity"],
        opened_at=row["opened_at"],
        first_alert_at=row["first_alert_at"],
        acked_at=row["acked_at"],
        acked_by=row["acked_by"],
        resolved_at=row["resolved_at"],
        alerts=found,
        entries=entries,
        actions=taken,
        summaries=tuple(s for s in (_summary(v.created_at, v.raw_output) for v in validated) if s is not None),
        context=context,
    )


def _actions(conn: Any, incident_id: str) -> tuple[Taken, ...]:
    rows = conn.execute(
        select(actions.c.action_id, actions.c.created_at, actions.c.decided_at, actions.c.finished_at)
        .where(actions.c.incident_id == incident_id)
        .order_by(actions.c.created_at)
    ).all()
    return tuple(Taken(records.load(conn, r.action_id), r.created_at, r.decided_at, r.finished_at) for r in rows)


def _summary(at: datetime, raw: str | None) -> Summary | None:
    """The validated answer as the audit trail kept it (it passed the validators then)."""
    try:
        doc = json.loads(raw or "")
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("headline"), str):
        return None
    claims = tuple(str(c.get("text", "")) for c in doc.get("claims", []) if isinstance(c, dict))
    return Summary(at, doc["headline"], claims)
