"""A summary's outcome as the data its card is drawn from: the figures of the incident's
own window (computed from the events), the validated summary with each claim's computed
value, or why there is none."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from bot.actions import ActionState
from bot.incidents.card import CardData, Claim, Suggested, Summary, figures
from bot.summarize.loop import SummaryResult
from validators.facts import LaneFacts
from validators.policy import Policy


def card_data(result: SummaryResult, policy: Policy, decided: Mapping[tuple[str, str], ActionState]) -> CardData:
    """``decided``: actions people decided in the incident; a proposal suggesting one again
    shows what became of it instead of asking again."""
    context = result.context
    newest: dict[str, datetime] = {}
    for event in context.events:
        if event.ts in context.window and (event.lane not in newest or event.ts > newest[event.lane]):
            newest[event.lane] = event.ts
    lanes: list[tuple[str, LaneFacts, datetime | None]] = [
        (lane, context.facts.lane(lane), newest.get(lane)) for lane in context.lanes
    ]
    shown = figures("window", context.window, context.events_checked, lanes, policy)
    if result.proposal is None:
        return CardData(figures=shown, ai="withheld" if result.withheld else "off", withheld=result.withheld)
    doc = result.proposal
    claims = tuple(
        Claim(lane=c["lane"], fact=c["fact"], value=context.facts.lane(c["lane"]).value(c["fact"]), text=c["text"])
        for c in doc["claims"]
    )
    actions = tuple(
        Suggested(kind=a["kind"], lane=a["lane"], reason=a["reason"], decided=_decided(decided.get((a["kind"], a["lane"]))))
        for a in doc["actions"]
    )
    return CardData(figures=shown, ai="validated", summary=Summary(headline=doc["headline"], claims=claims, actions=actions))


def _decided(action: ActionState | None) -> str | None:
    return None if action is None else f"{action.outcome or action.status} ({action.action_id})"
