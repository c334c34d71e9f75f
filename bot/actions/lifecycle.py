"""An action's whole life: suggested, voted on, decided, executed, each step a
compare-and-set in the store, so simultaneous clicks on any number of replicas and
processes can never execute an action twice, reopen a decided one, or let an approval win
over a reject that came first.

Votes count only from the policy's approvers (users or user groups), in the channel where
the action was suggested, while its incident is open; a person votes once. The last
approval needed moves it to approved and, when a webhook executes actions, straight on to
executing (one winner), one call, and its outcome.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from bot.actions import records
from bot.actions.approvers import Approvers
from bot.actions.model import UNKNOWN_OUTCOME, ActionError, ActionState, Ballot, Status, is_page
from bot.actions.preconditions import justify
from bot.actions.webhook import Executor
from bot.clock import Clock
from bot.incidents.views import newest_open_incident
from bot.lanes.window import LaneStatus
from bot.store.engine import reading
from validators.policy import Policy

log = logging.getLogger(__name__)
CUT_SHORT = f"{UNKNOWN_OUTCOME} (the bot stopped while the action webhook was being called)"
GRACE_S = 30.0
"""Beyond the longest a call can take, before another process takes over a stalled action."""
EXPIRED_RESOLVED = "expired: its incident was resolved"
REJECTED = "rejected: it will not be executed"


def new_action_id() -> str:
    return "act-" + secrets.token_hex(8)


class Actions:
    def __init__(
        self,
        engine: Engine,
        policy: Policy,
        *,
        lane_status: Callable[[], Mapping[str, LaneStatus]],
        clock: Clock,
        executor: Executor,
        approvers: Approvers,
        home: Callable[[ActionState], str | None] = lambda _: None,
        announce: Callable[[ActionState], None] = lambda _: None,
    ) -> None:
        """``home``: the channel id where an action's message was posted (None: not posted).
        ``announce``: brings an action's message up to date (before a webhook call, so no one
        is offered buttons on an action already being executed)."""
        self.engine, self.policy, self.lane_status, self.clock = engine, policy, lane_status, clock
        self.executor, self.approvers, self.home, self.announce = executor, approvers, home, announce

    def state(self, action_id: str) -> ActionState:
        return records.read(self.engine, action_id)

    # -- suggest ------------------------------------------------------------------------

    def suggest(self, kind: str, lane: str, user_id: str) -> ActionState:
        """A new suggestion (a new id, a new message) if the policy allows ``kind`` on the
        live facts within the lane's open incident; else ``ActionError`` saying why not."""
        breaches = justify(self.policy, kind, lane, self.lane_status(), approving=False)
        incident_id = newest_open_incident(self.engine, lane)
        if incident_id is None:
            raise ActionError(f"no open incident on {lane}; actions are suggested within an incident")
        reason = "; ".join(map(str, breaches)) or "requested"
        now = self.clock()
        approvals = self.policy.actions[kind].approvals
        row = suggestion_row(new_action_id(), incident_id, kind, lane, reason=reason, approvals=approvals, now=now)
        with self.engine.begin() as conn:
            if not records.insert_suggestion(conn, row):
                waiting = records.open_action(conn, incident_id, kind, lane)
                where = f" ({waiting.action_id}, {waiting.status})" if waiting else ""
                raise ActionError(f"a {kind} of {lane} is already open in {incident_id}{where}: vote on its message")
            state = records.suggested_state(row)
            records.note(conn, state, now, "action.suggested", actor=user_id, extra={"reason": reason})
        return state

    # -- vote and decide ----------------------------------------------------------------

    def vote(self, action_id: str, ballot: Ballot, *, channel: str | None = None) -> ActionState:
        """One click. ``channel`` is where it was clicked (None: not from Slack, e.g. a drill's
        scripted responder). Raises ``ActionError`` when it does not count, and why."""
        self.approvers.check(ballot.user_id)
        seen = self.state(action_id)
        if channel is not None and channel != (home := self.home(seen)):
            where = f"<#{home}>, where it was suggested" if home else "the incident channel, once its message is posted"
            raise ActionError(f"votes on {seen.kind} {seen.lane} count only in {where}")
        if ballot.decision == "approve" and seen.status == "suggested":
            justify(self.policy, seen.kind, seen.lane, self.lane_status(), approving=True)
        with self.engine.begin() as conn:
            action = records.load(conn, action_id, lock=True)
            refusal = self._refusal(conn, action, ballot)
            approved = refusal is None and self._count(conn, action, ballot)
        if refusal is not None:  # after the commit: an expiry it found stays recorded
            raise ActionError(refusal)
        if approved and self.executor.handoff is None:
            return self.execute(action_id)
        return self.state(action_id)

    def _refusal(self, conn: Connection, action: ActionState, ballot: Ballot) -> str | None:
        """Why this vote cannot count on the action as it stands (locked), or None. A
        suggestion whose incident was resolved expires here if the sweep has not seen it."""
        if not records.incident_open(conn, action.incident_id):
            if action.status == "suggested":
                records.move(conn, action, "expired", self.clock(), actor=None, outcome=EXPIRED_RESOLVED)
            return f"{action.incident_id} is resolved; votes on {action.kind} {action.lane} no longer count"
        if ballot.decision == "approve" and action.status != "suggested":
            return f"{action.kind} {action.lane} is already {action.status}"
        if ballot.decision == "reject" and action.status not in ("suggested", "approved"):
            return f"too late to reject: {action.kind} {action.lane} is already {action.status}"
        if ballot.decision == "reject" and action.outcome is not None:  # approved and handed to a person (runbook, drill)
            return f"too late to reject: {action.kind} {action.lane} was approved and handed over ({action.outcome})"
        if any(v.user_id == ballot.user_id for v in action.votes):
            return f"you already voted on {action.kind} {action.lane}; a second click does not count"
        return None

    def _count(self, conn: Connection, action: ActionState, ballot: Ballot) -> bool:
        """Store the vote and decide: a reject ends it, the last approval needed approves it.
        True when this vote approved it. The row is locked, so no move here can lose."""
        now = self.clock()
        records.add_vote(conn, action, ballot, now)
        if ballot.decision == "reject":
            moved = records.move(conn, action, "rejected", now, actor=ballot.user_id, outcome=REJECTED)
            assert moved, f"{action.action_id} is locked in {action.status}: rejecting it cannot lose"
            return False
        if records.approvers_count(conn, action.action_id) < action.approvals_needed:
            return False
        moved = records.move(conn, action, "approved", now, actor=None, outcome=self.executor.handoff)
        assert moved, f"{action.action_id} is locked in {action.status}: approving it cannot lose"
        return True

    # -- execute ------------------------------------------------------------------------

    def execute(self, action_id: str) -> ActionState:
        """Approved -> executing (one caller wins), one webhook call, its outcome."""
        with self.engine.begin() as conn:
            overtaken = records.page_overtaken(conn, action_id) if is_page(action_id) else None  # its incident's row first
            action = records.load(conn, action_id, lock=True)
            if overtaken is not None:
                records.move(conn, action, "expired", self.clock(), actor=None, outcome=f"expired, not executed: {overtaken}")
                return action
            if not records.move(conn, action, "executing", self.clock(), actor=None):
                return action  # rejected first, or another caller executes it
        self.announce(action)
        outcome = self.executor.call(action)
        log.info("action %s %s: %s", action_id, outcome.status, outcome.text, extra={"incident_id": action.incident_id})
        with self.engine.begin() as conn:
            executing = records.load(conn, action_id, lock=True)
            records.move(conn, executing, outcome.status, self.clock(), actor=None, outcome=outcome.text)
        return self.state(action_id)

    # -- housekeeping -------------------------------------------------------------------

    def sweep(self) -> list[ActionState]:
        """Housekeeping any replica may do at any time (each step a compare-and-set): the
        suggestions of a resolved incident expire; a call cut short by a crash (executing for
        longer than a call can take) becomes unknown and is never made again; an approval
        whose approver died before the call is executed now, if its incident is open and its lane
        still justifies it. The actions changed, for their messages."""
        now, changed = self.clock(), []
        since = now - timedelta(seconds=self.executor.longest_s + GRACE_S)
        with reading(self.engine) as conn:  # most ticks find nothing: no write lock for that
            orphaned = records.in_resolved_incidents(conn, ("suggested",))
            cut_short, unstarted = records.stalled(conn, since)
        if orphaned or cut_short:
            with self.engine.begin() as conn:
                steps: tuple[tuple[list[str], Status, str], ...] = (
                    (orphaned, "expired", EXPIRED_RESOLVED),
                    (cut_short, "unknown", CUT_SHORT),
                )
                for ids, to, outcome in steps:
                    for action_id in ids:
                        if records.move(conn, records.load(conn, action_id, lock=True), to, now, actor=None, outcome=outcome):
                            changed.append(action_id)
        for action_id in unstarted if self.executor.handoff is None else []:
            self._resume(action_id)
            changed.append(action_id)
        return [self.state(a) for a in changed]

    def _resume(self, action_id: str) -> None:
        action = self.state(action_id)
        try:
            with reading(self.engine) as conn:  # people may have acted by hand and resolved it meanwhile
                if not records.incident_open(conn, action.incident_id):
                    raise ActionError(f"{action.incident_id} was resolved before the call was made")
            if not is_page(action_id):  # a page is justified by nobody acknowledging, not by the lane's facts
                justify(self.policy, action.kind, action.lane, self.lane_status(), approving=True)
        except ActionError as exc:
            with self.engine.begin() as conn:
                records.move(conn, action, "expired", self.clock(), actor=None, outcome=f"expired, not executed: {exc}")
            return
        self.execute(action_id)


def suggestion_row(
    action_id: str, incident_id: str, kind: str, lane: str, *, reason: str, approvals: int, now: datetime, **more: Any
) -> dict[str, Any]:
    """The ``actions`` row of a new suggestion (from a command or a validated proposal)."""
    return {
        "action_id": action_id,
        "incident_id": incident_id,
        "kind": kind,
        "lane": lane,
        "reason": reason,
        "evidence": [],
        "approvals_needed": approvals,
        "status": "suggested",
        "created_at": now,
        **more,
    }
