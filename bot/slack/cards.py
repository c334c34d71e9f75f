"""An incident's card: the parent of its thread, edited in place as its figures, severity,
state and summary change.

A card never contradicts the data: a lane that went silent reads "no data since …", a lane
within the policy's thresholds while its alert fires says which is newer, the alert or the
events; the severity says why; every figure carries its unit and the window it covers, the
same way on every version. Figures shown are the ones computed from the events, never the
model's. Every dynamic text is escaped, so no input can mention anyone or forge a link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from bot.incidents.card import CardData, Figures, LaneFigures, Threshold, load
from bot.incidents.flaps import Damping, flap_times
from bot.slack.blocks import CARD, Block, Message, button, context_block, escape, section
from bot.slack.figures import KEY_FACTS, duration, figure, plural, span, threshold, when
from bot.slack.queue import enqueue
from bot.store.tables import actions, alerts, incidents, timeline
from validators.policy import Policy

ACK, RESOLVE, ESCALATE = "lk_ack", "lk_resolve", "lk_escalate"
POSTMORTEM = "lk_postmortem"
SCHEDULE_DRILL = "lk_schedule_drill"
MAX_FIRING = 10


@dataclass(frozen=True, slots=True)
class Firing:
    name: str
    lane: str | None
    starts_at: datetime


@dataclass(frozen=True, slots=True)
class Step:
    """Something a person did to the incident, as the card shows it."""

    actor: str | None
    at: datetime
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class IncidentView:
    incident_id: str
    number: int
    title: str
    status: str
    opened_at: datetime
    acked: Step | None
    escalations: tuple[Step, ...]
    resolved: Step | None
    flaps: tuple[datetime, ...]
    """When it fired again soon after resolving and was reopened."""
    automatic: tuple[Step, ...]
    """Escalation steps taken because nobody acknowledged (a page's detail holds its outcome)."""
    firing: tuple[Firing, ...]
    data: CardData | None


def view_of(conn: Connection, incident_id: str) -> IncidentView:
    row = conn.execute(select(incidents).where(incidents.c.incident_id == incident_id)).mappings().one()
    firing = conn.execute(
        select(alerts.c.name, alerts.c.lane, alerts.c.starts_at)
        .where(alerts.c.incident_id == incident_id, alerts.c.status == "firing", alerts.c.inhibited.is_(False))
        .order_by(alerts.c.starts_at)
    ).all()
    steps = conn.execute(
        select(timeline.c.kind, timeline.c.actor, timeline.c.at, timeline.c.detail)
        .where(
            timeline.c.incident_id == incident_id,
            timeline.c.kind.in_(STEPS),
        )
        .order_by(timeline.c.entry_id)
    ).all()
    by_kind: dict[str, list[Step]] = {}
    for step in steps:
        by_kind.setdefault(step.kind, []).append(Step(step.actor, step.at, dict(step.detail)))
    resolved = by_kind.get("incident.resolved", [])
    automatic = sorted(by_kind.get("escalation.reminded", []) + by_kind.get("escalation.paged", []), key=lambda s: s.at)
    pages = [s.detail["action_id"] for s in automatic if s.detail.get("action_id")]
    outcomes = dict(conn.execute(select(actions.c.action_id, actions.c.outcome).where(actions.c.action_id.in_(pages))).all())
    automatic = [Step(s.actor, s.at, {**s.detail, "outcome": outcomes.get(s.detail.get("action_id"))}) for s in automatic]
    return IncidentView(
        incident_id=incident_id,
        number=row["number"],
        title=row["title"],
        status=row["status"],
        opened_at=row["opened_at"],
        acked=Step(row["acked_by"], row["acked_at"], {}) if row["acked_by"] else None,
        escalations=tuple(by_kind.get("incident.escalated", [])),
        resolved=resolved[-1] if row["status"] == "resolved" and resolved else None,
        flaps=tuple(flap_times(row["flaps"])),
        automatic=tuple(automatic),
        firing=tuple(Firing(f.name, f.lane, f.starts_at) for f in firing),
        data=load(conn, incident_id),
    )


STEPS = ("incident.acknowledged", "incident.escalated", "incident.resolved", "escalation.reminded", "escalation.paged")
"""Timeline entries the card shows."""


def queue_card(conn: Connection, incident_id: str, policy: Policy, now: datetime) -> None:
    """Draw the card as the store has it now and queue it (an edit once it was posted).

    The incident's row is locked first, as ``bot.incidents.card.store`` does: two drawing
    the card at once (a redraw at a tick, the summary process) take turns. Without it, on
    PostgreSQL, the redraw's new outbox row waits for the incident's row (its foreign key)
    that the summary holds, while the summary waits for that outbox row: a deadlock."""
    conn.execute(select(incidents.c.incident_id).where(incidents.c.incident_id == incident_id).with_for_update())
    enqueue(conn, incident_id, CARD, draw(view_of(conn, incident_id), policy, now), now)


def mention(user_or_group: str) -> str:
    return f"<!subteam^{escape(user_or_group)}>" if user_or_group.startswith("S") else f"<@{escape(user_or_group)}>"


def draw(view: IncidentView, policy: Policy, now: datetime) -> Message:
    data = view.data
    severity = data.figures.severity if data else "severity pending"
    title = f"#{view.number} · {severity} · {escape(view.title)}"
    blocks: list[Block] = [section(f"*{title}*" + (" · resolved" if view.status == "resolved" else "")), _state(view, now)]
    if view.flaps:
        blocks.append(context_block(_flaps(view.flaps, Damping.of(policy), now)))
    if data is None:
        blocks.append(section("Figures: computing…"))
        return _finish(view, blocks, f"#{view.number} {view.title}")
    reference = view.resolved.at if view.resolved else now  # a resolved incident's lanes, as they were then
    blocks.append(section(_severity(data.figures)))
    if data.summary is not None:
        blocks.extend(_summary(data))
    blocks.append(section(_lanes(data.figures, view.firing, policy, reference, now)))
    books = [(lane.lane, policy.runbook(lane=lane.lane)) for lane in data.figures.lanes]
    links = [f"<{url}|{escape(lane)} runbook>" for lane, url in books if url]
    if links:
        blocks.append(context_block("Runbooks: " + " · ".join(links)))
    blocks.append(context_block(_basis(data.figures, view.firing, now)))
    blocks.append(context_block(escape(_ai_note(data, view.incident_id))))
    return _finish(view, blocks, f"#{view.number} {severity}: {view.title}")


def _finish(view: IncidentView, blocks: list[Block], text: str) -> Message:
    """A live incident's buttons change it; a resolved one's only drafts its postmortem."""
    if view.status == "resolved":
        buttons = [button("Draft postmortem", POSTMORTEM, view.incident_id)]
    else:
        buttons = [button("Resolve", RESOLVE, view.incident_id), button("Escalate", ESCALATE, view.incident_id, "danger")]
        if view.acked is None:
            buttons.insert(0, button("Acknowledge", ACK, view.incident_id, "primary"))
    blocks.append({"type": "actions", "block_id": f"incident:{view.incident_id}", "elements": buttons})
    return Message(escape(text), blocks)


def _state(view: IncidentView, now: datetime) -> Block:
    if view.status == "resolved":
        parts = [_resolution(view, now)]
    else:
        parts = [f"{view.status.capitalize()} since {when(view.opened_at, now)}"]
    if view.acked is not None:
        parts.append(f"acknowledged by {mention(view.acked.actor or '')} at {when(view.acked.at, now)}")
    else:
        parts.append("not acknowledged")
    for step in view.escalations:
        to = ", ".join(mention(who) for who in step.detail.get("to", [])) or "nobody (the policy names no approvers)"
        parts.append(f"escalated by {mention(step.actor or '')} to {to} at {when(step.at, now)}")
    parts.extend(_automatic(step, now) for step in view.automatic)
    return context_block(" · ".join(parts))


def _automatic(step: Step, now: datetime) -> str:
    """A reminder or a page the policy made because nobody acknowledged (by then: the card
    may say acknowledged now, so the step does not repeat "not acknowledged")."""
    to = ", ".join(mention(who) for who in step.detail.get("to", [])) or "nobody (the policy names no approvers)"
    if "action_id" not in step.detail and "blocked" not in step.detail:
        return f"reminded {to} at {when(step.at, now)}"
    outcome = step.detail.get("outcome") or (
        "not sent: " + str(step.detail["blocked"]) if "blocked" in step.detail else "calling…"
    )
    return f"paged the on-call at {when(step.at, now)} ({escape(outcome)})"


MAX_FLAPS = 6


def _flaps(flaps: tuple[datetime, ...], damping: Damping, now: datetime) -> str:
    """How often it came back, when, and whether the channel still hears of it."""
    times = ", ".join(when(f, now) for f in flaps[-MAX_FLAPS:]) + (" and earlier" if len(flaps) > MAX_FLAPS else "")
    said = f"Reopened {plural(len(flaps), 'time')} after resolving (flaps: {times})"
    if damping.flapping(flaps, now):
        quiet = duration(damping.quiet.total_seconds())
        return f"*Flapping* · {said} · the channel is not told of each change until the lane is quiet for {quiet}"
    return said


def _resolution(view: IncidentView, now: datetime) -> str:
    step = view.resolved
    if step is None:
        return "Resolved"
    by = f" by {mention(step.actor)}" if step.actor and step.actor != "lanekeeper" else ": no alert fires any more"
    return f"Resolved at {when(step.at, now)}{by}"


def _severity(figures: Figures) -> str:
    if not figures.reasons:
        return f"*{figures.severity}*: no severity threshold of the policy is met"
    shown = [_met(r) for r in figures.reasons[:3]]
    more = f" and {len(figures.reasons) - 3} more" if len(figures.reasons) > 3 else ""
    return f"*{figures.severity}*: " + "; ".join(shown) + more


def _met(reason: Threshold) -> str:
    return f"{threshold(reason.fact, reason.value, reason.threshold)} on {escape(reason.lane)}"


def _lanes(figures: Figures, firing: tuple[Firing, ...], policy: Policy, reference: datetime, now: datetime) -> str:
    if figures.note:
        return escape(figures.note)
    if not figures.lanes:
        return "No lane: the incident's alerts carry no lane label, so there are no figures to show."
    lines = [lane_text(lane, [f for f in firing if f.lane == lane.lane], policy, reference, now) for lane in figures.lanes]
    return "\n".join(lines)


def lane_text(lane: LaneFigures, firing: list[Firing], policy: Policy, reference: datetime, now: datetime) -> str:
    """A lane as a person should read it: silent, over thresholds (why), or within them;
    within them while its alert fires says which of the two is newer."""
    name = f"*{escape(lane.lane)}*"
    if lane.newest is None:
        return f"{name} no data: no event seen on this lane"
    silent_s = (reference - lane.newest).total_seconds()
    if silent_s > policy.silent_after_s:
        limit = duration(policy.silent_after_s)
        return f"{name} no data since {when(lane.newest, now)} (silent {duration(silent_s)}; a lane is silent after {limit})"
    figures = " · ".join([figure(fact, lane.facts) for fact in KEY_FACTS] + ([f"*{lane.trust}*"] if lane.trust else []))
    if lane.breaches:
        state = "over the policy's health thresholds: " + "; ".join(
            threshold(b.fact, b.value, b.threshold) for b in lane.breaches[:3]
        )
    elif firing:
        state = _disagreement(lane, firing, now)
    else:
        state = "within the policy's health thresholds"
    return f"{name} {state}\n{figures}"


def _disagreement(lane: LaneFigures, firing: list[Firing], now: datetime) -> str:
    """The alert says the lane is in trouble and the events do not: say which is newer."""
    assert lane.newest is not None
    names = ", ".join(escape(f.name) for f in firing[:3])
    started = max(f.starts_at for f in firing)
    if lane.newest >= started:
        why = (
            f"its events to {when(lane.newest, now)} are newer than the alert ({when(started, now)}) and meet no "
            "threshold: check what the alert measures"
        )
    else:
        last = when(lane.newest, now)
        why = f"the alert ({when(started, now)}) is newer than the lane's last event ({last}): events may be late"
    return f"within the policy's health thresholds while {names} fires; {why}"


def _basis(figures: Figures, firing: tuple[Firing, ...], now: datetime) -> str:
    source = "live status" if figures.source == "live" else "checked against the incident's events"
    names = ", ".join(escape(f.name) for f in firing[:MAX_FIRING])
    more = f" and {len(firing) - MAX_FIRING} more" if len(firing) > MAX_FIRING else ""
    counted = f"{plural(figures.events, 'event')}, {source}"
    return f"Figures over {span(figures.start, figures.end, now)} · {counted} · firing: {names or 'none'}{more}"


def _summary(data: CardData) -> list[Block]:
    assert data.summary is not None
    claims = [f"• {escape(c.lane)} {figure(c.fact, {c.fact: c.value})} — {escape(c.text)}" for c in data.summary.claims]
    suggested = [
        f"• *{escape(a.kind)}* {escape(a.lane)}: {escape(a.reason)}"
        + (f" — decided already: {escape(a.decided)}" if a.decided else "")
        for a in data.summary.actions
    ]
    blocks = [section(f"*{escape(data.summary.headline)}*")]
    if claims:
        blocks.append(section("\n".join(claims)))
    if suggested:
        blocks.append(section("*Suggested (needs approval, in the thread):*\n" + "\n".join(suggested)))
    return blocks


def summary_reply(data: CardData) -> Message:
    """A validated summary as a reply in the thread: the card shows the latest; the thread
    keeps each, so what the channel was told stays readable."""
    assert data.summary is not None
    note = context_block("AI summary, validated against the raw events and the policy; figures computed from the events.")
    return Message(escape(f"AI summary: {data.summary.headline}"), [*_summary(data), note])


def _ai_note(data: CardData, incident_id: str) -> str:
    if data.ai == "pending":
        return "AI summary: validating…"
    if data.ai == "validated":
        return "AI summary above: validated against the raw events and the policy."
    if data.ai == "off":
        return "Facts only: no LLM is configured for this bot."
    return f"Facts only: {data.withheld or 'the AI summary was withheld'} (see `lanekeeper incidents {incident_id}`)."
