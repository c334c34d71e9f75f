"""What the channel reads: the facts card, then the validated summary in its place.

Figures shown are always the ones computed from the events, never the model's: a claim is
rendered as its fact's computed value, with the model's sentence beside it only because the
validators grounded every number in it. Every dynamic text is escaped (``&``, ``<``, ``>``)
so no input can mention a channel or forge a link.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.summarize.context import IncidentContext
from bot.summarize.loop import SummaryResult
from validators.facts import FACT_UNITS, LaneFacts, Unit
from validators.policy import Policy

SECTION_MAX = 3000  # Slack's limit for a section's text
KEY_FACTS = (
    "failure_rate",
    "failed",
    "pending",
    "pending_notional_usd",
    "finality_p99_s",
    "seq_gaps",
    "canary_failures",
    "feed_divergence_bps_max",
    "reorg_max_depth",
)


@dataclass(frozen=True, slots=True)
class Message:
    """A Slack message: the notification text and its blocks."""

    text: str
    blocks: list[dict[str, Any]]


def escape(text: str) -> str:
    """Slack's three control characters; with them escaped, ``<!channel>`` is plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def show(fact: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    unit = FACT_UNITS[fact]
    if unit is Unit.RATIO:
        return f"{value * 100:.2f}%"
    if unit is Unit.USD:
        return f"${value:,.0f}"
    if unit is Unit.SECONDS:
        return f"{value:,.1f}s"
    if unit is Unit.BPS:
        return f"{value:,.1f} bps"
    return f"{value:,.0f}"


def _section(text: str) -> dict[str, Any]:
    if len(text) > SECTION_MAX:
        text = text[: SECTION_MAX - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:SECTION_MAX]}]}


def _lane_line(lane: str, facts: LaneFacts, policy: Policy) -> str:
    breaches = policy.unhealthy_because(lane, facts)
    health = "unhealthy" if breaches else "healthy"
    values = " · ".join(f"{name} {show(name, facts.value(name))}" for name in KEY_FACTS)
    return f"*{escape(lane)}* ({health}): {values}"


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
    lanes = "\n".join(_lane_line(lane, facts, policy) for lane, facts in card.lanes.items())
    shown = ", ".join(escape(name) for name in card.firing[:10])
    more = f" and {len(card.firing) - 10} more" if len(card.firing) > 10 else ""
    blocks = [
        _section(f"*{title}*"),
        _section(lanes or "no events seen on the incident's lanes"),
        _context(f"firing: {shown or 'none'}{more} · {card.basis}"),
        _context(escape(note)),
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
    blocks = [_section(f"*{escape(proposal['headline'])}*")]
    if claims:
        blocks.append(_section("\n".join(claims)))
    if suggested:
        blocks.append(_section("*Suggested (needs approval):*\n" + "\n".join(suggested)))
    return Message(escape(f"{context.incident_id}: {proposal['headline']}"), blocks + card.blocks[1:])
