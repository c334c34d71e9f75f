"""One lane's sliding window: the counters, multisets and sums its facts are read from.

``LiveLanes`` decides which events are inside; this keeps what they add up to, with every
change O(log n) and a status read O(1) per fact (no loop over the window's events).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sortedcontainers import SortedList

from bot.lanes.money import ExactSum
from validators.events import (
    CanaryResult,
    Event,
    LaneReorg,
    QueueDepth,
    SettlementFailed,
    SettlementFinalized,
    SettlementSubmitted,
)
from validators.facts import LaneFacts, Window, nearest_rank

_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class LaneStatus:
    lane: str
    watermark: datetime
    window: Window
    facts: LaneFacts
    events_in_window: int


class LaneWindow:
    """The state of one lane. ``arrivals`` lists ``(ts, arrival order, event)`` not yet
    admitted (sorted when the window moves); heaps hold ``inside``, the window's events in
    time order (to expire), and ``due``, ``(ts, settlement_id)`` when a settlement's pending
    state turns."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.max_ts: datetime | None = None
        self.watermark: datetime | None = None
        self.arrivals: list[tuple[datetime, int, Event]] = []
        self.inside: list[tuple[datetime, int, Event]] = []
        self.due: list[tuple[datetime, str]] = []
        self.events = self.submitted = self.finalized = self.failed = 0
        self.canary_runs = self.canary_failures = self.reorgs = 0
        self._seqs: dict[int, int] = {}
        self._seq_low: list[int] = []  # lazy heaps: entries whose seq left are skipped when read
        self._seq_high: list[int] = []
        self._reorg_depths: SortedList = SortedList()
        self._queue_depths: SortedList = SortedList()
        self.durations: SortedList = SortedList()
        self._divergence: SortedList = SortedList()
        self._bps_of: dict[int, float] = {}
        self.failed_notional = ExactSum()
        self.pending = 0
        self._pending_notional = ExactSum()

    def count(self, ev: Event, sign: int) -> None:
        """Add (+1) or remove (-1) one event's counts."""
        self.events += sign
        seqs, seq = self._seqs, ev.seq
        held = seqs.get(seq, 0) + sign
        if held:
            seqs[seq] = held
            if held == 1 and sign > 0:
                heapq.heappush(self._seq_low, seq)
                heapq.heappush(self._seq_high, -seq)
        else:
            del seqs[seq]
        kind = type(ev)
        if kind is SettlementSubmitted:
            self.submitted += sign
        elif kind is SettlementFinalized:
            self.finalized += sign
        elif kind is SettlementFailed:
            self.failed += sign
        elif kind is CanaryResult:
            self.canary_runs += sign
            if not ev.ok:  # type: ignore[union-attr]
                self.canary_failures += sign
        elif kind is LaneReorg:
            self.reorgs += sign
            _change(self._reorg_depths, ev.depth, sign)  # type: ignore[union-attr]
        elif kind is QueueDepth:
            _change(self._queue_depths, ev.value, sign)  # type: ignore[union-attr]

    def set_divergence(self, order: int, bps: float | None) -> None:
        """The divergence of lane price ``order`` (None: unpaired or gone)."""
        old = self._bps_of.pop(order, None)
        if old is not None:
            self._divergence.remove(old)
        if bps is not None:
            self._bps_of[order] = bps
            self._divergence.add(bps)

    def set_pending(self, notional: float, sign: int) -> None:
        self.pending += sign
        self._pending_notional.add(notional, sign)

    def _seq_bounds(self) -> tuple[int, int] | None:
        low, high, seqs = self._seq_low, self._seq_high, self._seqs
        if not seqs:
            low.clear()
            high.clear()
            return None
        while low[0] not in seqs:
            heapq.heappop(low)
        while -high[0] not in seqs:
            heapq.heappop(high)
        return low[0], -high[0]

    def status(self, window: timedelta, now: datetime) -> LaneStatus:
        """``now``: the newest watermark of any lane, the end silence is measured to."""
        assert self.watermark is not None
        bounds = self._seq_bounds()
        distinct = len(self._seqs)
        durations = self.durations
        resolved = self.finalized + self.failed
        facts = LaneFacts(
            submitted=self.submitted,
            finalized=self.finalized,
            failed=self.failed,
            failure_rate=self.failed / resolved if resolved else 0.0,
            pending=self.pending,
            pending_notional_usd=self._pending_notional.value,
            failed_notional_usd=self.failed_notional.value,
            finality_p50_s=nearest_rank(durations, 50) if durations else None,
            finality_p99_s=nearest_rank(durations, 99) if durations else None,
            finality_max_s=durations[-1] if durations else None,
            seq_gaps=bounds[1] - bounds[0] + 1 - distinct if bounds else 0,
            seq_duplicates=self.events - distinct,
            canary_runs=self.canary_runs,
            canary_failures=self.canary_failures,
            feed_divergence_bps_max=self._divergence[-1] if self._divergence else None,
            reorgs=self.reorgs,
            reorg_max_depth=self._reorg_depths[-1] if self._reorg_depths else 0,
            queue_depth_max=self._queue_depths[-1] if self._queue_depths else 0,
            silence_s=(now + _US - self.watermark).total_seconds(),  # to the end of a window ending at ``now``
        )
        span = Window(self.watermark - window, self.watermark + _US)
        return LaneStatus(self.name, self.watermark, span, facts, self.events)


def _change(values: SortedList, value: Any, sign: int) -> None:
    if sign > 0:
        values.add(value)
    else:
        values.remove(value)
