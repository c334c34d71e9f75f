"""Whether the policy allows an action on a lane now, on live facts: checked when it is
suggested and again at the moment of approval (a lane that recovered in between gets a
refusal with the reason, not a rollback)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.actions.model import ActionError
from bot.lanes.window import LaneStatus
from validators.policy import Breach, Policy

KIND_NAMES = {"pause_lane": "pause"}
"""How people call a kind (its slash command); the policy's name otherwise."""


def justify(policy: Policy, kind: str, lane: str, statuses: Mapping[str, LaneStatus], *, approving: bool) -> list[Breach]:
    """The trigger thresholds met that justify ``kind`` on ``lane``; ``ActionError`` saying
    exactly why not (``approving``: worded for a vote on an existing suggestion)."""
    spec = policy.actions.get(kind)
    if spec is None:
        raise ActionError(f"the policy {'no longer allows' if approving else 'does not list'} {kind} among its actions")
    if lane not in policy.lanes:
        raise ActionError(f"`{lane}` is not a lane of the policy (lanes: {', '.join(policy.lanes)})")
    status = statuses.get(lane)
    if status is None:
        raise ActionError(f"no events seen for {lane}: its facts are unknown, so no {kind} can be justified")
    breaches = policy.triggers_met(kind, lane, status.facts)
    if spec.trigger_any and not breaches:
        if approving:
            now = ", ".join(f"{fact} {status.facts.value(fact)}" for fact in spec.trigger_any)
            needs = ", ".join(f"{k} >= {v}" for k, v in spec.trigger_any.items())
            raise ActionError(f"refused: {lane} no longer meets any {kind} trigger ({now}; the policy needs one of {needs})")
        facts = ", ".join(f"{fact} {status.facts.value(fact)} (trigger {limit})" for fact, limit in spec.trigger_any.items())
        raise ActionError(f"{kind} of {lane} is not allowed now: no trigger is met — {facts}")
    if spec.needs_healthy_fallback:
        fallback = policy.lanes[lane].fallback
        fallback_status = statuses.get(fallback) if fallback else None
        if fallback is None:
            raise ActionError(f"{'refused: ' if approving else ''}{kind} needs a healthy fallback for {lane} and it has none")
        if fallback_status is None:
            problem = f"{fallback} has no live status (no events seen)"
        else:
            why = policy.unhealthy_because(fallback, fallback_status.facts)
            problem = f"{fallback} is not healthy ({'; '.join(map(str, why))})" if why else ""
        if problem:
            raise ActionError(f"{'refused: ' if approving else ''}{kind} needs a healthy fallback for {lane} and {problem}")
    return breaches
