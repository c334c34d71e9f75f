"""A settlement's trace from the store, for the people in a dispute and for the counterparty.

People read the trace (``lanekeeper settlement ID``, ``/settlement ID``); the counterparty
gets the stored lines themselves (``--export FILE.ndjson``) with a SHA-256 over the file's
bytes, written beside it in ``sha256sum`` format, so ``sha256sum -c FILE.ndjson.sha256``
verifies that what they hold is what was sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from bot.store.events import EventStore
from validators.rules import stamp
from validators.trace import Trace, build_trace

MAX_ID = 200
"""Contract v1.1: an id is at most 200 characters."""


class SettlementError(LookupError):
    """No such settlement, or not an id at all; the message says which."""


@dataclass(frozen=True, slots=True)
class StoredTrace:
    trace: Trace
    lines: tuple[str, ...]
    """The stored line of each step, in the trace's order."""


def load(store: EventStore, settlement_id: str) -> StoredTrace:
    if not settlement_id or len(settlement_id) > MAX_ID or not settlement_id.isprintable():
        raise SettlementError(f"{settlement_id[:40]!r} is not a settlement id (1 to {MAX_ID} printable characters)")
    stored = store.settlement(settlement_id)
    if not stored:
        raise SettlementError(f"no settlement {settlement_id} in the store")
    trace = build_trace(settlement_id, [event for event, _ in stored])
    line_of = {event.event_id: line for event, line in stored}
    return StoredTrace(trace, tuple(line_of[step.event.event_id] for step in trace.steps))


def export(stored: StoredTrace, path: Path) -> str:
    """Write the stored lines to ``path`` and their digest to ``path.sha256``; the digest."""
    data = "".join(line + "\n" for line in stored.lines).encode()
    digest = hashlib.sha256(data).hexdigest()
    path.write_bytes(data)
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return digest


def summary(trace: Trace) -> str:
    """One line: what became of it, where, how long it took."""
    lanes = ", ".join(sorted({s.event.lane for s in trace.steps}))
    took = f" after {trace.total_s:.3f} s" if trace.total_s is not None else ""
    start = stamp(trace.steps[0].event.ts)
    return f"{trace.settlement_id} on {lanes}: {trace.outcome}{took} (first event {start}, {len(trace.steps)} events)"


def table(trace: Trace) -> list[str]:
    """The steps as a fixed-width table: one row per event, every field a dispute needs."""
    header = ["SEQ", "KIND", "TS", "HOP", "BLOCK", "PROOF / REASON", "EVENT"]
    rows = []
    for step in trace.steps:
        ev = step.as_json()
        block = ev["block"]
        where = f"{block['chain']}#{block['number']} {block['hash']} @{block['ts'][11:]}" if block else "-"
        hop = "-" if step.hop_s is None else f"+{step.hop_s:.3f}s"
        said = ev["proof"] or ev["reason"] or "-"
        rows.append([str(ev["seq"]), ev["kind"].removeprefix("settlement."), ev["ts"], hop, where, said, ev["event_id"]])
    widths = [max(len(c) for c in column) for column in zip(header, *rows, strict=False)]
    return ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in [header, *rows]]


def flag_lines(trace: Trace) -> list[str]:
    if not trace.flags:
        return ["no inconsistency found"]
    return [f"! {f.code}: {f.message}" + (f" ({f.event_id})" if f.event_id else "") for f in trace.flags]
