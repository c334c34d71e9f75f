"""Escalation while nobody acknowledges an incident: the policy's steps for its severity
(``escalation: {sev1: {ack_within_s: 300, then: [remind, page]}}``), each one after another
``ack_within_s`` without an acknowledgement.

A remind is a line in the thread mentioning the policy's approvers; a page goes through the
policy's ``escalate`` action, on the action webhook's path (one call, the action id as its
idempotency key, a crash mid-call said to be unknown and never repeated). Where nothing is
called (no webhook, a drill), the page is recorded with that handoff and nothing is paged.

The state is in the store (steps taken, since when the next one waits), each step a
compare-and-set that also requires "not acknowledged", and the sweep runs on the bot's
clock at every tick: a restart, or another replica, takes it up where it was, and no step is
taken twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from bot.actions import PAGE_PREFIX, Actions, records
from bot.actions.lifecycle import suggestion_row
from bot.incidents.timeline import record
from bot.store.engine import reading
from bot.store.tables import incidents
from validators.policy import PAGE_ACTION, EscalationSpec, Policy

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Taken:
    incident_id: str
    step: str
    page_id: str | None = None


def page_id(incident_id: str, step: int) -> str:
    return f"{PAGE_PREFIX}{incident_id}-{step}"


class Escalator:
    def __init__(self, engine: Engine, policy: Policy, actions: Actions) -> None:
        """``actions`` executes pages, with whatever executor it has when a page is due (a
        drill replaces production's with one that executes nothing)."""
        self.engine, self.policy, self.actions = engine, policy, actions

    def sweep(self) -> list[Taken]:
        """Take every step that is due, each once; the steps taken (their cards need drawing)."""
        levels = self.policy.escalation
        if not levels:
            return []
        now = self.actions.clock()
        with reading(self.engine) as conn:  # most ticks find nothing due: no write lock for that
            waiting = conn.execute(
                select(incidents.c.incident_id, incidents.c.severity, incidents.c.escalation_step, incidents.c.escalation_since)
                .where(
                    incidents.c.status != "resolved",
                    incidents.c.acked_by.is_(None),
                    incidents.c.severity.in_(list(levels)),
                    incidents.c.escalation_since.is_not(None),
                )
                .order_by(incidents.c.number)
            ).all()
        taken = []
        for row in waiting:
            spec = levels[row.severity]
            if row.escalation_step < len(spec.then) and now >= row.escalation_since + timedelta(seconds=spec.ack_within_s):
                step = self._take(row.incident_id, row.escalation_step, spec, row.severity, now)
                if step is not None:
                    taken.append(step)
        for step in taken:
            if step.page_id is not None and self.actions.executor.handoff is None:
                self.actions.execute(step.page_id)
        return taken

    def _take(self, incident_id: str, done: int, spec: EscalationSpec, severity: str, now: datetime) -> Taken | None:
        """Step ``done`` of ``spec``, if the incident is still where it was (not acknowledged,
        not resolved, the step not taken by anyone else)."""
        with self.engine.begin() as conn:
            won = conn.execute(
                update(incidents)
                .where(
                    incidents.c.incident_id == incident_id,
                    incidents.c.escalation_step == done,
                    incidents.c.acked_by.is_(None),
                    incidents.c.status != "resolved",
                )
                .values(escalation_step=done + 1, escalation_since=now)
            ).rowcount
            if not won:
                return None
            step = spec.then[done]
            detail: dict[str, Any] = {
                "to": list(self.policy.approvers),
                "severity": severity,
                "after_s": spec.ack_within_s,
                "step": done + 1,
            }
            if step == "remind":
                record(conn, incident_id, now, "escalation.reminded", actor=None, detail=detail)
                return Taken(incident_id, step)
            paged, blocked = self._page(conn, incident_id, done + 1, severity, now)
            detail.update({"action_id": paged} if blocked is None else {"blocked": blocked})
            record(conn, incident_id, now, "escalation.paged", actor=None, detail=detail)
        log.warning("nobody acknowledged: paging through %s (%s)", PAGE_ACTION, paged, extra={"incident_id": incident_id})
        return Taken(incident_id, step, paged if blocked is None else None)

    def _page(self, conn: Connection, incident_id: str, step: int, severity: str, now: datetime) -> tuple[str, str | None]:
        """The page as an approved ``escalate`` action, stored in the step's transaction:
        approved by the policy (nobody acknowledged), executed once by the action lifecycle.
        Its id, and why it was not stored (an escalate action people were voting on already
        waits on the lane: theirs is the one that pages), or None."""
        lanes = list(conn.scalar(select(incidents.c.lanes).where(incidents.c.incident_id == incident_id)) or [])
        action_id = page_id(incident_id, step)
        handoff = self.actions.executor.handoff
        reason = f"nobody acknowledged this {severity} incident: the policy pages the on-call"
        row = suggestion_row(
            action_id, incident_id, PAGE_ACTION, lanes[0] if lanes else "", reason=reason, approvals=0, now=now,
            status="approved", decided_at=now, outcome=handoff,
        )  # fmt: skip
        if not records.insert_suggestion(conn, row):
            waiting = records.open_action(conn, incident_id, PAGE_ACTION, row["lane"])
            return action_id, f"{waiting.action_id} ({waiting.status}) is open already" if waiting else "not stored"
        records.note(conn, records.suggested_state(row), now, "action.approved", actor=None, extra={"outcome": handoff})
        return action_id, None
