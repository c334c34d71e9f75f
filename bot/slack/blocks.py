"""Block Kit, in one place: every message the bot writes is built here or from these parts.

Every dynamic text goes through ``escape`` (Slack's ``&``, ``<``, ``>``), so no input can
mention a channel or forge a link, and every text is cut to Slack's limits: a section's
text to 3,000 characters, a message to 50 blocks, a button's value to 2,000.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.actions import ActionState, Vote
from bot.actions.preconditions import KIND_NAMES

SECTION_MAX = 3000
BLOCKS_MAX = 50
TEXT_MAX = 4000  # a message's notification text (Slack truncates longer ones)
Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    """A Slack message: the notification text and its blocks."""

    text: str
    blocks: list[Block]
    broadcast: bool = False
    """A reply in the incident's thread that is also shown in the channel (new severity,
    resolution): the channel hears of those, and of nothing else but the card."""

    def __post_init__(self) -> None:
        if len(self.blocks) > BLOCKS_MAX:
            kept = [*self.blocks[: BLOCKS_MAX - 1], context_block(f"{len(self.blocks) - BLOCKS_MAX + 1} more not shown")]
            object.__setattr__(self, "blocks", kept)
        if len(self.text) > TEXT_MAX:
            object.__setattr__(self, "text", self.text[: TEXT_MAX - 1] + "…")


CARD = "card"
"""The purpose of an incident's card: its thread's parent. Every other message replies in it."""


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


def plain(text: str) -> Message:
    """A one-section message (answers to commands)."""
    return Message(text, [section(text)])


# --- actions -----------------------------------------------------------------------------

APPROVE, REJECT, REASON = "lk_approve", "lk_reject", "lk_reason"
REASON_MAX = 300


def _vote(vote: Vote) -> str:
    verb = "approved" if vote.decision == "approve" else "rejected"
    why = f": “{escape(cut(vote.reason, REASON_MAX))}”" if vote.reason else ""
    return f"{verb} by <@{escape(vote.user_id)}> at {vote.at:%H:%M:%S} UTC{why}"


def action_purpose(action_id: str) -> str:
    """The outbox key of an action's message (one message per action, edited as votes come)."""
    return f"action:{action_id}"


def action_message(action: ActionState, runbook: str | None = None) -> Message:
    """A suggested action with its buttons while it waits for votes; once decided, who
    decided what and when, and what became of it, with no buttons left to click."""
    head = f"*Suggested: {escape(action.kind)} {escape(action.lane)}* ({action.incident_id}) — {escape(action.reason)}"
    approved = sum(1 for v in action.votes if v.decision == "approve")
    state = f"{action.status} · {approved} of {action.approvals_needed} approvals"
    blocks = [section(head), context_block(" · ".join([state, *map(_vote, action.votes)]))]
    if action.outcome:
        blocks.append(section(f"*{escape(action.outcome)}*"))
    if runbook:  # the policy's link, on a host it allows
        name = escape(f"{KIND_NAMES.get(action.kind, action.kind)} {action.lane}")
        blocks.append(context_block(f"Runbook: <{runbook}|{name}>"))
    if action.status == "suggested":
        field = {"type": "plain_text_input", "action_id": REASON, "max_length": REASON_MAX}
        label = {"type": "plain_text", "text": "Why? (optional, shown with your vote)"}
        blocks.append(
            {"type": "input", "block_id": f"reason:{action.action_id}", "optional": True, "element": field, "label": label}
        )
        buttons = [button("Approve", APPROVE, action.action_id, "primary"), button("Reject", REJECT, action.action_id, "danger")]
        blocks.append({"type": "actions", "block_id": f"action:{action.action_id}", "elements": buttons})
    name = KIND_NAMES.get(action.kind, action.kind)
    return Message(escape(f"Suggested {name} {action.lane}: {action.outcome or action.status}"), blocks)
