"""``lanekeeper lanes`` and ``lanekeeper incidents``: the store from a terminal, read only
(a missing store is said, never created). Lane status is the snapshot the server keeps
current: one row per lane, no scan of events, so it answers instantly however many events
are stored."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from bot.clock import utcnow
from bot.config import Settings, SettingsError, load_settings
from bot.incidents import IncidentError
from bot.incidents.silences import Silence, Silences
from bot.incidents.views import MAX_LISTED, list_incidents, show_incident
from bot.lanes import snapshot
from bot.store.engine import StoreError, open_existing
from bot.wiring import load_policy
from validators.rules import stamp


def add_parsers(sub: Any) -> None:
    lanes = sub.add_parser("lanes", help="lane status from the store")
    lanes.add_argument("--json", action="store_true", help="one JSON document")
    lanes.set_defaults(run=lambda a: _with_store(a, _lanes))

    incidents = sub.add_parser("incidents", help="incidents from the store; with an ID, one incident and its timeline")
    incidents.add_argument("incident_id", nargs="?", metavar="ID")
    incidents.add_argument("--status", choices=["open", "mitigated", "resolved"], help="only these (open includes mitigated)")
    incidents.add_argument("--limit", type=int, default=50, help=f"at most this many, 1 to {MAX_LISTED:,} (default 50)")
    incidents.add_argument("--json", action="store_true", help="one JSON document")
    incidents.set_defaults(run=lambda a: _with_store(a, _incidents))


def _with_store(args: argparse.Namespace, action: Callable[[argparse.Namespace, Engine, Settings], int]) -> int:
    try:
        settings = load_settings()
        engine = open_existing(settings.database_url)
    except (SettingsError, StoreError) as exc:
        print(f"lanekeeper {args.command}: {exc}", file=sys.stderr)
        return 2
    try:
        return action(args, engine, settings)
    finally:
        engine.dispose()


def _lanes(args: argparse.Namespace, engine: Engine, settings: Settings) -> int:
    try:
        policy = load_policy(settings.policy)
    except SettingsError as exc:
        print(f"lanekeeper lanes: {exc}", file=sys.stderr)
        return 2
    stored = snapshot.load(engine)
    rows = [{**snapshot.describe(s.status, policy), "updated_at": stamp(s.updated_at)} for s in stored]
    silences = Silences(engine, utcnow)
    active = silences.active()
    if args.json:
        trail = [_silence_doc(s) for s in silences.history()]
        silenced = {lane: _silence_doc(s) for lane, s in active.items()}
        print(json.dumps({"lanes": rows, "silenced": silenced, "silences": trail}, indent=2))
        return 0
    if not rows:
        print("no lane status yet: the server writes it once events arrive (lanekeeper serve, POST /events)")
    else:
        print(
            _table(
                ["LANE", "HEALTH", "SEV", "FAIL%", "P99 FIN", "PENDING $", "GAPS", "CANARY", "DIV bps", "AS OF"],
                [_lane_row(r) for r in rows],
            )
        )
    for lane, silence in active.items():
        until = stamp(silence.ends_at)
        print(f"{lane} silenced until {until} by {silence.created_by}: {silence.reason} ({silence.alerts_muted} muted)")
    return 0


def _silence_doc(silence: Silence) -> dict[str, Any]:
    """A silence as the audit trail keeps it: who, why, when, who ended it."""
    doc: dict[str, Any] = {
        "lane": silence.lane, "starts_at": stamp(silence.starts_at), "ends_at": stamp(silence.ends_at),
        "created_by": silence.created_by, "reason": silence.reason, "alerts_muted": silence.alerts_muted,
        "ended_at": stamp(silence.ended_at) if silence.ended_at else None, "ended_by": silence.ended_by,
    }  # fmt: skip
    return doc


def _lane_row(row: dict[str, Any]) -> list[str]:
    f = row["facts"]
    p99 = "-" if f["finality_p99_s"] is None else f"{f['finality_p99_s']:.0f}s"
    div = "-" if f["feed_divergence_bps_max"] is None else f"{f['feed_divergence_bps_max']:.1f}"
    return [
        row["lane"] + ("" if row["known"] else " (not in policy)"),
        "healthy" if row["healthy"] else "UNHEALTHY",
        row["severity"],
        f"{f['failure_rate'] * 100:.2f}",
        p99,
        f"{f['pending_notional_usd']:,.0f}",
        str(f["seq_gaps"]),
        f"{f['canary_failures']}/{f['canary_runs']}",
        div,
        row["watermark"][11:19] + "Z",
    ]


def _attempt_row(call: dict[str, Any]) -> list[str]:
    report = call["report"] or {}
    codes = sorted({v["code"] for v in report.get("violations", [])})
    tokens = f"{call['prompt_tokens'] or 0}+{call['completion_tokens'] or 0}"
    problem = ", ".join(codes) or report.get("error") or "-"
    prompt = f"{call['template_version']}@{call['template_sha256'][:8]}"
    return [
        str(call["call_id"]),
        str(call["attempt"]),
        call["outcome"],
        call["model"],
        prompt,
        str(call["latency_ms"]),
        tokens,
        problem,
    ]


def _incidents(args: argparse.Namespace, engine: Engine, _: Settings) -> int:
    if not 1 <= args.limit <= MAX_LISTED:  # checked here, not by argparse: one line, no usage text
        print(f"lanekeeper incidents: --limit {args.limit} is out of range; give 1 to {MAX_LISTED:,}", file=sys.stderr)
        return 2
    if args.incident_id:
        try:
            detail = show_incident(engine, args.incident_id)
        except IncidentError as exc:
            print(f"lanekeeper incidents: {exc}", file=sys.stderr)
            return 1
        doc = detail.as_json()
        if args.json:
            print(json.dumps(doc, indent=2))
            return 0
        print(f"{doc['incident_id']}  {doc['status'].upper()}  {doc['title']}  lanes: {', '.join(doc['lanes']) or '-'}")
        print(_table(["ALERT", "NAME", "LANE", "STATUS", "STARTS"], [_alert_row(a) for a in doc["alerts"]]))
        print()
        for entry in doc["timeline"]:
            who = f" by {entry['actor']}" if entry["actor"] else ""
            print(f"{entry['at']}  {entry['kind']}{who}  {json.dumps(entry['detail'], sort_keys=True)}")
        if doc["llm_attempts"]:
            print()
            print(
                _table(
                    ["CALL", "TRY", "OUTCOME", "MODEL", "PROMPT", "MS", "TOKENS", "VIOLATIONS"],
                    [_attempt_row(a) for a in doc["llm_attempts"]],
                )
            )
        return 0
    rows = [r.as_json() for r in list_incidents(engine, args.status, args.limit)]
    if args.json:
        print(json.dumps({"incidents": rows}, indent=2))
        return 0
    if not rows:
        print("no incidents")
        return 0
    table = [
        [
            r["incident_id"],
            r["status"],
            ", ".join(r["lanes"]) or "-",
            f"{r['alerts_firing']}/{r['alerts_total']}",
            r["opened_at"],
            r["title"],
        ]
        for r in rows
    ]
    print(_table(["ID", "STATUS", "LANES", "FIRING", "OPENED", "TITLE"], table))
    return 0


def _alert_row(alert: dict[str, Any]) -> list[str]:
    status = alert["status"] + (" (silenced)" if alert["inhibited"] else "")
    return [alert["alert_id"], alert["name"], alert["lane"] or "-", status, alert["starts_at"]]


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=False)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in [header, *rows])
