"""Button clicks: what a click means, apart from bolt's plumbing."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from bot.actions import ActionError, Actions, ActionState, Ballot, Decision
from bot.incidents import IncidentError
from bot.incidents.desk import Desk
from bot.slack.blocks import APPROVE, REASON, REASON_MAX, cut
from bot.slack.cards import ACK, ESCALATE, RESOLVE


def reason_of(state: dict[str, Any]) -> str | None:
    """The reason typed beside the buttons when one was clicked (block_actions ``state``)."""
    for block in state.get("values", {}).values():
        value = block.get(REASON, {}).get("value")
        if value and value.strip():
            return cut(value.strip(), REASON_MAX)
    return None


def vote(actions: Actions, post: Callable[[ActionState], None], body: dict[str, Any], channel: str, respond: Any) -> None:
    """Approve or Reject on an action's message. A refusal is told to the clicker alone; a
    click on an action decided meanwhile brings its message up to date (its buttons go)."""
    clicked = body["actions"][0]
    decision: Decision = "approve" if clicked["action_id"] == APPROVE else "reject"
    action_id = clicked["value"]
    ballot = Ballot(body["user"]["id"], decision, reason_of(body.get("state", {})))
    try:
        state = actions.vote(action_id, ballot, channel=channel)
    except ActionError as exc:
        respond(text=str(exc), response_type="ephemeral", replace_original=False)
        with contextlib.suppress(ActionError):
            if (current := actions.state(action_id)).status != "suggested":
                post(current)
        return
    post(state)


def incident_button(desk: Desk, body: dict[str, Any], respond: Any) -> None:
    """Acknowledge, Resolve or Escalate on an incident's card; the card and the thread show
    what it did, and a refusal (resolving inside the quiet time) is told to the clicker."""
    clicked = body["actions"][0]
    verb = {ACK: desk.ack, RESOLVE: desk.resolve, ESCALATE: desk.escalate}[clicked["action_id"]]
    try:
        verb(clicked["value"], body["user"]["id"])
    except IncidentError as exc:
        reason = str(exc)
        respond(text=reason[:1].upper() + reason[1:] + ".", response_type="ephemeral", replace_original=False)
