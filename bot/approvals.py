"""Approving a suggested action: safe to click in a hurry.

Only the policy's approvers count; a person counts once however often they click; the
action's preconditions are checked again on fresh live facts at the moment of approval (a
lane that recovered since the suggestion gets a refusal with the reason); the action needs
the policy's number of distinct approvers; any approver may reject it. When the last
approval lands, ``LANEKEEPER_ACTION_WEBHOOK`` is called, signed with HMAC, or the action is
marked for execution by runbook. Every decision lands in the incident's timeline.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

import httpx
from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.config import Settings
from bot.incidents.engine import Clock
from bot.incidents.views import newest_open_incident
from bot.lanes.live import LaneStatus
from bot.store.engine import reading
from bot.store.tables import actions, approvals, timeline
from validators.policy import Policy

log = logging.getLogger(__name__)
Decision = Literal["approve", "reject"]


@dataclass(frozen=True, slots=True)
class Vote:
    user_id: str
    decision: str
    at: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ActionState:
    action_id: str
    incident_id: str
    kind: str
    lane: str
    reason: str
    status: str
    approvals_needed: int
    votes: list[Vote]
    note: str | None = None
    """What happened on the last click, for the clicker (refusals, execution)."""


class ApprovalError(ValueError):
    """A click that does not count, with the reason shown to the person who clicked."""


def suggested_state(row: Mapping[str, Any]) -> ActionState:
    """A suggestion as its first message shows it, from its ``actions`` row (no votes yet)."""
    return ActionState(
        action_id=row["action_id"],
        incident_id=row["incident_id"],
        kind=row["kind"],
        lane=row["lane"],
        reason=row["reason"],
        status=row["status"],
        approvals_needed=row["approvals_needed"],
        votes=[],
    )


def action_state(engine: Engine, action_id: str, note: str | None = None) -> ActionState:
    """An action with its votes, as its Slack message shows it."""
    with reading(engine) as conn:
        row = conn.execute(select(actions).where(actions.c.action_id == action_id)).mappings().first()
        if row is None:
            raise ApprovalError(f"no action {action_id}")
        votes = conn.execute(select(approvals).where(approvals.c.action_id == action_id).order_by(approvals.c.at)).mappings()
        cast = [Vote(v["user_id"], v["decision"], v["at"], v["reason"]) for v in votes]
    return replace(suggested_state(dict(row)), votes=cast, note=note)


class Approvals:
    def __init__(
        self, engine: Engine, policy: Policy, settings: Settings, lane_status: Callable[[], dict[str, LaneStatus]], clock: Clock
    ) -> None:
        self.engine, self.policy, self.settings, self.lane_status, self.clock = engine, policy, settings, lane_status, clock
        self.exercise = False
        """In a drill: an approved action is recorded and nothing is executed or called."""

    def state(self, action_id: str, note: str | None = None) -> ActionState:
        return action_state(self.engine, action_id, note)

    def suggest_rollback(self, lane: str, user_id: str) -> ActionState:
        """``/rollback LANE``: a suggestion now if the policy allows one on the live facts,
        within the lane's open incident; else ``ApprovalError`` saying exactly why not."""
        spec = self.policy.actions.get("rollback")
        if spec is None:
            raise ApprovalError("The policy does not list rollback among its actions.")
        if lane not in self.policy.lanes:
            raise ApprovalError(f"`{lane}` is not a lane of the policy (lanes: {', '.join(self.policy.lanes)}).")
        status = self.lane_status().get(lane)
        if status is None:
            raise ApprovalError(f"No events seen for {lane}: its facts are unknown, so no rollback can be justified.")
        breaches = self.policy.triggers_met("rollback", lane, status.facts)
        if spec.trigger_any and not breaches:
            facts = ", ".join(f"{fact} {status.facts.value(fact)} (trigger {limit})" for fact, limit in spec.trigger_any.items())
            raise ApprovalError(f"Rollback of {lane} is not allowed now: no trigger is met — {facts}.")
        incident_id = newest_open_incident(self.engine, lane)
        if incident_id is None:
            raise ApprovalError(f"No open incident on {lane}; rollbacks are suggested within an incident.")
        action_id = "act-" + hashlib.sha256(f"{incident_id}|rollback|{lane}".encode()).hexdigest()[:16]
        now = self.clock()
        reason = "; ".join(str(b) for b in breaches) or "requested"
        with self.engine.begin() as conn:
            existing = conn.scalar(select(actions.c.status).where(actions.c.action_id == action_id))
            if existing is None or existing != "suggested":
                values: dict[str, Any] = {
                    "incident_id": incident_id,
                    "kind": "rollback",
                    "lane": lane,
                    "reason": reason,
                    "evidence": [],
                    "approvals_needed": spec.approvals,
                    "status": "suggested",
                    "created_at": now,
                    "decided_at": None,
                }
                if existing is None:
                    conn.execute(insert(actions).values(action_id=action_id, **values))
                else:  # decided before: a new request starts a new round of votes
                    conn.execute(approvals.delete().where(approvals.c.action_id == action_id))
                    conn.execute(update(actions).where(actions.c.action_id == action_id).values(**values))
                state = ActionState(action_id, incident_id, "rollback", lane, reason, "suggested", spec.approvals, [])
                self._note(conn, state, now, "action.suggested", actor=user_id, extra={"reason": reason})
        return self.state(action_id)

    def decide(self, action_id: str, user_id: str, decision: Decision, reason: str | None = None) -> ActionState:
        """Record one click (with the reason typed beside the buttons, if any); raises
        ``ApprovalError`` when it does not count, and why."""
        if user_id not in self.policy.approvers:
            raise ApprovalError(f"<@{user_id}> is not an approver in the policy; ask one of the on-call approvers")
        current = self.state(action_id)
        if current.status != "suggested":
            raise ApprovalError(f"{current.kind} {current.lane} is already {current.status}")
        if decision == "approve":
            self._still_justified(current)
        now = self.clock()
        with self.engine.begin() as conn:
            try:
                vote = {"action_id": action_id, "user_id": user_id, "decision": decision, "at": now, "reason": reason}
                conn.execute(insert(approvals).values(**vote))
            except IntegrityError:
                raise ApprovalError(
                    f"you already voted on {current.kind} {current.lane}; a second click does not count"
                ) from None
            self._note(conn, current, now, f"action.{decision}d", actor=user_id, extra={"reason": reason} if reason else None)
            status = self._status(conn, current, decision)
            if status != "suggested":
                conn.execute(update(actions).where(actions.c.action_id == action_id).values(status=status, decided_at=now))
                self._note(conn, current, now, f"action.{status}", actor=None)
        note = self._execute(current) if status == "approved" else None
        return self.state(action_id, note)

    def _still_justified(self, action: ActionState) -> None:
        """The policy's preconditions, on the live facts of now, not of the suggestion."""
        spec = self.policy.actions.get(action.kind)
        if spec is None:
            raise ApprovalError(f"the policy no longer allows {action.kind}")
        statuses = self.lane_status()
        lane = statuses.get(action.lane)
        if lane is None:
            raise ApprovalError(f"no live status for {action.lane}; cannot check the preconditions")
        if spec.trigger_any and not self.policy.triggers_met(action.kind, action.lane, lane.facts):
            now = ", ".join(f"{fact} {lane.facts.value(fact)}" for fact in spec.trigger_any)
            raise ApprovalError(
                f"refused: {action.lane} no longer meets any {action.kind} trigger ({now}; the policy needs one of "
                f"{', '.join(f'{k} >= {v}' for k, v in spec.trigger_any.items())})"
            )
        if spec.needs_healthy_fallback:
            fallback = self.policy.lanes[action.lane].fallback if action.lane in self.policy.lanes else None
            status = statuses.get(fallback) if fallback else None
            breaches = self.policy.unhealthy_because(fallback, status.facts) if fallback and status else ["no live status"]
            if fallback is None or breaches:
                reason = "it has none" if fallback is None else f"{fallback} is not healthy ({'; '.join(map(str, breaches))})"
                raise ApprovalError(f"refused: {action.kind} needs a healthy fallback for {action.lane} and {reason}")

    def _status(self, conn: Connection, action: ActionState, decision: Decision) -> str:
        if decision == "reject":
            return "rejected"
        approved = conn.scalar(
            select(func.count(func.distinct(approvals.c.user_id))).where(
                approvals.c.action_id == action.action_id, approvals.c.decision == "approve"
            )
        )
        return "approved" if (approved or 0) >= action.approvals_needed else "suggested"

    def _execute(self, action: ActionState) -> str:
        """The webhook when configured (signed), else the runbook; the outcome is recorded."""
        url = self.settings.action_webhook
        if self.exercise:
            outcome = "approved — EXERCISE: nothing executes"
        else:
            outcome = "approved — execute per runbook" if url is None else self._call_webhook(url, action)
        with self.engine.begin() as conn:
            self._note(conn, action, self.clock(), "action.executed", actor=None, extra={"outcome": outcome})
        return outcome

    def _call_webhook(self, url: str, action: ActionState) -> str:
        body = json.dumps(
            {"action_id": action.action_id, "incident_id": action.incident_id, "kind": action.kind, "lane": action.lane}
        ).encode()
        headers = {"content-type": "application/json", **sign(body, self.settings)}
        try:
            answer = httpx.post(url, content=body, headers=headers, timeout=10)
        except httpx.HTTPError as exc:
            log.error("action webhook failed: %s", exc, extra={"incident_id": action.incident_id})
            return f"approved — the action webhook failed ({type(exc).__name__}); execute per runbook"
        if answer.status_code >= 300:
            return f"approved — the action webhook answered {answer.status_code}; execute per runbook"
        return f"approved — sent to the action webhook ({answer.status_code})"

    def _note(
        self,
        conn: Connection,
        action: ActionState,
        now: datetime,
        kind: str,
        *,
        actor: str | None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        detail = {"action_id": action.action_id, "kind": action.kind, "lane": action.lane, **(extra or {})}
        conn.execute(insert(timeline).values(incident_id=action.incident_id, at=now, kind=kind, actor=actor, detail=detail))


def sign(body: bytes, settings: Settings, now: float | None = None) -> dict[str, str]:
    """``X-Lanekeeper-Timestamp`` and ``X-Lanekeeper-Signature: sha256=HMAC(secret, "ts.body")``."""
    stamp = str(int(now if now is not None else time.time()))
    assert settings.action_webhook_secret is not None, "settings require a secret with a webhook"
    secret = settings.action_webhook_secret.get_secret_value().encode()
    digest = hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Lanekeeper-Timestamp": stamp, "X-Lanekeeper-Signature": f"sha256={digest}"}
