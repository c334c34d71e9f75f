"""Block Kit, in one place: every message the bot writes is built here or from these parts.

Every dynamic text goes through ``escape`` (Slack's ``&``, ``<``, ``>``), so no input can
mention a channel or forge a link, and every text is cut to Slack's limits: a section's
text to 3,000 characters, a message to 50 blocks, a button's value to 2,000.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.approvals import ActionState, Vote
from bot.lanes.live import LaneStatus
from validators.facts import FACT_UNITS, LaneFacts, Unit
from validators.policy import Policy
from validators.trust import trust

SECTION_MAX = 3000
BLOCKS_MAX = 50
TEXT_MAX = 4000  # a message's notification text (Slack truncates longer ones)
Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    """A Slack message: the notification text and its blocks."""

    text: str
    blocks: list[Block]

    def __post_init__(self) -> None:
        if len(self.blocks) > BLOCKS_MAX:
            kept = [*self.blocks[: BLOCKS_MAX - 1], context_block(f"{len(self.blocks) - BLOCKS_MAX + 1} more not shown")]
            object.__setattr__(self, "blocks", kept)
        if len(self.text) > TEXT_MAX:
            object.__setattr__(self, "text", self.text[: TEXT_MAX - 1] + "…")


def escape(text: str) -> str:
    """Slack's three control characters; with them escaped, ``<!channel>`` is plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain_text(text: str) -> str:
    """For fields Slack shows as they are (a file's title): ``&lt;`` would show literally,
    so the brackets that could open markup are dropped instead."""
    return text.translate({ord("<"): None, ord(">"): None})


def quoted(word: str) -> str:
    """A word someone typed, shown back as code and never as markup."""
    return f"`{escape(word)}`"


def cut(text: str, limit: int = SECTION_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text)}}


def context_block(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text)}]}


def button(label: str, action_id: str, value: str, style: str | None = None) -> Block:
    element: Block = {"type": "button", "text": {"type": "plain_text", "text": label}, "action_id": action_id, "value": value}
    if style:
        element["style"] = style
    return element


def show(fact: str, value: float | None) -> str:
    """A fact's value as people read it: 3.50%, $1,250,000, 42.0s, 12.5 bps, 42."""
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


def plain(text: str) -> Message:
    """A one-section message (answers to commands)."""
    return Message(text, [section(text)])


# --- lanes -------------------------------------------------------------------------------

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


def lane_line(lane: str, facts: LaneFacts, policy: Policy) -> str:
    breaches = policy.unhealthy_because(lane, facts)
    health = "unhealthy" if breaches else "healthy"
    values = " · ".join(f"{name} {show(name, facts.value(name))}" for name in KEY_FACTS)
    return f"*{escape(lane)}* ({health}): {values} · *{trust(facts, policy.trust, lane)}*"


def lanes_overview(statuses: dict[str, LaneStatus], policy: Policy) -> Message:
    if not statuses:
        return plain("No settlement events seen yet: no lane has a status.")
    lines = [lane_line(lane, status.facts, policy) for lane, status in sorted(statuses.items())]
    newest = max(s.watermark for s in statuses.values())
    blocks = [section("*Lane status*"), *(section(line) for line in lines)]
    blocks.append(context_block(f"live status to {newest:%Y-%m-%d %H:%M:%S} UTC · `/lane status LANE` for one lane"))
    return Message("Lane status: " + escape(", ".join(sorted(statuses))), blocks)


def lane_detail(status: LaneStatus, policy: Policy) -> Message:
    breaches = policy.unhealthy_because(status.lane, status.facts)
    severity, _ = policy.severity_of([(status.lane, status.facts)])
    facts = "\n".join(f"{name}: *{show(name, status.facts.value(name))}*" for name in FACT_UNITS)
    health = "healthy" if not breaches else "unhealthy: " + "; ".join(escape(str(b)) for b in breaches)
    span = f"{status.window.start:%H:%M:%S}–{status.window.end:%H:%M:%S} UTC, {status.events_in_window:,} events"
    score = trust(status.facts, policy.trust, status.lane)
    blocks = [section(f"*{escape(status.lane)}* · {health} · {severity} · {score}"), section(facts), context_block(span)]
    return Message(f"{escape(status.lane)}: {health}", blocks)


# --- incidents ---------------------------------------------------------------------------


def incidents_list(rows: list[dict[str, Any]]) -> Message:
    if not rows:
        return plain("No incidents.")
    lines = [
        f"*{escape(r['incident_id'])}* {r['status']} {r['severity'] or ''} · {escape(', '.join(r['lanes']))} · "
        f"{escape(r['title'])} · {r['alerts_firing']}/{r['alerts_total']} alerts firing"
        + (f" · acked by <@{escape(r['acked_by'])}>" if r["acked_by"] else "")
        for r in rows
    ]
    return Message(f"{len(rows)} incidents", [section("\n".join(lines))])


def incident_detail(doc: dict[str, Any]) -> Message:
    alerts = "\n".join(
        f"• {escape(a['name'])} ({a['status']}) {escape(a['lane'] or '-')} since {a['starts_at']}" for a in doc["alerts"]
    )
    lanes = escape(", ".join(doc["lanes"]))
    blocks = [section(f"*{escape(doc['incident_id'])}* {doc['status']} · {escape(doc['title'])} · lanes {lanes}")]
    blocks.append(section(alerts or "no alerts"))
    attempts = doc.get("llm_attempts", [])
    if attempts:
        blocks.append(context_block("AI summary attempts: " + ", ".join(a["outcome"] for a in attempts)))
    return Message(f"{doc['incident_id']} {doc['status']}", blocks)


def _entry(entry: dict[str, Any]) -> str:
    actor = entry["actor"]
    by = f" by <@{escape(actor)}>" if actor and actor != "lanekeeper" else ""
    return f"{entry['at'][11:19]}Z {escape(entry['kind'])}{by}"


def incident_timeline(doc: dict[str, Any]) -> Message:
    lines = [_entry(e) for e in doc["timeline"]][-40:]
    title = f"*{escape(doc['incident_id'])} timeline*"
    return Message(f"{doc['incident_id']} timeline", [section(title), section("\n".join(lines))])


# --- actions -----------------------------------------------------------------------------

APPROVE, REJECT, REASON = "lk_approve", "lk_reject", "lk_reason"
REASON_MAX = 300


def _vote(vote: Vote) -> str:
    verb = "approved" if vote.decision == "approve" else "rejected"
    why = f": “{escape(cut(vote.reason, REASON_MAX))}”" if vote.reason else ""
    return f"{verb} by <@{escape(vote.user_id)}> at {vote.at:%H:%M:%S} UTC{why}"


def reason_of(state: dict[str, Any]) -> str | None:
    """The reason typed beside the buttons when one was clicked (block_actions ``state``)."""
    for block in state.get("values", {}).values():
        value = block.get(REASON, {}).get("value")
        if value and value.strip():
            return cut(value.strip(), REASON_MAX)
    return None


def action_purpose(action_id: str) -> str:
    """The outbox key of an action's message (one message per action, edited as votes come)."""
    return f"action:{action_id}"


def action_message(action: ActionState) -> Message:
    """A suggested action with its buttons while it waits; who decided what, and when."""
    head = f"*Suggested: {escape(action.kind)} {escape(action.lane)}* ({action.incident_id}) — {escape(action.reason)}"
    approved = sum(1 for v in action.votes if v.decision == "approve")
    state = f"{action.status} · {approved} of {action.approvals_needed} approvals"
    blocks = [section(head), context_block(" · ".join([state, *map(_vote, action.votes)]))]
    if action.note:
        blocks.append(context_block(escape(action.note)))
    if action.status == "suggested":
        field = {"type": "plain_text_input", "action_id": REASON, "max_length": REASON_MAX}
        label = {"type": "plain_text", "text": "Why? (optional, shown with your vote)"}
        blocks.append(
            {"type": "input", "block_id": f"reason:{action.action_id}", "optional": True, "element": field, "label": label}
        )
        buttons = [button("Approve", APPROVE, action.action_id, "primary"), button("Reject", REJECT, action.action_id, "danger")]
        blocks.append({"type": "actions", "block_id": f"action:{action.action_id}", "elements": buttons})
    return Message(escape(f"Suggested {action.kind} {action.lane}: {action.status}"), blocks)
