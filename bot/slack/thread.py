"""An incident's timeline, told in its thread as it grows.

Each round takes the entries not yet told (after ``incidents.thread_entry_id``), turns
those people care about into lines, and queues them as replies in the same transaction
that moves the mark: a crash neither loses nor repeats one. Lines of one round are one
reply (an alert storm is one message, not a hundred); a new severity and a resolution are
replies of their own, told to the channel too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, exists, or_, select, update

from bot.actions import is_page
from bot.incidents.flaps import NO_DAMPING, Damping, flap_times
from bot.slack.blocks import CARD, Message, button, context_block, escape, section
from bot.slack.cards import SCHEDULE_DRILL, mention
from bot.slack.figures import duration, threshold, when
from bot.slack.queue import enqueue
from bot.store.engine import reading
from bot.store.tables import incidents, outbox, slack_messages, timeline

ROUND = 500
"""Entries looked at per round; the rest wait for the next one."""
QUOTE_MAX = 500


def _by(entry: Any) -> str:
    return f" by {mention(entry.actor)}" if entry.actor and entry.actor != "lanekeeper" else ""


def _alert(entry: Any, verb: str) -> str:
    lane = entry.detail.get("lane")
    return f"{escape(entry.detail.get('name', 'an alert'))} {verb}" + (f" on {escape(lane)}" if lane else "")


def _severity(entry: Any) -> str:
    reasons = entry.detail.get("reasons", [])
    why = "; ".join(f"{threshold(r['fact'], r['value'], r['threshold'])} on {escape(r['lane'])}" for r in reasons[:3])
    return f"now *{entry.detail.get('to')}* (was {entry.detail.get('from')})" + (f": {why}" if why else "")


def _note(entry: Any) -> str:
    text = str(entry.detail.get("text", ""))
    return f"note{_by(entry)}: “{escape(text[:QUOTE_MAX])}”"


def _escalated(entry: Any) -> str:
    to = ", ".join(mention(who) for who in entry.detail.get("to", [])) or "nobody: the policy names no approvers"
    return f"escalated{_by(entry)} to {to}"


def _reminded(entry: Any) -> str:
    to = ", ".join(mention(who) for who in entry.detail.get("to", [])) or "nobody: the policy names no approvers"
    after = duration(float(entry.detail.get("after_s", 0)))
    return f"not acknowledged for {after} ({entry.detail.get('severity')}): {to}, please acknowledge"


def _paged(entry: Any) -> str:
    if "blocked" in entry.detail:
        return f"not acknowledged: no page sent, {escape(str(entry.detail['blocked']))}"
    return f"not acknowledged: paging the on-call through the escalate action ({escape(entry.detail.get('action_id', ''))})"


def _page_outcome(entry: Any) -> str:
    return f"page {escape(str(entry.detail.get('outcome') or entry.kind.removeprefix('action.')))}"


LINES: dict[str, Callable[[Any], str]] = {
    "alert.firing": lambda e: _alert(e, "fired"),
    "alert.resolved": lambda e: _alert(e, "stopped firing"),
    "alert.inhibited": lambda e: _alert(e, "is inhibited") + f" by {escape(str(e.detail.get('silenced_by', '')))}",
    "incident.acknowledged": lambda e: f"acknowledged{_by(e)}",
    "incident.escalated": _escalated,
    "incident.note": _note,
    "incident.mitigated": lambda e: f"marked mitigated{_by(e)}",
    "incident.open": lambda e: f"open again{_by(e)}" + (f": {escape(e.detail['note'])}" if e.detail.get("note") else ""),
    "incident.resolved": lambda e: f"resolved{_by(e) or ': no alert fires any more'}",
    "incident.severity": _severity,
    "escalation.reminded": _reminded,
    "escalation.paged": _paged,
    **{f"action.{to}": _page_outcome for to in ("approved", "executed", "failed", "unknown", "expired")},
}
BROADCAST = frozenset({"incident.severity", "incident.resolved"})
DRILL_WORTHY = frozenset({"sev1", "sev2"})
"""A resolution of these is followed by the offer to rehearse the incident within 48 hours."""
DRILL_OFFER = "drill-offer"
"""What the channel hears of, beside the card: a new severity and the resolution."""


def _told(entry: Any) -> bool:
    """Lines people read in the thread; an action's steps are told on its own message, a
    page's (which has none) here."""
    if not entry.kind.startswith("action."):
        return entry.kind in LINES
    page = is_page(str(entry.detail.get("action_id", "")))
    return entry.kind in LINES and page and (entry.kind != "action.approved" or bool(entry.detail.get("outcome")))


def tell(engine: Engine, now: datetime, damping: Damping = NO_DAMPING) -> int:
    """Queue the replies for every entry not told yet; how many were queued. ``damping``
    holds back what a flapping incident would tell the channel (it stays in the thread)."""
    with reading(engine) as conn:  # most rounds find nothing: no write lock for that
        pending = conn.execute(_untold(ROUND)).all()
    if not pending:
        return 0
    queued = 0
    with engine.begin() as conn:
        by_incident: dict[str, list[Any]] = {}
        for entry in conn.execute(_untold(ROUND)).all():  # again, inside the transaction that moves the mark
            by_incident.setdefault(entry.incident_id, []).append(entry)
        wanted = select(incidents.c.incident_id, incidents.c.number, incidents.c.severity, incidents.c.flaps).where(
            incidents.c.incident_id.in_(by_incident)
        )
        found = {row.incident_id: row for row in conn.execute(wanted)}
        for incident_id, entries in by_incident.items():
            row = found.get(incident_id)
            number, severity, flaps = (row.number, row.severity, flap_times(row.flaps)) if row is not None else (0, None, [])
            loud = [e for e in entries if e.kind in BROADCAST and not damping.flapping(flaps, e.at)]
            queued += _queue(conn, incident_id, number, entries, loud=loud, now=now)
            if severity in DRILL_WORTHY and any(e.kind == "incident.resolved" for e in entries):
                enqueue(conn, incident_id, DRILL_OFFER, drill_offer(incident_id, number, severity), now)
                queued += 1
            mark = max(e.entry_id for e in entries)
            conn.execute(update(incidents).where(incidents.c.incident_id == incident_id).values(thread_entry_id=mark))
    return queued


def _untold(limit: int) -> Any:
    """Entries not told yet, of incidents whose card is queued or posted: a reply queued
    before its thread's parent would go out as a message of its own in the channel (the card
    waits for group_wait). The outbox sends a queued card before its replies."""
    has_card = or_(
        incidents.c.card.isnot(None),  # drawn: queued in the same transaction (replays and drills keep no slack_messages)
        exists().where(outbox.c.incident_id == incidents.c.incident_id, outbox.c.purpose == CARD),
        exists().where(slack_messages.c.incident_id == incidents.c.incident_id, slack_messages.c.purpose == CARD),
    )
    return (
        select(timeline.c.entry_id, timeline.c.incident_id, timeline.c.at, timeline.c.kind, timeline.c.actor, timeline.c.detail)
        .join(incidents, incidents.c.incident_id == timeline.c.incident_id)
        .where(timeline.c.entry_id > incidents.c.thread_entry_id, has_card)
        .order_by(timeline.c.entry_id)
        .limit(limit)
    )


def _queue(conn: Connection, incident_id: str, number: int, entries: list[Any], *, loud: list[Any], now: datetime) -> int:
    """``loud``: the entries told to the channel too, each a reply of its own; the rest of a
    round is one reply."""
    told = [e for e in entries if _told(e)]
    loud_ids = {e.entry_id for e in loud}
    quiet = [e for e in told if e.entry_id not in loud_ids]
    lines = [f"{when(e.at, now)} · {LINES[e.kind](e)}" for e in quiet]
    queued = 0
    if lines:
        first = min(e.entry_id for e in quiet)
        message = Message(escape(f"#{number}: {len(lines)} update(s)"), [context_block("\n".join(lines))])
        enqueue(conn, incident_id, f"thread:{first}", message, now)
        queued += 1
    for entry in loud:
        text = f"*#{number} {LINES[entry.kind](entry)}* · {when(entry.at, now)}"
        notice = f"#{number} is now {entry.detail.get('to')}" if entry.kind == "incident.severity" else f"#{number} resolved"
        enqueue(conn, incident_id, f"thread:{entry.entry_id}", Message(escape(notice), [section(text)], True), now)
        queued += 1
    return queued


def drill_offer(incident_id: str, number: int, severity: str) -> Message:
    """The thread's offer, once a sev1 or sev2 is resolved, to rehearse it within 48 hours."""
    text = (
        f"Rehearse #{number} ({severity}) within 48 hours: a tabletop drill that replays it "
        f"(`lanekeeper tabletop from-incident #{number}`), to check the escalation paths and rollback triggers."
    )
    buttons = {
        "type": "actions",
        "block_id": f"drill:{incident_id}",
        "elements": [button("Schedule drill", SCHEDULE_DRILL, incident_id)],
    }
    return Message(escape(f"Rehearse #{number} within 48 hours?"), [section(escape(text)), buttons])
