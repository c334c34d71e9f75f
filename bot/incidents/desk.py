"""What people do to incidents from Slack or the CLI, in one narrow place: find one by the
number they type (``#7``) or its id, acknowledge, note, escalate, resolve. Commands and
buttons get this, not the whole bot; every change is followed by ``changed`` (the card is
drawn again)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, select

from bot.clock import Clock
from bot.incidents.engine import IncidentEngine, IncidentError
from bot.incidents.views import IncidentDetail, IncidentSummary, list_incidents, show_incident
from bot.store.engine import reading
from bot.store.events import EventStore
from bot.store.tables import incidents
from validators.events import CanaryResult, SettlementFailed, kind_of
from validators.facts import Window, compute_facts
from validators.policy import Policy

_NUMBER = re.compile(r"#?(\d{1,9})")
NOTE_MAX = 2000


def incident_ref(engine: Engine, ref: str) -> str:
    """The incident id for ``#7``, ``7`` or ``inc-20260302-0007``; ``IncidentError`` naming
    what was typed when there is none."""
    number = _NUMBER.fullmatch(ref)
    where = incidents.c.number == int(number.group(1)) if number else incidents.c.incident_id == ref
    with reading(engine) as conn:
        found = conn.scalar(select(incidents.c.incident_id).where(where))
    if found is None:
        raise IncidentError(f"no incident {ref}")
    return str(found)


@dataclass(frozen=True, slots=True)
class Desk:
    engine: Engine
    incidents: IncidentEngine
    events: EventStore
    policy: Policy
    clock: Clock
    changed: Callable[[str], None] = lambda _: None

    def find(self, ref: str) -> str:
        return incident_ref(self.engine, ref)

    def number(self, incident_id: str) -> int:
        with reading(self.engine) as conn:
            return int(conn.scalar(select(incidents.c.number).where(incidents.c.incident_id == incident_id)) or 0)

    def list(self, status: str | None, limit: int) -> list[IncidentSummary]:
        return list_incidents(self.engine, status, limit)

    def show(self, ref: str) -> IncidentDetail:
        return show_incident(self.engine, self.find(ref))

    def ack(self, ref: str, user_id: str) -> str:
        incident_id = self.find(ref)
        self.incidents.ack(incident_id, user_id)
        self.changed(incident_id)
        return incident_id

    def note(self, ref: str, user_id: str, text: str) -> str:
        incident_id = self.find(ref)
        if not text.strip():
            raise IncidentError("a note needs some text: `/incident note #7 what you saw`")
        self.incidents.note(incident_id, user_id, text.strip()[:NOTE_MAX])
        return incident_id

    def escalate(self, ref: str, user_id: str) -> str:
        """To the policy's approvers (users and user groups): the on-call who decide."""
        incident_id = self.find(ref)
        self.incidents.escalate(incident_id, user_id, list(self.policy.approvers))
        self.changed(incident_id)
        return incident_id

    def resolve(self, ref: str, user_id: str) -> str:
        """Refused while a lane of the incident had a failed settlement or canary within the
        policy's quiet time (``resolved_quiet_s``): saying resolved then would be untrue."""
        incident_id = self.find(ref)
        self._quiet(incident_id)
        self.incidents.set_status(incident_id, "resolved", user_id)
        self.changed(incident_id)
        return incident_id

    def _quiet(self, incident_id: str) -> None:
        with reading(self.engine) as conn:
            lanes = list(conn.scalar(select(incidents.c.lanes).where(incidents.c.incident_id == incident_id)) or [])
        quiet = self.policy.resolved_quiet_s
        end = self.clock() + timedelta(microseconds=1)
        window = Window(end - timedelta(seconds=quiet), end)
        kinds = [kind_of(SettlementFailed), kind_of(CanaryResult)]
        found = compute_facts(self.events.between(window.start, window.end, lanes=lanes, kinds=kinds), window).last_trouble
        if found:
            lane, last = max(found.items(), key=lambda item: item[1])
            wait = quiet - (end - last).total_seconds()
            raise IncidentError(
                f"#{self.number(incident_id)} cannot be resolved yet: {lane} had a failed settlement or canary at "
                f"{last:%H:%M:%S} UTC, within the policy's quiet time of {quiet:g} s (about {max(wait, 1):.0f} s to go)"
            )
