"""What people do to incidents from Slack or the CLI, in one narrow place: look them up,
acknowledge, resolve. Commands get this, not the whole bot."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from bot.incidents.engine import IncidentEngine
from bot.incidents.views import IncidentDetail, IncidentSummary, list_incidents, show_incident


@dataclass(frozen=True, slots=True)
class Desk:
    engine: Engine
    incidents: IncidentEngine

    def list(self, status: str | None, limit: int) -> list[IncidentSummary]:
        return list_incidents(self.engine, status, limit)

    def show(self, incident_id: str) -> IncidentDetail:
        return show_incident(self.engine, incident_id)

    def ack(self, incident_id: str, user_id: str) -> None:
        self.incidents.ack(incident_id, user_id)

    def resolve(self, incident_id: str, user_id: str) -> None:
        self.incidents.set_status(incident_id, "resolved", user_id)
