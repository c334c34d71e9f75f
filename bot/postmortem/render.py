"""A postmortem draft as Markdown: facts computed from the events, the timeline as stored,
and the narrative only when the validators passed it (else it says facts-only, and why)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.actions.model import Vote
from bot.postmortem.narrative import Narrative
from bot.postmortem.record import Entry, IncidentRecord
from bot.postmortem.times import ResponseTimes
from bot.slack.figures import duration, money, percent
from validators.rules import stamp

DETAIL_KEYS = ("name", "lane", "kind", "decision", "outcome", "from", "to", "reason", "text", "attempt")
CELL_MAX = 300


def cell(value: object) -> str:
    """One table cell: no pipe or newline can break the table out of its row."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    return text if len(text) <= CELL_MAX else text[: CELL_MAX - 1] + "…"


def table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


def clock_time(at: datetime | None) -> str:
    """With its date: a postmortem is read days later, and an incident may span midnight."""
    return "-" if at is None else f"{at:%Y-%m-%d %H:%M:%S}Z"


def took(seconds: float | None, absent: str = "never") -> str:
    return absent if seconds is None else duration(seconds)


def render(record: IncidentRecord, times: ResponseTimes, narrative: Narrative, generated: datetime) -> str:
    context = record.context
    lines = [
        f"# Postmortem draft: #{record.number} {cell(record.title)}",
        "",
        f"- Incident `{record.incident_id}`, {record.severity or 'no severity'}, {record.status}"
        f"; lanes: {', '.join(context.lanes) or 'none'}",
        f"- Window: {stamp(context.window.start)} to {stamp(context.window.end)}"
        f" ({context.events_checked:,} settlement events on its lanes)",
        f"- Drafted at {stamp(generated)} from the store (read only). Every figure is computed from the events.",
        "",
        *_narrative(narrative),
        "",
        "## Impact per lane",
        "",
        *_impact(record, times),
        "",
        "## Response times",
        "",
        f"Counted from the first alert at {clock_time(times.since)}.",
        "",
        *_response(record, times),
        "",
        "## Timeline",
        "",
        *table(["time (UTC)", "what", "who", "detail"], [_entry(e) for e in record.entries]),
        "",
        "## Actions",
        "",
        *_actions(record),
        "",
        "## AI summaries (validated)",
        "",
        *_summaries(record),
        "",
        "## Alerts",
        "",
        *_alerts(record),
    ]
    return "\n".join(lines) + "\n"


def _narrative(narrative: Narrative) -> list[str]:
    if narrative.headline is None:
        return [
            f"> **Facts only**: no narrative ({narrative.refused}). Everything below is computed from the "
            "stored events, alerts and timeline."
        ]
    return [
        "## Narrative",
        "",
        f"**{cell(narrative.headline)}**",
        "",
        *(f"- {cell(s)}" for s in narrative.sentences),
        "",
        "_Written by the AI; every number and time in it was checked against the incident's events, alerts and "
        "timeline by the validators._",
    ]


def _impact(record: IncidentRecord, times: ResponseTimes) -> list[str]:
    detect = {d.lane: d.seconds for d in times.detection}
    rows = []
    for lane in record.context.lanes:
        f = record.context.facts.lane(lane)
        finality = " / ".join(took(v, "n/a") for v in (f.finality_p50_s, f.finality_p99_s, f.finality_max_s))
        rows.append(
            (
                lane,
                f"{f.failed:,}",
                money(f.failed_notional_usd),
                f"{f.pending:,}",
                money(f.pending_notional_usd),
                percent(f.failure_rate),
                finality,
                took(detect.get(lane)),
            )
        )
    header = ["lane", "failed", "failed notional", "pending", "pending notional", "failure rate", "finality p50 / p99 / max"]
    return table([*header, "time to detect"], rows)


def _response(record: IncidentRecord, times: ResponseTimes) -> list[str]:
    rows: list[tuple[str, str, str]] = [
        (f"detect on {d.lane}", clock_time(d.trouble_at) + " → " + clock_time(d.alerted_at), took(d.seconds))
        for d in times.detection
    ]
    at = {"acknowledge": times.acknowledged_at, "mitigate": times.mitigated_at, "resolve": times.resolved_at}
    for step, seconds in times.steps():
        who = f" by {record.acked_by}" if step == "acknowledge" and record.acked_by else ""
        rows.append((step, clock_time(at[step]) + who, took(seconds)))
    return table(["step", "at", "took"], rows)


def _entry(entry: Entry) -> tuple[str, str, str, str]:
    detail = ", ".join(f"{k}: {entry.detail[k]}" for k in DETAIL_KEYS if entry.detail.get(k) not in (None, "", []))
    return clock_time(entry.at), entry.kind, entry.actor or "-", detail or "-"


def _actions(record: IncidentRecord) -> list[str]:
    if not record.actions:
        return ["No action was suggested or taken."]
    rows = []
    for taken in record.actions:
        a = taken.state
        votes = "; ".join(_vote(v) for v in a.votes)
        rows.append((f"{a.kind} {a.lane}", clock_time(taken.suggested_at), a.status, a.outcome or "-", votes or "none"))
    return table(["action", "suggested", "status", "outcome", "votes"], rows)


def _vote(vote: Vote) -> str:
    return f"{vote.decision} by {vote.user_id} at {clock_time(vote.at)}" + (f" ({vote.reason})" if vote.reason else "")


def _alerts(record: IncidentRecord) -> list[str]:
    rows = [(a.name, a.lane or "-", a.status, stamp(a.starts_at), stamp(a.ends_at) if a.ends_at else "-") for a in record.alerts]
    return table(["alert", "lane", "status", "started", "ended"], rows)


def _summaries(record: IncidentRecord) -> list[str]:
    if not record.summaries:
        return ["None: no AI summary passed validation during the incident."]
    lines = []
    for s in record.summaries:
        lines.append(f"- {clock_time(s.at)}: **{cell(s.headline)}**")
        lines += [f"  - {cell(c)}" for c in s.claims]
    return lines
