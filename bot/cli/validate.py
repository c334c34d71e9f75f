"""``lanekeeper validate`` (contract §5): check proposals against an event file and a policy.

The events are streamed once, in blocks, whatever the number of proposals: facts for
every proposal's window and the cited events are gathered in the same pass, so memory
stays flat on a million-event file.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from prompts import proposal_schema
from validators import (
    Checker,
    EventStream,
    Evidence,
    FactsBuilder,
    ParseStats,
    PolicyError,
    Report,
    parse_policy,
    view_of,
    window_of,
)
from validators.evidence import AlertRef, event_refs
from validators.facts import Window, WindowFacts
from validators.findings import Code, Violation

CHUNK = 4 << 20
NOTE_LIMIT = 20


class InputError(Exception):
    """An input that cannot be read: exit 2 with this one-line reason."""


class AlertRecord(BaseModel):
    """An alert as the bot stores it; only ``alert_id`` is required."""

    model_config = ConfigDict(extra="allow")
    alert_id: str = Field(min_length=1)
    lane: str | None = None
    starts_at: str | None = None
    labels: dict[str, Any] = {}
    annotations: dict[str, Any] = {}


_ALERTS = TypeAdapter(list[AlertRecord])


@dataclass
class Summary:
    path: str
    doc: Any
    unreadable: str | None = None


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def load_summary(path: str) -> Summary:
    raw = _read(path, "--summary")
    try:
        return Summary(path, json.loads(raw))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return Summary(path, None, f"not valid JSON: {exc}")
    except RecursionError:
        return Summary(path, None, "not valid JSON for a proposal: nested too deep")


def load_alerts(path: str) -> dict[str, AlertRef]:
    try:
        alerts = _ALERTS.validate_json(_read(path, "--alerts"))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"--alerts {path}: {where}: {first['msg']}") from None
    return {a.alert_id: AlertRef(a.lane) for a in alerts}


@dataclass
class EventScan:
    facts: dict[Window, WindowFacts]
    evidence: dict[str, Any]
    stats: ParseStats
    events: int


def scan_events(path: str, windows: set[Window], cited: set[str], progress: TextIO | None) -> EventScan:
    """One streaming pass: facts per window, the cited events, and what was rejected."""
    builder = FactsBuilder(windows) if windows else None
    stream = EventStream()
    refs: dict[str, Any] = {}
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below; read in blocks
    except OSError as exc:
        raise InputError(f"cannot read --events {path}: {exc.strerror or exc}") from None
    # Nothing built here forms reference cycles; without the cyclic collector a million
    # small objects do not trigger repeated full collections (refcounting still frees).
    gc.disable()
    try:
        with handle:
            total = Path(path).stat().st_size or 1
            done, last_note = 0, time.monotonic()
            while chunk := handle.read(CHUNK):
                done += len(chunk)
                _consume(stream.feed(chunk), builder, refs, cited)
                if progress is not None and time.monotonic() - last_note > 1:
                    last_note = time.monotonic()
                    progress.write(f"\rreading events: {stream.lines_read:,} lines ({done * 100 // total}%)")
            _consume(stream.close(), builder, refs, cited)
    finally:
        gc.enable()
    if progress is not None:
        progress.write(f"\rreading events: {stream.lines_read:,} lines (100%)\n")
    facts = builder.result() if builder else {}
    return EventScan(facts, refs, stream.stats, stream.stats.accepted)


def _consume(events: list[Any], builder: FactsBuilder | None, refs: dict[str, Any], cited: set[str]) -> None:
    if builder is not None:
        builder.add(events)
    if cited:
        refs.update(event_refs(events, cited))


def _notes(path: str, stats: ParseStats, unlisted: set[str], out: TextIO) -> None:
    """Tell the operator what in the event file was not used, without drowning them."""
    for item in stats.rejected[:NOTE_LIMIT]:
        out.write(f"{path}:{item.line}: rejected: {item.reason}\n")
    if stats.rejected_total > NOTE_LIMIT:
        out.write(f"{path}: ... and {stats.rejected_total - NOTE_LIMIT} more rejected lines\n")
    for dup in stats.redelivered[:NOTE_LIMIT]:
        out.write(f"{path}:{dup.line}: re-delivery of {dup.event_id} ignored (the first copy is kept)\n")
    if stats.redelivered_total > NOTE_LIMIT:
        out.write(f"{path}: ... and {stats.redelivered_total - NOTE_LIMIT} more re-deliveries\n")
    for kind, count in sorted(stats.unknown_kinds.items()):
        out.write(f"{path}: {count} event(s) of unknown kind {kind!r} kept\n")
    for lane in sorted(unlisted):
        out.write(f"{path}: lane {lane!r} is not in the policy; its events are kept\n")


def _render_text(name: str, report: Report, out: TextIO) -> None:
    if report.ok:
        out.write(f"✓ {name}: ok\n")
        return
    out.write(f"✗ {name}: {len(report.violations)} violation(s)\n")
    for v in report.violations:
        out.write(f"    {v.code:<26} {v.path or '/':<22} {v.message}\n")


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        policy = parse_policy(_read(args.policy, "--policy").decode("utf-8", "replace"))
    except PolicyError as exc:
        err.write(f"lanekeeper validate: --policy {args.policy}: {exc}\n")
        return 2
    except InputError as exc:
        err.write(f"lanekeeper validate: {exc}\n")
        return 2
    try:
        summaries = [load_summary(p) for p in args.summary]
        alerts = load_alerts(args.alerts) if args.alerts else {}
        windows = {w for s in summaries if (w := window_of(s.doc)) is not None}
        cited = set().union(*(view_of(s.doc).cited_ids() for s in summaries))
        progress = err if err.isatty() else None
        scan = scan_events(args.events, windows, cited, progress)
    except InputError as exc:
        err.write(f"lanekeeper validate: {exc}\n")
        return 2
    unlisted = {lane for wf in scan.facts.values() for lane in wf.lanes if lane not in policy.lanes}
    _notes(args.events, scan.stats, unlisted, err)
    checker = Checker(policy, proposal_schema())
    evidence = Evidence(scan.evidence, alerts)
    all_ok = True
    for summary in summaries:
        if summary.unreadable is not None:
            report = Report((Violation(Code.SCHEMA, "", summary.unreadable),))
        else:
            window = window_of(summary.doc)
            report = checker.check(summary.doc, scan.facts.get(window) if window else None, evidence)
        all_ok &= report.ok
        if args.format == "text":
            _render_text(summary.path, report, out)
        elif len(summaries) > 1:
            out.write(json.dumps({"summary": summary.path, **report.as_json()}, ensure_ascii=False) + "\n")
        else:
            out.write(json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n")
    if args.format == "text":
        out.write(f"checked against {scan.events:,} events from {args.events}\n")
    return 0 if all_ok else 1


def add_parser(sub: Any) -> None:
    p = sub.add_parser("validate", help="check summary proposals against events and a policy (contract §5)")
    p.add_argument("--events", required=True, metavar="EVENTS.ndjson")
    p.add_argument("--policy", required=True, metavar="POLICY.yaml")
    p.add_argument(
        "--summary",
        required=True,
        action="append",
        metavar="SUMMARY.json",
        help="a proposal; repeat to check a corpus (one JSON report per line)",
    )
    p.add_argument("--alerts", metavar="ALERTS.json", help="the incident's alerts, a JSON array of objects with alert_id")
    p.add_argument("--format", choices=("json", "text"), default="json", help="json (the contract's report) or text for people")
    p.set_defaults(run=run)
