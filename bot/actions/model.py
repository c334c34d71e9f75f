"""What an action is, and the only ways its status may change.

suggested -> approved | rejected | expired; approved -> executing | rejected | expired;
executing -> executed | failed | unknown. A reject wins at any time before execution
starts; nothing leaves a finished status, so a decided action is never reopened (a new
suggestion is a new action with a new id and a new message).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Status = Literal["suggested", "approved", "rejected", "expired", "executing", "executed", "failed", "unknown"]
Decision = Literal["approve", "reject"]

DECIDED: tuple[Status, ...] = ("approved", "rejected", "executing", "executed", "unknown")
"""People decided it (whatever came of it); failed and expired ones may be suggested again."""

NEXT: dict[Status, tuple[Status, ...]] = {
    "suggested": ("approved", "rejected", "expired"),
    "approved": ("executing", "rejected", "expired"),
    "executing": ("executed", "failed", "unknown"),
}
"""Every allowed step; a status not listed here is final."""

UNKNOWN_OUTCOME = "outcome unknown: check the target before acting"
"""Said whenever the webhook may or may not have acted: never "execute per runbook", which
would have a person act a second time."""


PAGE_PREFIX = "page-"
"""The id of an escalation's page (``page-INCIDENT-STEP``): made by the bot when nobody
acknowledged, never suggested or voted on, and deterministic, so it exists once."""


def is_page(action_id: str) -> bool:
    return action_id.startswith(PAGE_PREFIX)


class ActionError(ValueError):
    """A request about an action that does not count, with the reason shown to the person."""


def sources(target: Status) -> tuple[Status, ...]:
    """The statuses from which ``target`` may be reached."""
    return tuple(status for status, nexts in NEXT.items() if target in nexts)


@dataclass(frozen=True, slots=True)
class Ballot:
    """A click as it arrives: who, which way, and the reason typed beside the buttons."""

    user_id: str
    decision: Decision
    reason: str | None = None


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
    status: Status
    approvals_needed: int
    votes: tuple[Vote, ...] = ()
    outcome: str | None = None
    """What became of it once decided (executed, failed, unknown, expired, by runbook)."""

    @property
    def approved_by(self) -> list[str]:
        return [v.user_id for v in self.votes if v.decision == "approve"]
