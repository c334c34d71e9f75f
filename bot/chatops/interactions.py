"""Button clicks: what a click means, apart from bolt's plumbing."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.actions import ActionError, Actions, ActionState, Ballot, Decision
from bot.incidents import IncidentError
from bot.incidents.desk import Desk
from bot.postmortem import Drafter
from bot.slack.blocks import APPROVE, CARD, REASON, REASON_MAX, cut
from bot.slack.cards import ACK, ESCALATE, RESOLVE
from bot.slack.poster import posted
from bot.slack.uploads import upload
from bot.tabletop.schedule import channel_ref, schedule_drill


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


def postmortem_button(drafter: Drafter, client: WebClient, body: dict[str, Any], respond: Any) -> None:
    """Draft postmortem on a resolved incident's card: the draft, as a Markdown file, in the
    incident's thread. What stops it (still open, no thread, Slack refusing the file) is
    told to the clicker alone."""
    incident_id = body["actions"][0]["value"]
    try:
        made = drafter.draft(incident_id)
    except IncidentError as exc:
        return _tell(respond, str(exc))
    card = posted(drafter.engine, incident_id, CARD)
    if card is None:
        return _tell(respond, f"No postmortem draft for #{made.number}: its card was never posted")
    title = f"Postmortem draft #{made.number} ({'facts only' if made.facts_only else 'with a validated narrative'})"
    try:
        upload(client, card[0], made.markdown, f"postmortem-{made.number}.md", title, thread_ts=card[1])
    except SlackApiError as exc:
        _tell(respond, f"The postmortem draft of #{made.number} could not be posted (Slack answered {exc.response.get('error')})")


def _tell(respond: Any, reason: str) -> None:
    respond(text=reason[:1].upper() + reason[1:] + ".", response_type="ephemeral", replace_original=False)


def schedule_drill_button(desk: Desk, client: WebClient, drill_channel: str | None, body: dict[str, Any], respond: Any) -> None:
    """Schedule drill, offered in a resolved sev1/sev2 incident's thread: the date and its
    reminder in the drill channel, and the thread told. What stops it is told to the clicker."""
    incident_id = body["actions"][0]["value"]
    if drill_channel is None:
        return _tell(respond, "No drill channel is set: set LANEKEEPER_DRILL_CHANNEL to schedule drills")
    try:
        summary = desk.show(incident_id).summary
    except IncidentError as exc:
        return _tell(respond, str(exc))
    if summary.status != "resolved":
        return _tell(respond, f"#{summary.number} is not resolved yet: a drill rehearses a finished incident")
    try:
        scheduled = schedule_drill(client, drill_channel, summary.number, desk.clock())
    except SlackApiError as exc:
        return _tell(respond, f"The drill could not be scheduled (Slack answered {exc.response.get('error')})")
    card = posted(desk.engine, incident_id, CARD)
    where = f"{scheduled.at:%a %d %b %H:%M} UTC in {channel_ref(drill_channel)}"
    told = f"Drill of #{summary.number} scheduled for {where}, by <@{body['user']['id']}>."
    if card is not None:
        client.chat_postMessage(channel=card[0], thread_ts=card[1], text=told)
