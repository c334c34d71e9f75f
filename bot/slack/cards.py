"""What the channel reads: the facts card, then the validated summary in its place.

Figures shown are always the ones computed from the events, never the model's: a claim is
rendered as its fact's computed value, with the model's sentence beside it only because the
validators grounded every number in it. Every dynamic text is escaped (``&``, ``<``, ``>``)
so no input can mention a channel or forge a link.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.slack.blocks import Message, context_block, escape, lane_line, section, show
from bot.summarize.context import IncidentContext
from bot.summarize.loop import SummaryResult
from validators.facts import LaneFacts
from validators.policy import Policy


@dataclass(frozen=True, slots=True)
class Card:
    """What a facts card shows, from live status (at once) or from the incident's window."""

    incident_id: str
    title: str
    severity: str
    lanes: dict[str, LaneFacts]
    firing: list[str]
    basis: str
    """What the figures were computed from, e.g. "checked against 48,211 events, 14:00–14:30 UTC"."""


def card_of(context: IncidentContext) -> Card:
    firing = [a.name for a in context.alerts if a.status == "firing"]
    lanes = {lane: context.facts.lane(lane) for lane in context.lanes}
    return Card(context.incident_id, context.title, context.severity, lanes, firing, _checked(context))


def _checked(context: IncidentContext) -> str:
    start, end = context.window.start, context.window.end
    return f"checked against {context.events_checked:,} events, {start:%H:%M}–{end:%H:%M} UTC"


def facts_card(card: Card, policy: Policy, note: str) -> Message:
    """The deterministic card: lanes, key facts, alerts, severity. ``note`` says what is
    coming or why there is no AI summary."""
    title = f"{escape(card.incident_id)} · {card.severity} · {escape(card.title)}"
    lanes = "\n".join(lane_line(lane, facts, policy) for lane, facts in card.lanes.items())
    shown = ", ".join(escape(name) for name in card.firing[:10])
    more = f" and {len(card.firing) - 10} more" if len(card.firing) > 10 else ""
    blocks = [
        section(f"*{title}*"),
        section(lanes or "no events seen on the incident's lanes"),
        context_block(f"firing: {shown or 'none'}{more} · {card.basis}"),
        context_block(escape(note)),
    ]
    return Message(escape(f"{card.incident_id} {card.severity}: {card.title}"), blocks)


def summary_card(result: SummaryResult, policy: Policy) -> Message:
    """The card after the loop: the validated summary above the facts, or the facts with
    the reason the summary was withheld, or facts-only."""
    context = result.context
    if result.proposal is None:
        note = f"AI summary withheld: {result.withheld}" if result.withheld else "Facts only: no LLM is configured for this bot."
        return facts_card(card_of(context), policy, note)
    proposal = result.proposal
    card = facts_card(card_of(context), policy, "AI summary above: validated against the raw events and the policy.")
    claims = []
    for claim in proposal["claims"]:
        lane, fact = claim["lane"], claim["fact"]
        computed = show(fact, context.facts.lane(lane).value(fact))  # never the model's figure
        claims.append(f"• {escape(lane)} {fact}: *{computed}* — {escape(claim['text'])}")
    suggested = [f"• *{escape(a['kind'])}* {escape(a['lane'])}: {escape(a['reason'])}" for a in proposal["actions"]]
    blocks = [section(f"*{escape(proposal['headline'])}*")]
    if claims:
        blocks.append(section("\n".join(claims)))
    if suggested:
        blocks.append(section("*Suggested (needs approval):*\n" + "\n".join(suggested)))
    return Message(escape(f"{context.incident_id}: {proposal['headline']}"), blocks + card.blocks[1:])
