"""A settlement's trace, for disputes: every event of one settlement in event time, the time
each hop took, and what is missing or inconsistent.

A counterparty disputing a settlement asks what happened to it, step by step, and whether
the record holds together; this answers from the events alone (pure: events in, trace out).
A settlement is submitted, confirmed in a block, then finalized with a proof in that block,
or it fails.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from validators.events import (
    Event,
    SettlementConfirmed,
    SettlementFailed,
    SettlementFinalized,
    SettlementSubmitted,
)
from validators.rules import stamp

SettlementEvent = SettlementSubmitted | SettlementConfirmed | SettlementFinalized | SettlementFailed
_KINDS = (SettlementSubmitted, SettlementConfirmed, SettlementFinalized, SettlementFailed)
_STAGE: dict[type, int] = {SettlementSubmitted: 0, SettlementConfirmed: 1, SettlementFinalized: 2, SettlementFailed: 2}
"""Where each kind comes in a settlement's life."""


@dataclass(frozen=True, slots=True)
class Step:
    event: SettlementEvent
    hop_s: float | None
    """Seconds since the step before (None for the first)."""

    def as_json(self) -> dict[str, Any]:
        ev = self.event
        block = getattr(ev, "block", None)
        return {
            "event_id": ev.event_id,
            "lane": ev.lane,
            "seq": ev.seq,
            "kind": ev.kind,
            "ts": stamp(ev.ts),
            "hop_s": self.hop_s,
            "block": None if block is None else {**_block(block), "ts": stamp(block.ts)},
            "proof": getattr(ev, "proof", None),
            "reason": getattr(ev, "reason", None),
        }


@dataclass(frozen=True, slots=True)
class Flag:
    """Something missing or inconsistent: ``code`` for machines, ``message`` for people."""

    code: str
    message: str
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class Trace:
    settlement_id: str
    steps: tuple[Step, ...]
    flags: tuple[Flag, ...]
    outcome: str
    """``finalized``, ``failed``, ``pending`` (neither yet) or ``conflicting`` (both)."""
    total_s: float | None
    """From the first submission to the first outcome (None when either is missing)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "settlement_id": self.settlement_id,
            "outcome": self.outcome,
            "total_s": self.total_s,
            "steps": [s.as_json() for s in self.steps],
            "flags": [{"code": f.code, "message": f.message, "event_id": f.event_id} for f in self.flags],
        }


def build_trace(settlement_id: str, events: Iterable[Event]) -> Trace:
    """The trace of ``settlement_id`` from its events (in any order); ``ValueError`` when
    there are none or one belongs to another settlement."""
    mine: list[SettlementEvent] = []
    for ev in events:
        if not isinstance(ev, _KINDS) or ev.settlement_id != settlement_id:
            of = getattr(ev, "settlement_id", None)
            raise ValueError(f"{ev.event_id} is an event of {of or 'no settlement'}, not of {settlement_id}")
        mine.append(ev)
    if not mine:
        raise ValueError(f"no events of settlement {settlement_id}")
    mine.sort(key=lambda e: (e.ts, e.seq, e.event_id))
    steps = tuple(Step(ev, None if i == 0 else (ev.ts - mine[i - 1].ts).total_seconds()) for i, ev in enumerate(mine))
    submitted = next((e for e in mine if isinstance(e, SettlementSubmitted)), None)
    finalized = next((e for e in mine if isinstance(e, SettlementFinalized)), None)
    failed = next((e for e in mine if isinstance(e, SettlementFailed)), None)
    ended = [e for e in (finalized, failed) if e is not None]
    outcome = "conflicting" if len(ended) == 2 else ended[0].kind.removeprefix("settlement.") if ended else "pending"
    total = (min(e.ts for e in ended) - submitted.ts).total_seconds() if ended and submitted else None
    flags = _missing(mine, submitted, finalized, failed) + _repeats(mine) + _order(mine) + _blocks(mine) + _lanes(mine)
    return Trace(settlement_id, steps, tuple(flags), outcome, total)


def _missing(
    mine: list[SettlementEvent],
    submitted: SettlementSubmitted | None,
    finalized: SettlementFinalized | None,
    failed: SettlementFailed | None,
) -> list[Flag]:
    found = []
    if submitted is None:
        what = "no settlement.submitted is stored: what was settled, and for how much, is unknown"
        found.append(Flag("submitted.missing", what))
    if finalized is not None and not any(isinstance(e, SettlementConfirmed) for e in mine):
        found.append(Flag("confirmed.missing", "finalized without a settlement.confirmed", finalized.event_id))
    if finalized is not None and finalized.proof is None:
        found.append(Flag("proof.missing", "finalized without a proof", finalized.event_id))
    if finalized is not None and failed is not None:
        found.append(Flag("outcome.conflicting", "both finalized and failed: the outcome is in dispute", finalized.event_id))
    return found


def _lanes(mine: list[SettlementEvent]) -> list[Flag]:
    lanes = sorted({e.lane for e in mine})
    if len(lanes) == 1:
        return []
    return [Flag("lane.mixed", f"events on {len(lanes)} lanes ({', '.join(lanes)}): a settlement runs on one lane")]


def _repeats(mine: list[SettlementEvent]) -> list[Flag]:
    found, seen = [], set()
    for ev in mine:
        if type(ev) in seen:
            found.append(Flag("event.repeated", f"a second {ev.kind} (another event id, the same step)", ev.event_id))
        seen.add(type(ev))
    return found


def _order(mine: list[SettlementEvent]) -> list[Flag]:
    """In event time, each step comes after the ones before it and has a higher seq on its lane."""
    found = []
    for before, ev in pairwise(mine):
        if _STAGE[type(ev)] < _STAGE[type(before)]:
            found.append(Flag("order.kind", f"{ev.kind} at {stamp(ev.ts)} comes after {before.kind}", ev.event_id))
        if ev.lane == before.lane and ev.seq <= before.seq:
            message = f"seq {ev.seq} ({ev.kind}) comes after seq {before.seq} ({before.kind}) in event time"
            found.append(Flag("order.seq", message, ev.event_id))
    return found


def _blocks(mine: list[SettlementEvent]) -> list[Flag]:
    """A settlement is finalized in the block it was confirmed in."""
    confirmed = next((e for e in mine if isinstance(e, SettlementConfirmed)), None)
    found = []
    for ev in mine:
        if isinstance(ev, SettlementFinalized) and confirmed is not None and _block(ev.block) != _block(confirmed.block):
            was = f"{confirmed.block.number} ({confirmed.block.hash})"
            message = f"finalized in block {ev.block.number} ({ev.block.hash}), confirmed in {was}"
            found.append(Flag("block.mismatch", message, ev.event_id))
    return found


def _block(block: Any) -> dict[str, Any]:
    return {"chain": block.chain, "number": block.number, "hash": block.hash}
