"""Read-only views of incidents for the CLI, the HTTP API and (later) Slack."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, case, func, select

from bot.incidents.engine import IncidentError
from bot.store.engine import reading
from bot.store.tables import alerts, incidents, llm_calls, timeline
from validators.rules import stamp

MAX_LISTED = 10_000
"""The most incidents one listing returns (HTTP ``limit`` and ``lanekeeper incidents --limit``):
bounded so a number past SQLite's 64 bits is refused in words, not by the driver."""


@dataclass(frozen=True, slots=True)
class IncidentSummary:
    incident_id: str
    number: int
    status: str
    title: str
    lanes: list[str]
    severity: str | None
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    acked_by: str | None
    alerts_firing: int
    alerts_total: int

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = _jsonable(asdict(self))
        return doc


@dataclass(frozen=True, slots=True)
class IncidentDetail:
    summary: IncidentSummary
    alerts: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    attempts: list[dict[str, Any]]
    """The LLM calls made for it (the audit trail), without the prompt and raw output."""

    def as_json(self) -> dict[str, Any]:
        return {
            **self.summary.as_json(),
            "alerts": _jsonable(self.alerts),
            "timeline": _jsonable(self.timeline),
            "llm_attempts": _jsonable(self.attempts),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return stamp(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _summaries(engine: Engine, where: Any, limit: int) -> list[IncidentSummary]:
    firing = func.sum(case((alerts.c.status == "firing", 1), else_=0))
    counts = (
        select(alerts.c.incident_id, firing.label("firing"), func.count().label("total"))
        .group_by(alerts.c.incident_id)
        .subquery()
    )
    query = (
        select(incidents, func.coalesce(counts.c.firing, 0).label("firing"), func.coalesce(counts.c.total, 0).label("total"))
        .select_from(incidents.outerjoin(counts, counts.c.incident_id == incidents.c.incident_id))
        .where(where)
        .order_by(incidents.c.opened_at.desc(), incidents.c.incident_id.desc())
        .limit(limit)
    )
    with reading(engine) as conn:
        rows = conn.execute(query).mappings().all()
    return [
        IncidentSummary(
            incident_id=r["incident_id"],
            number=r["number"],
            status=r["status"],
            title=r["title"],
            lanes=list(r["lanes"]),
            severity=r["severity"],
            opened_at=r["opened_at"],
            updated_at=r["updated_at"],
            resolved_at=r["resolved_at"],
            acked_by=r["acked_by"],
            alerts_firing=int(r["firing"]),
            alerts_total=int(r["total"]),
        )
        for r in rows
    ]


def list_incidents(engine: Engine, status: str | None = None, limit: int = 50) -> list[IncidentSummary]:
    """Newest first; ``status`` filters (``open`` also lists mitigated ones: both are live)."""
    if status is None:
        where: Any = True
    elif status == "open":
        where = incidents.c.status != "resolved"
    else:
        where = incidents.c.status == status
    return _summaries(engine, where, limit)


def show_incident(engine: Engine, incident_id: str) -> IncidentDetail:
    found = _summaries(engine, incidents.c.incident_id == incident_id, 1)
    if not found:
        raise IncidentError(f"no incident {incident_id}")
    alert_columns = (alerts.c.alert_id, alerts.c.name, alerts.c.lane, alerts.c.status, alerts.c.starts_at, alerts.c.ends_at)
    with reading(engine) as conn:
        alert_rows = conn.execute(
            select(*alert_columns, alerts.c.inhibited, alerts.c.source, alerts.c.received, alerts.c.labels, alerts.c.annotations)
            .where(alerts.c.incident_id == incident_id)
            .order_by(alerts.c.starts_at)
        ).mappings()
        entries = conn.execute(
            select(timeline.c.at, timeline.c.kind, timeline.c.actor, timeline.c.detail)
            .where(timeline.c.incident_id == incident_id)
            .order_by(timeline.c.entry_id)
        ).mappings()
        attempt_columns = (llm_calls.c.call_id, llm_calls.c.attempt, llm_calls.c.outcome, llm_calls.c.model)
        attempts = conn.execute(
            select(
                *attempt_columns,
                llm_calls.c.template_version,
                llm_calls.c.template_sha256,
                llm_calls.c.latency_ms,
                llm_calls.c.prompt_tokens,
                llm_calls.c.completion_tokens,
                llm_calls.c.report,
                llm_calls.c.created_at,
            )
            .where(llm_calls.c.incident_id == incident_id)
            .order_by(llm_calls.c.call_id)
        ).mappings()
        return IncidentDetail(found[0], [dict(r) for r in alert_rows], [dict(r) for r in entries], [dict(r) for r in attempts])


def newest_open_incident(engine: Engine, lane: str | None = None) -> str | None:
    """The most recently opened unresolved incident (on ``lane``, if given)."""
    with reading(engine) as conn:
        rows = conn.execute(
            select(incidents.c.incident_id, incidents.c.lanes)
            .where(incidents.c.status != "resolved")
            .order_by(incidents.c.opened_at.desc())
        ).all()
    return next((row.incident_id for row in rows if lane is None or lane in row.lanes), None)


def open_count(engine: Engine) -> int:
    with reading(engine) as conn:
        return int(conn.scalar(select(func.count()).select_from(incidents).where(incidents.c.status != "resolved")) or 0)
