"""The figures a heatmap shows, computed once for the picture and for its text table: per
lane and time bucket, each hop's latencies and the settlements that failed.

A settlement's L2 hop is submitted -> confirmed and its L1 hop confirmed -> finalized; a
latency lands in the bucket where the hop ended. Medians and p99s are the contract's
nearest-rank percentiles, as ``finality_p99_s`` is, so the picture, the table and the facts
card never disagree on what a p99 is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from validators.events import Event, SettlementConfirmed, SettlementFailed, SettlementFinalized, SettlementSubmitted, kind_of
from validators.facts import nearest_rank

COLUMNS = 60
KINDS = [kind_of(k) for k in (SettlementSubmitted, SettlementConfirmed, SettlementFinalized, SettlementFailed)]
Row = Literal["L2", "L1", "failed"]
ROWS: tuple[Row, ...] = ("L2", "L1", "failed")
ROW_NAMES: dict[Row, str] = {"L2": "L2 submitted->confirmed", "L1": "L1 confirmed->finalized", "failed": "failed settlements"}


@dataclass(frozen=True, slots=True)
class Figures:
    lanes: list[str]
    start: datetime
    end: datetime
    columns: int = COLUMNS
    latency: dict[tuple[str, Row, int], list[float]] = field(default_factory=dict)
    """(lane, hop, column) -> seconds, ascending: each settlement that ended the hop there."""
    failed: dict[tuple[str, int], int] = field(default_factory=dict)
    """(lane, column) -> how many ``settlement.failed`` events."""

    @property
    def bucket(self) -> timedelta:
        return (self.end - self.start) / self.columns

    def column_of(self, ts: datetime) -> int | None:
        column = int((ts - self.start) / self.bucket)
        return column if 0 <= column < self.columns else None

    def median(self, lane: str, hop: Row, column: int) -> float | None:
        found = self.latency.get((lane, hop, column))
        return nearest_rank(found, 50) if found else None

    def spread(self, lane: str, hop: Row, columns: range) -> tuple[float, float] | None:
        """Median and p99 over several buckets (of every latency in them, not of their medians)."""
        merged = sorted(s for c in columns for s in self.latency.get((lane, hop, c), ()))
        return (nearest_rank(merged, 50), nearest_rank(merged, 99)) if merged else None

    def failures(self, lane: str, columns: range) -> int:
        return sum(self.failed.get((lane, c), 0) for c in columns)


def build(events: Iterable[Event], lanes: list[str], start: datetime, end: datetime, columns: int = COLUMNS) -> Figures:
    """``events`` should start early enough to hold the submissions of what ends in the window."""
    figures = Figures(lanes, start, end, columns)
    submitted: dict[str, datetime] = {}
    confirmed: dict[str, datetime] = {}
    latency: defaultdict[tuple[str, Row, int], list[float]] = defaultdict(list)
    for ev in sorted(events, key=lambda e: e.ts):
        column = figures.column_of(ev.ts)
        if isinstance(ev, SettlementSubmitted):
            submitted.setdefault(ev.settlement_id, ev.ts)
        elif isinstance(ev, SettlementConfirmed) and ev.settlement_id in submitted and ev.settlement_id not in confirmed:
            confirmed[ev.settlement_id] = ev.ts
            if column is not None:
                latency[(ev.lane, "L2", column)].append((ev.ts - submitted[ev.settlement_id]).total_seconds())
        elif isinstance(ev, SettlementFinalized) and ev.settlement_id in confirmed and column is not None:
            latency[(ev.lane, "L1", column)].append((ev.ts - confirmed[ev.settlement_id]).total_seconds())
        elif isinstance(ev, SettlementFailed) and column is not None:
            figures.failed[(ev.lane, column)] = figures.failed.get((ev.lane, column), 0) + 1
    figures.latency.update((key, sorted(values)) for key, values in latency.items())
    return figures


def seconds(value: float) -> str:
    """A latency or a span as people read it: ``0.4s``, ``42s``, ``2m``, ``4.5m``, ``26m``, ``1.2h``."""
    for unit, size in (("h", 3600.0), ("m", 60.0)):
        if value >= size:
            amount = value / size
            return f"{amount:.1f}".removesuffix(".0") + unit if amount < 10 else f"{amount:.0f}{unit}"
    return f"{value:.1f}".removesuffix(".0") + "s" if value < 10 else f"{value:.0f}s"


def window_text(start: datetime, end: datetime, today: date) -> str:
    """``13:35-14:35 UTC``, with the date when the window is not today or crosses midnight."""
    if start.date() == end.date() == today:
        return f"{start:%H:%M}-{end:%H:%M} UTC"
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC"
    return f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
