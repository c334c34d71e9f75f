"""What a person asked for, as Block Kit: lane status, incidents, timelines. Answers to
commands, never posted on the bot's own initiative (that is ``bot.slack``)."""

from __future__ import annotations

from typing import Any

from bot.lanes.live import LaneStatus
from bot.slack.blocks import Message, context_block, escape, lane_line, plain, section, show
from validators.facts import FACT_UNITS
from validators.policy import Policy


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
    blocks = [section(f"*{escape(status.lane)}* · {health} · {severity}"), section(facts), context_block(span)]
    return Message(f"{escape(status.lane)}: {health}", blocks)


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
