"""What a person asked for, as Block Kit: lane status, incidents, timelines. Answers to
commands, never posted on the bot's own initiative (that is ``bot.slack``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.chatops.silences import silence_text
from bot.incidents.card import lane_figures
from bot.incidents.silences import Silence
from bot.lanes.live import LaneStatus
from bot.slack.blocks import Message, context_block, escape, plain, section
from bot.slack.cards import lane_text, mention
from bot.slack.figures import LABELS, figure, plural, span, threshold, when
from validators.policy import Policy


def _silenced(lane: str, silences: dict[str, Silence], now: datetime) -> str:
    found = silences.get(lane)
    return "" if found is None else f"\n:no_bell: {silence_text(found, now)}"


def lanes_overview(statuses: dict[str, LaneStatus], policy: Policy, now: datetime, silences: dict[str, Silence]) -> Message:
    quiet = [f"*{escape(lane)}*{_silenced(lane, silences, now)}" for lane in sorted(set(silences) - set(statuses))]
    if not statuses:
        return plain("\n".join(["No settlement events seen yet: no lane has a status.", *quiet]))
    lines = [
        lane_text(lane_figures(lane, s.facts, s.watermark, policy), [], policy, now, now) + _silenced(lane, silences, now)
        for lane, s in sorted(statuses.items())
    ]
    newest = max(s.watermark for s in statuses.values())
    blocks = [section("*Lane status*"), *(section(line) for line in [*lines, *quiet])]
    blocks.append(context_block(f"Live status to {when(newest, now)} · `/lane status LANE` for one lane"))
    return Message("Lane status: " + escape(", ".join(sorted(statuses))), blocks)


def lane_detail(status: LaneStatus, policy: Policy, now: datetime, silence: Silence | None = None) -> Message:
    shown = lane_figures(status.lane, status.facts, status.watermark, policy)
    severity, reasons = policy.severity_of([(status.lane, status.facts)])
    why = "; ".join(threshold(r.fact, r.value, r.threshold) for r in reasons[:3]) or "no severity threshold met"
    facts = status.facts.as_dict()
    rows = "\n".join(figure(name, facts) for name in LABELS if name != "pending_notional_usd")
    head = lane_text(shown, [], policy, now, now).split("\n", 1)[0] + _silenced(
        status.lane, {status.lane: silence} if silence else {}, now
    )
    counted = plural(status.events_in_window, "event")
    figures_over = f"Figures over {span(status.window.start, status.window.end, now)} · {counted}"
    blocks = [section(head), section(f"*{severity}*: {why} · *{shown.trust}*"), section(rows), context_block(figures_over)]
    return Message(f"{escape(status.lane)}: {severity}", blocks)


def incidents_list(rows: list[dict[str, Any]]) -> Message:
    if not rows:
        return plain("No incidents.")
    lines = [
        f"*#{r['number']}* {r['status']} {r['severity'] or ''} · {escape(', '.join(r['lanes']))} · "
        f"{escape(r['title'])} · {r['alerts_firing']}/{plural(r['alerts_total'], 'alert')} firing"
        + (f" · acknowledged by {mention(r['acked_by'])}" if r["acked_by"] else "")
        + f" · `{escape(r['incident_id'])}`"
        for r in rows
    ]
    return Message(plural(len(rows), "incident"), [section("\n".join(lines))])


def incident_detail(doc: dict[str, Any]) -> Message:
    alerts = "\n".join(
        f"• {escape(a['name'])} ({a['status']}) {escape(a['lane'] or '-')} since {a['starts_at']}" for a in doc["alerts"]
    )
    lanes = escape(", ".join(doc["lanes"]))
    title = f"*#{doc['number']}* {doc['status']} · {escape(doc['title'])} · lanes {lanes} · `{escape(doc['incident_id'])}`"
    blocks = [section(title), section(alerts or "no alerts")]
    attempts = doc.get("llm_attempts", [])
    if attempts:
        blocks.append(context_block("AI summary attempts: " + ", ".join(a["outcome"] for a in attempts)))
    return Message(f"#{doc['number']} {doc['status']}", blocks)


def _entry(entry: dict[str, Any]) -> str:
    actor = entry["actor"]
    by = f" by {mention(actor)}" if actor and actor != "lanekeeper" else ""
    return f"{entry['at'][11:19]}Z {escape(entry['kind'])}{by}"


def incident_timeline(doc: dict[str, Any]) -> Message:
    lines = [_entry(e) for e in doc["timeline"]][-40:]
    title = f"*#{doc['number']} timeline* (`{escape(doc['incident_id'])}`)"
    return Message(f"#{doc['number']} timeline", [section(title), section("\n".join(lines))])
