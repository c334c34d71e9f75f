"""How fast the response was, from what was stored: the figures a postmortem reports and
the only durations, beside the facts, that its narrative may state.

Detection is per lane, from the lane's first trouble in the window (a failed settlement or
canary) to its first alert; acknowledgement, mitigation and resolution are the
incident's, from its first alert. A step that never happened is None, never zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.postmortem.record import IncidentRecord
from validators.events import CanaryResult, SettlementFailed
from validators.facts import Unit
from validators.grounding import Quantity

MITIGATING = frozenset({"incident.mitigated", "action.executed"})


@dataclass(frozen=True, slots=True)
class Detection:
    lane: str
    trouble_at: datetime | None
    """The lane's first failed settlement or canary in the window."""
    alerted_at: datetime | None
    """Its first alert (the incident's first, when no alert names the lane)."""

    @property
    def seconds(self) -> float | None:
        if self.trouble_at is None or self.alerted_at is None:
            return None
        return max((self.alerted_at - self.trouble_at).total_seconds(), 0.0)


@dataclass(frozen=True, slots=True)
class ResponseTimes:
    detection: tuple[Detection, ...]
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    since: datetime
    """The incident's first alert: what acknowledge, mitigate and resolve count from."""

    def after(self, at: datetime | None) -> float | None:
        return None if at is None else max((at - self.since).total_seconds(), 0.0)

    def steps(self) -> list[tuple[str, float | None]]:
        return [
            ("acknowledge", self.after(self.acknowledged_at)),
            ("mitigate", self.after(self.mitigated_at)),
            ("resolve", self.after(self.resolved_at)),
        ]

    def quantities(self) -> list[Quantity]:
        """What the narrative may say of them, in seconds (the validators read minutes too)."""
        named = [(f"detect on {d.lane}", d.seconds) for d in self.detection] + self.steps()
        return [Quantity(s, Unit.SECONDS, f"time to {step}") for step, s in named if s is not None]


def response_times(record: IncidentRecord) -> ResponseTimes:
    context = record.context
    first_trouble: dict[str, datetime] = {}
    for event in context.events:
        troubled = isinstance(event, SettlementFailed) or (isinstance(event, CanaryResult) and not event.ok)
        if troubled and event.ts in context.window and event.lane in context.lanes:
            first_trouble[event.lane] = min(event.ts, first_trouble.get(event.lane, event.ts))
    detection = tuple(
        Detection(
            lane,
            first_trouble.get(lane),
            min((a.starts_at for a in record.alerts if a.lane == lane), default=record.first_alert_at),
        )
        for lane in context.lanes
    )
    mitigated = min((e.at for e in record.entries if e.kind in MITIGATING), default=None)
    return ResponseTimes(detection, record.acked_at, mitigated, record.resolved_at, record.first_alert_at)
