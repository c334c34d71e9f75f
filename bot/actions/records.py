"""Actions in the store. Every status change is a compare-and-set: an UPDATE that names the
statuses it may start from, inside the caller's transaction, and says whether it won."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, exists, func, select, update

from bot.actions.model import DECIDED, ActionError, ActionState, Ballot, Status, Vote, sources
from bot.incidents.timeline import record
from bot.store.engine import insert_new, reading
from bot.store.tables import OPEN, actions, approvals, incidents


def _state(row: Mapping[str, Any], votes: tuple[Vote, ...] = ()) -> ActionState:
    return ActionState(
        action_id=row["action_id"],
        incident_id=row["incident_id"],
        kind=row["kind"],
        lane=row["lane"],
        reason=row["reason"],
        status=row["status"],
        approvals_needed=row["approvals_needed"],
        votes=votes,
        outcome=row.get("outcome"),
    )


def suggested_state(row: Mapping[str, Any]) -> ActionState:
    """A new suggestion as its first message shows it, from the row about to be stored."""
    return _state(row)


def load(conn: Connection, action_id: str, *, lock: bool = False) -> ActionState:
    """The action with its votes; ``lock`` holds its row until the transaction ends (on
    PostgreSQL; SQLite's transactions hold the whole database's write lock already), so
    votes on one action are counted one after the other."""
    query = select(actions).where(actions.c.action_id == action_id)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise ActionError(f"no action {action_id}")
    cast = conn.execute(select(approvals).where(approvals.c.action_id == action_id).order_by(approvals.c.approval_id)).mappings()
    return _state(dict(row), tuple(Vote(v["user_id"], v["decision"], v["at"], v["reason"]) for v in cast))


def read(engine: Engine, action_id: str) -> ActionState:
    with reading(engine) as conn:
        return load(conn, action_id)


def move(conn: Connection, action: ActionState, to: Status, now: datetime, *, actor: str | None, **values: Any) -> bool:
    """``action`` to ``to`` if it still is in a status that may go there; the timeline
    records it only when it moved. False when another request moved it first."""
    if action.status == "suggested" and to in ("approved", "rejected"):
        values.setdefault("decided_at", now)
    if to == "executing":
        values.setdefault("started_at", now)
    if to in ("executed", "failed", "unknown", "expired"):
        values.setdefault("finished_at", now)
    moved = conn.execute(
        update(actions)
        .where(actions.c.action_id == action.action_id, actions.c.status.in_(sources(to)))
        .values(status=to, **values)
    ).rowcount
    if moved:
        outcome = values.get("outcome")
        note(conn, action, now, f"action.{to}", actor=actor, extra={"outcome": outcome} if outcome else None)
    return bool(moved)


def insert_suggestion(conn: Connection, row: dict[str, Any]) -> bool:
    """Store a new suggestion unless an open action of its kind already waits on its lane
    in its incident (the partial unique index decides, so two at once cannot both win)."""
    return insert_new(conn, actions, row)


def open_action(conn: Connection, incident_id: str, kind: str, lane: str) -> ActionState | None:
    """The open action of ``kind`` on ``lane`` in the incident, if one waits."""
    action_id = conn.scalar(
        select(actions.c.action_id).where(
            actions.c.incident_id == incident_id, actions.c.kind == kind, actions.c.lane == lane, OPEN
        )
    )
    return None if action_id is None else load(conn, action_id)


def decided(conn: Connection, incident_id: str) -> dict[tuple[str, str], ActionState]:
    """The newest action of each (kind, lane) in the incident that people decided (approved,
    rejected, or executed whatever came of it): the AI does not suggest those again."""
    rows = conn.scalars(
        select(actions.c.action_id)
        .where(actions.c.incident_id == incident_id, actions.c.status.in_(DECIDED))
        .order_by(actions.c.created_at)
    ).all()
    return {(state.kind, state.lane): state for state in (load(conn, action_id) for action_id in rows)}


def add_vote(conn: Connection, action: ActionState, ballot: Ballot, now: datetime) -> None:
    values = {"user_id": ballot.user_id, "decision": ballot.decision, "reason": ballot.reason}
    conn.execute(approvals.insert().values(action_id=action.action_id, at=now, **values))
    extra = {"reason": ballot.reason} if ballot.reason else None
    note(conn, action, now, f"action.{ballot.decision}d", actor=ballot.user_id, extra=extra)


def approvers_count(conn: Connection, action_id: str) -> int:
    """Distinct people who approved (the lock held by the caller makes this the latest count)."""
    query = select(func.count(func.distinct(approvals.c.user_id))).where(
        approvals.c.action_id == action_id, approvals.c.decision == "approve"
    )
    return int(conn.scalar(query) or 0)


def incident_open(conn: Connection, incident_id: str) -> bool:
    return bool(conn.scalar(select(exists().where(incidents.c.incident_id == incident_id, incidents.c.status != "resolved"))))


def page_overtaken(conn: Connection, action_id: str) -> str | None:
    """Why the page ``action_id`` must no longer go out (someone acknowledged its incident, or
    it resolved), or None. The incident's row is locked: an acknowledgement either committed
    before this (the page stays unsent) or waits until the page has started (in flight already)."""
    incident_id = select(actions.c.incident_id).where(actions.c.action_id == action_id).scalar_subquery()
    row = conn.execute(
        select(incidents.c.acked_by, incidents.c.status).where(incidents.c.incident_id == incident_id).with_for_update()
    ).first()
    if row is None or row.status == "resolved":
        return "resolved before the page was sent"
    return f"acknowledged by {row.acked_by} before the page was sent" if row.acked_by else None


def in_resolved_incidents(conn: Connection, statuses: tuple[Status, ...]) -> list[str]:
    """Actions in ``statuses`` whose incident has been resolved (they can no longer be decided)."""
    query = (
        select(actions.c.action_id)
        .join(incidents, incidents.c.incident_id == actions.c.incident_id)
        .where(actions.c.status.in_(statuses), incidents.c.status == "resolved")
    )
    return list(conn.scalars(query))


def stalled(conn: Connection, since: datetime) -> tuple[list[str], list[str]]:
    """Actions executing since before ``since`` (their call can no longer be in flight), and
    actions approved before it whose call never started (their approver died first)."""
    executing = select(actions.c.action_id).where(actions.c.status == "executing", actions.c.started_at < since)
    approved = select(actions.c.action_id).where(
        actions.c.status == "approved", actions.c.outcome.is_(None), actions.c.decided_at < since
    )
    return list(conn.scalars(executing)), list(conn.scalars(approved))


def note(
    conn: Connection, action: ActionState, now: datetime, kind: str, *, actor: str | None, extra: dict[str, Any] | None = None
) -> None:
    detail = {"action_id": action.action_id, "kind": action.kind, "lane": action.lane, **(extra or {})}
    record(conn, action.incident_id, now, kind, actor=actor, detail=detail)
