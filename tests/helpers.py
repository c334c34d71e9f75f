"""Test helpers: the contract example's location, and a builder for small event streams
that go through the real NDJSON parser."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from validators.events import Event
from validators.facts import Window
from validators.ndjson import parse_events

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "contract"
T = TypeVar("T")
T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(minutes=30))


class EventClock:
    """The bot's clock in a world of March events: it starts at ``start`` and runs with the
    wall clock from there (the outbox and bolt still wait real time); ``advance`` jumps, as
    an hour passing in the scenario would. Without it, March's events read as silent for
    months, which is what a bot whose clock says December should say."""

    def __init__(self, start: datetime) -> None:
        self.start, self._origin, self._skip = start, time.monotonic(), timedelta(0)

    def __call__(self) -> datetime:
        return self.start + self._skip + timedelta(seconds=time.monotonic() - self._origin)

    def advance(self, seconds: float) -> None:
        self._skip += timedelta(seconds=seconds)


def at(seconds: float) -> str:
    """An RFC 3339 UTC stamp ``seconds`` after 14:00Z."""
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_DEFAULTS: dict[str, dict[str, Any]] = {
    "settlement.submitted": {"settlement_id": "stl-1", "asset": "ETH", "amount": "1.5", "notional_usd": 1000.0},
    "settlement.confirmed": {"settlement_id": "stl-1"},
    "settlement.finalized": {"settlement_id": "stl-1"},
    "settlement.failed": {"settlement_id": "stl-1", "reason": "proof_rejected"},
    "batch.posted": {"batch_id": "bat-1"},
    "proof.verified": {"batch_id": "bat-1", "proof": "0xabcd"},
    "canary.result": {"ok": True, "latency_us": 250000},
    "feed.price": {"symbol": "ETH-USD", "source": "lane", "price": 3000.0},
    "queue.depth": {"value": 10},
    "lane.reorg": {"depth": 1},
}


class Stream:
    """Builds NDJSON lines with unique ids and per-lane increasing seqs."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._seq: dict[str, int] = defaultdict(lambda: 1000)

    def add(self, kind: str, t: float, lane: str = "l2-arb", **fields: Any) -> str:
        event_id = fields.pop("event_id", f"evt-{len(self.lines) + 1:07d}")
        seq = fields.pop("seq", None)
        if seq is None:
            self._seq[lane] += 1
            seq = self._seq[lane]
        body = {**_DEFAULTS[kind], **fields} if kind in _DEFAULTS else fields
        if kind in ("settlement.confirmed", "settlement.finalized", "batch.posted") and "block" not in body:
            body["block"] = {"chain": "arb", "number": 1, "ts": at(t), "hash": "0x01"}
        self.lines.append(json.dumps({"event_id": event_id, "ts": at(t), "lane": lane, "seq": seq, "kind": kind, **body}))
        return event_id

    def settle(
        self, sid: str, t_submit: float, t_end: float | None, *, ok: bool = True, lane: str = "l2-arb", notional: float = 1000.0
    ) -> None:
        self.add("settlement.submitted", t_submit, lane, settlement_id=sid, notional_usd=notional)
        if t_end is not None:
            self.add("settlement.finalized" if ok else "settlement.failed", t_end, lane, settlement_id=sid)

    def ndjson(self) -> bytes:
        return ("\n".join(self.lines) + "\n").encode()

    def events(self) -> list[Event]:
        events, stats = parse_events([self.ndjson()])
        assert not stats.rejected, stats.rejected
        return events


def load_example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((EXAMPLE / name).read_text())
    return doc


def proposal(**overrides: Any) -> dict[str, Any]:
    """A minimal well-formed proposal over ``WINDOW`` on l2-arb, for unit tests."""
    doc: dict[str, Any] = {
        "schema_version": 1,
        "incident_id": "inc-test",
        "headline": "l2-arb incident",
        "severity": "sev4",
        "status": "investigating",
        "lanes": ["l2-arb"],
        "window": {"start": "2026-03-02T14:00:00Z", "end": "2026-03-02T14:30:00Z"},
        "claims": [],
        "actions": [],
    }
    doc.update(overrides)
    return doc


def wait_for(condition: Callable[[], T], timeout: float = 15.0, what: str = "condition") -> T:
    """Poll ``condition`` until it is truthy; its value. Fails naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return found


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]
