"""Every decision of a drill, read from the drill's own store after it ran: who made it,
when, and whether a person or a scripted responder did.

The store is where people's clicks and commands land (the drill's bot takes them from its
channel) and where the scripted responders' steps land too, so one reading covers both and
the report cannot credit the bot's clicks to the team. A decision is scripted when it was
made by a scripted responder's user and no person holds that id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from bot.store.engine import reading
from bot.store.tables import actions, approvals, timeline

PEOPLE_STEPS = {"incident.acknowledged": "ack", "incident.resolved": "resolve", "incident.escalated": "escalate"}
BOT = "lanekeeper"


@dataclass(frozen=True, slots=True)
class Made:
    at: timedelta
    """From the drill's start (T+)."""
    who: str
    label: str
    """``ack``, ``resolve``, ``escalate``, ``suggest rollback l2-arb``, ``approve rollback l2-arb`` (a vote)."""
    scripted: bool


@dataclass(frozen=True, slots=True)
class Decisions:
    made: tuple[Made, ...]
    """Every decision, in time order."""
    reached: dict[str, Made]
    """What an expectation is timed by: the first ``ack``/``resolve``/``escalate``, and when
    an action became approved or rejected (``approve KIND LANE``), credited to the vote that
    settled it."""


def read_decisions(engine: Engine, start: datetime, scripted: Callable[[str], bool]) -> Decisions:
    with reading(engine) as conn:
        steps = conn.execute(
            select(timeline.c.at, timeline.c.kind, timeline.c.actor, timeline.c.detail)
            .where(timeline.c.kind.in_([*PEOPLE_STEPS, "action.suggested"]))
            .order_by(timeline.c.entry_id)
        ).all()
        votes = conn.execute(
            select(approvals.c.at, approvals.c.user_id, approvals.c.decision, actions.c.action_id, actions.c.kind, actions.c.lane)
            .join(actions, actions.c.action_id == approvals.c.action_id)
            .order_by(approvals.c.approval_id)
        ).all()
        settled = conn.execute(
            select(actions.c.action_id, actions.c.kind, actions.c.lane, actions.c.status, actions.c.decided_at)
            .where(actions.c.decided_at.is_not(None))
            .order_by(actions.c.decided_at)
        ).all()
    made: list[Made] = []
    for step in steps:
        if step.actor is None or step.actor == BOT:
            continue
        label = PEOPLE_STEPS.get(step.kind) or f"suggest {step.detail.get('kind')} {step.detail.get('lane')}"
        made.append(Made(step.at - start, step.actor, label, scripted(step.actor)))
    cast = [(v.action_id, Made(v.at - start, v.user_id, f"{v.decision} {v.kind} {v.lane}", scripted(v.user_id))) for v in votes]
    made += [m for _, m in cast]
    made.sort(key=lambda m: m.at)
    reached: dict[str, Made] = {}
    for m in made:
        if m.label in PEOPLE_STEPS.values():
            reached.setdefault(m.label, m)
    for action in settled:
        verb = "reject" if action.status == "rejected" else "approve"
        label = f"{verb} {action.kind} {action.lane}"
        last = [m for action_id, m in cast if action_id == action.action_id and m.at <= action.decided_at - start]
        if last and label not in reached:
            reached[label] = Made(action.decided_at - start, last[-1].who, label, last[-1].scripted)
    return Decisions(tuple(made), reached)
