"""A drill scenario made from a resolved incident: its stored events and alerts replayed
from T+0, what the policy required then as the expectations, and the team's real response
times as the deadlines (and as the baseline the after-action report compares with).

T+0 is the incident's window start (its first alert minus the lookback), so the drill's
incident opens on the same alert at the same offset and its window covers the same events:
the drill replays to the same facts. The real team's steps become the scripted responders,
each with its role, so people given those roles play them instead. ``anonymise`` replaces
people, settlement, batch and event ids and the alert texts; lanes stay (they are the
policy's, and the drill runs under the policy).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.postmortem.record import IncidentRecord
from bot.tabletop.scenario import Scenario
from validators.policy import Policy
from validators.rules import stamp

START = Scenario.model_fields["start"].default
DEFAULT_ACK = timedelta(minutes=5)
TAIL = timedelta(minutes=1)
IDS = {"event_id": "evt", "settlement_id": "stl", "batch_id": "bat"}


class FromIncidentError(ValueError):
    """The incident cannot be made a drill (still open, no lane); the message says why."""


@dataclass
class _Names:
    """Stable stand-ins for what an anonymised scenario must not carry."""

    anonymise: bool
    seen: dict[tuple[str, str], str] = field(default_factory=dict)

    def __call__(self, kind: str, real: str) -> str:
        if not self.anonymise:
            return real
        key = (kind, real)
        if key not in self.seen:
            count = sum(1 for k, _ in self.seen if k == kind) + 1
            self.seen[key] = f"U0PLAYER{count}" if kind == "user" else f"anon-{kind}-{count:07d}"
        return self.seen[key]


@dataclass(frozen=True, slots=True)
class Made:
    scenario: dict[str, Any]
    """The scenario as YAML writes it (its ``events`` names the file beside it)."""
    lines: list[str]
    """The settlement events, shifted to the scenario's time, one NDJSON line each."""


def scenario_from(
    record: IncidentRecord, policy: Policy, stored: dict[str, str], *, events_file: str, anonymise: bool = False
) -> Made:
    """``stored``: event id -> stored line, for every event of ``record.context``."""
    context = record.context
    if record.status != "resolved" or record.resolved_at is None:
        raise FromIncidentError(f"#{record.number} is not resolved: a drill is made from a finished incident")
    if not context.lanes:
        raise FromIncidentError(f"#{record.number} names no lane: there are no events to replay")
    names = _Names(anonymise)
    t0 = context.window.start
    shift = START - t0
    lines = [_shifted(stored[e.event_id], shift, names) for e in context.events if e.event_id in stored]
    offset = _offsets(t0)
    first = record.first_alert_at
    name = "from-incident" if anonymise else f"from-{record.incident_id}".lower()
    lanes = sorted({*context.lanes, *(json.loads(line)["lane"] for line in lines)})
    scenario: dict[str, Any] = {
        "name": name,
        "title": _title(record, anonymise),
        "description": f"Replays #{record.number}: its events and alerts from T+0, its team's response as the baseline."[:200],
        "start": stamp(START),
        "duration": f"{math.ceil(offset(max(record.resolved_at, context.window.end)) + TAIL.total_seconds())}s",
        "lanes": {lane: _lane(policy, lane) for lane in lanes},
        "events": events_file,
        "injects": [
            {
                "at": round(offset(a.starts_at), 3),
                "alert": {"name": a.name, "lane": a.lane, "severity": a.severity, "summary": "" if anonymise else a.summary},
            }
            for a in record.alerts
            if a.lane is not None and a.starts_at >= t0
        ],
        "expect": list(_expect(record, policy, first)),
        "roles": _roles(record, names),
        "responders": list(_responders(record, names, offset)),
        "baseline": _baseline(record, first, anonymise),
    }
    return Made(scenario, lines)


def _offsets(t0: datetime) -> Any:
    return lambda at: max((at - t0).total_seconds(), 0.0)


def _title(record: IncidentRecord, anonymise: bool) -> str:
    if anonymise:
        return f"Replay of a {record.severity or 'past'} incident on {', '.join(record.context.lanes)}"
    return f"Replay of #{record.number}: {record.title}"


def _lane(policy: Policy, lane: str) -> dict[str, Any]:
    spec = policy.lanes.get(lane)
    found: dict[str, Any] = {"chain": spec.chain if spec else "unknown"}
    if spec is not None and spec.fallback:
        found["fallback"] = spec.fallback
    return found


def _shifted(line: str, shift: timedelta, names: _Names) -> str:
    """One stored event moved to the scenario's time (its block's time too), ids replaced
    when anonymised."""
    doc = json.loads(line)
    doc["ts"] = _move(doc["ts"], shift)
    if isinstance(doc.get("block"), dict) and "ts" in doc["block"]:
        doc["block"]["ts"] = _move(doc["block"]["ts"], shift)
    for key, kind in IDS.items():
        if isinstance(doc.get(key), str):
            doc[key] = names(kind, doc[key])
    return json.dumps(doc, separators=(",", ":")) + "\n"


def _move(ts: str, shift: timedelta) -> str:
    return stamp(datetime.fromisoformat(ts.replace("Z", "+00:00")) + shift)


def _after(at: datetime | None, first: datetime) -> timedelta | None:
    return None if at is None else max(at - first, timedelta(0))


def _within(real: timedelta | None, fallback: timedelta) -> str:
    """A deadline from a real response time, to the whole second above."""
    return f"{math.ceil((real or fallback).total_seconds())}s"


def _exact(after: timedelta | None) -> float:
    """A real response time as it was, to the millisecond: the drill compares with it."""
    return round((after or timedelta(0)).total_seconds(), 3)


def _expect(record: IncidentRecord, policy: Policy, first: datetime) -> Iterator[dict[str, Any]]:
    resolved = _after(record.resolved_at, first) or DEFAULT_ACK
    yield {"decision": "ack", "within": _within(_after(record.acked_at, first), DEFAULT_ACK)}
    facts = record.context.facts
    decided = {(t.state.kind, t.state.lane): t for t in record.actions}
    for lane in record.context.lanes:
        for kind, spec in policy.actions.items():
            if not spec.trigger_any or not policy.triggers_met(kind, lane, facts.lane(lane)):
                continue
            fallback = policy.lanes[lane].fallback if lane in policy.lanes else None
            if spec.needs_healthy_fallback and (fallback is None or policy.unhealthy_because(fallback, facts.lane(fallback))):
                continue  # the policy would not have allowed it then
            taken = decided.get((kind, lane))
            when = _after(taken.decided_at, first) if taken is not None else None
            yield {"decision": "decide", "action": kind, "lane": lane, "within": _within(when, resolved)}
    yield {"decision": "resolve", "within": _within(resolved, resolved)}


def _people(record: IncidentRecord) -> list[tuple[str, datetime, str, str | None]]:
    """(what, when, who, role hint) of every step people took, in time order."""
    steps: list[tuple[str, datetime, str, str | None]] = []
    for entry in record.entries:
        if entry.actor is None or entry.actor == "lanekeeper":
            continue
        if entry.kind == "incident.acknowledged":
            steps.append(("ack", entry.at, entry.actor, "incident_commander"))
        elif entry.kind == "incident.escalated":
            steps.append(("escalate", entry.at, entry.actor, "incident_commander"))
        elif entry.kind == "incident.resolved":
            steps.append(("resolve", entry.at, entry.actor, "incident_commander"))
    for taken in record.actions:
        a = taken.state
        steps += [(f"{v.decision} {a.kind} {a.lane}", v.at, v.user_id, None) for v in a.votes]
    return sorted(steps, key=lambda s: s[1])


ROLE_DUTIES = {"incident_commander": "acknowledges, escalates and resolves"}


def _roles(record: IncidentRecord, names: _Names) -> dict[str, str]:
    roles: dict[str, str] = {}
    for _, _, who, hint in _people(record):
        role = hint or _approver_role(record, who)
        duty = ROLE_DUTIES.get(role, "votes on the actions")
        roles.setdefault(role, f"{duty} (in the incident: {names('user', who)})")
    return roles or {"incident_commander": f"{ROLE_DUTIES['incident_commander']} (no one did in the incident)"}


def _approver_role(record: IncidentRecord, who: str) -> str:
    voters = list(dict.fromkeys(v.user_id for t in record.actions for v in t.state.votes))
    return f"approver_{voters.index(who) + 1}" if who in voters else "approver"


def _responders(record: IncidentRecord, names: _Names, offset: Any) -> Iterator[dict[str, Any]]:
    """The real team's steps; an action is suggested first (by whoever suggested it, or the
    commander for an AI suggestion, which an offline drill has no LLM to make)."""
    commander = next((who for what, _, who, hint in _people(record) if hint), None)
    suggested: set[tuple[str, str]] = set()
    steps = _people(record)
    for taken in record.actions:
        a = taken.state
        by = _suggester(record, a.action_id)
        who = by if by and by != "lanekeeper" else commander or next((v.user_id for v in a.votes), None)
        if who is not None and (a.kind, a.lane) not in suggested:
            suggested.add((a.kind, a.lane))
            # before its first vote whatever the clock that stamped it (the summary process's is the wall clock)
            at = min([taken.suggested_at, *(v.at for v in a.votes), record.resolved_at or taken.suggested_at])
            steps.append((f"suggest {a.kind} {a.lane}", at, who, "incident_commander"))
    for what, at, who, hint in sorted(steps, key=lambda s: (s[1], not s[0].startswith("suggest "))):
        role = hint or _approver_role(record, who)
        yield {"at": round(offset(at), 3), "user": names("user", who), "do": what, "role": role}


def _suggester(record: IncidentRecord, action_id: str) -> str | None:
    return next(
        (e.actor for e in record.entries if e.kind == "action.suggested" and e.detail.get("action_id") == action_id), None
    )


def _baseline(record: IncidentRecord, first: datetime, anonymise: bool) -> dict[str, Any]:
    decisions = {
        f"{'reject' if t.state.status == 'rejected' else 'approve'} {t.state.kind} {t.state.lane}": _exact(
            _after(t.decided_at, first)
        )
        for t in record.actions
        if t.decided_at is not None
    }
    doc: dict[str, Any] = {
        "incident": "anonymised" if anonymise else record.incident_id,
        "severity": record.severity,
        "decisions": decisions,
        "actions": [f"{t.state.kind} {t.state.lane}: {t.state.status}" for t in record.actions],
    }
    for key, at in (("acknowledged", record.acked_at), ("resolved", record.resolved_at)):
        if (after := _after(at, first)) is not None:
            doc[key] = _exact(after)
    return doc
