"""What an incident's card shows, as data kept with the incident.

The figures are computed where the events are (live status when the incident opens, the
incident's own window in the summary process); the card is drawn from this data, the
incident's row and its timeline by whoever changes any of them (an acknowledgement, a
resolution, a new summary), so every version of the card tells the same story the same
way. A severity that changes is recorded on the timeline here, where it is noticed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy import Connection, select, update

from bot.incidents.timeline import record
from bot.store.tables import incidents
from validators.facts import LaneFacts, Window
from validators.policy import Breach, Policy
from validators.trust import trust


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Threshold(_Data):
    """A policy threshold met on a lane (a severity level's, or the health one's)."""

    lane: str
    fact: str
    value: float
    threshold: float

    @classmethod
    def of(cls, breach: Breach) -> Threshold:
        return cls(lane=breach.lane, fact=breach.fact, value=breach.value, threshold=breach.threshold)


class LaneFigures(_Data):
    lane: str
    facts: dict[str, float | None]
    newest: AwareDatetime | None
    """The lane's newest event time seen (None: no event ever)."""
    breaches: tuple[Threshold, ...] = ()
    """Why the lane is not within the policy's health thresholds (empty: it is)."""
    trust: str | None = None
    """Its trust score with the main reason (``trust 62: feed divergence 48 bps``)."""


class Figures(_Data):
    source: Literal["live", "window"]
    """Live status (the sliding window) or the incident's own window from the store."""
    start: AwareDatetime
    end: AwareDatetime
    events: int
    lanes: tuple[LaneFigures, ...]
    severity: str
    reasons: tuple[Threshold, ...]
    """The thresholds that set the severity (empty: no level met)."""
    note: str | None = None
    """Why there are no figures, when the source could not give them."""


class Claim(_Data):
    lane: str
    fact: str
    value: float | None
    """Computed from the events, never the model's figure."""
    text: str


class Suggested(_Data):
    kind: str
    lane: str
    reason: str
    decided: str | None = None
    """What became of the same action people decided earlier in the incident (not asked again)."""


class Summary(_Data):
    headline: str
    claims: tuple[Claim, ...]
    actions: tuple[Suggested, ...]


AiState = Literal["pending", "validated", "withheld", "off"]


class CardData(_Data):
    figures: Figures
    ai: AiState
    summary: Summary | None = None
    withheld: str | None = None
    """Why no AI summary is shown, when ``ai`` is withheld."""


def lane_figures(lane: str, facts: LaneFacts, newest: datetime | None, policy: Policy) -> LaneFigures:
    breaches = tuple(Threshold.of(b) for b in policy.unhealthy_because(lane, facts))
    score = str(trust(facts, policy.trust, lane))
    return LaneFigures(lane=lane, facts=facts.as_dict(), newest=newest, breaches=breaches, trust=score)


def figures(
    source: Literal["live", "window"],
    window: Window,
    events: int,
    lanes: list[tuple[str, LaneFacts, datetime | None]],
    policy: Policy,
) -> Figures:
    severity, reasons = policy.severity_of([(lane, facts) for lane, facts, _ in lanes])
    return Figures(
        source=source,
        start=window.start,
        end=window.end,
        events=events,
        lanes=tuple(lane_figures(lane, facts, newest, policy) for lane, facts, newest in lanes),
        severity=severity,
        reasons=tuple(Threshold.of(b) for b in reasons),
    )


def load(conn: Connection, incident_id: str) -> CardData | None:
    raw = conn.scalar(select(incidents.c.card).where(incidents.c.incident_id == incident_id))
    return None if raw is None else CardData.model_validate(raw)


def store(conn: Connection, incident_id: str, card: CardData, now: datetime, *, actor: str | None = "lanekeeper") -> None:
    """Keep ``card`` as the incident's and its severity; a changed severity goes on the
    timeline (and so into the thread, told to the channel). The row is locked first, so a
    concurrent acknowledgement and summary draw the card one after the other."""
    previous = conn.execute(
        select(incidents.c.severity, incidents.c.card).where(incidents.c.incident_id == incident_id).with_for_update()
    ).first()
    values: dict[str, Any] = {"card": card.model_dump(mode="json"), "severity": card.figures.severity}
    conn.execute(update(incidents).where(incidents.c.incident_id == incident_id).values(**values))
    before = previous.severity if previous is not None and previous.card is not None else None
    if before is not None and before != card.figures.severity:
        reasons = [r.model_dump() for r in card.figures.reasons]
        detail = {"from": before, "to": card.figures.severity, "reasons": reasons}
        record(conn, incident_id, now, "incident.severity", actor=actor, detail=detail)
