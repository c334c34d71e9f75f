"""The one way an entry lands on an incident's timeline, whoever writes it (the incident
engine, the summary loop, actions): inside the caller's transaction, so an entry exists
exactly when the change it records was committed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from bot.store.tables import timeline


def record(
    conn: Connection, incident_id: str, at: datetime, kind: str, *, actor: str | None, detail: dict[str, Any] | None = None
) -> None:
    conn.execute(insert(timeline).values(incident_id=incident_id, at=at, kind=kind, actor=actor, detail=detail or {}))
