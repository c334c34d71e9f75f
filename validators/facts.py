"""Facts: what the raw events say, per lane, over a window (contract §2).

``FactsBuilder`` is fed events in any order, in one pass, and keeps only what the
definitions need (per-settlement times, the window's sequence ids, reference prices), so
a million-event stream is summarised without holding the events. Several windows can be
built in the same pass (``lanekeeper validate`` with many proposals reads events once).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import Enum

from validators.events import (
    CanaryResult,
    Event,
    FeedPrice,
    LaneReorg,
    QueueDepth,
    SettlementConfirmed,
    SettlementFailed,
    SettlementFinalized,
    SettlementSubmitted,
)
from validators.seqs import SeqRanges


class Unit(Enum):
    """What a fact measures; decides how a number written in prose can express it."""

    COUNT = "count"
    RATIO = "ratio"
    USD = "usd"
    SECONDS = "seconds"
    BPS = "bps"


FACT_UNITS: dict[str, Unit] = {
    "submitted": Unit.COUNT,
    "finalized": Unit.COUNT,
    "failed": Unit.COUNT,
    "failure_rate": Unit.RATIO,
    "pending": Unit.COUNT,
    "pending_notional_usd": Unit.USD,
    "failed_notional_usd": Unit.USD,
    "finality_p50_s": Unit.SECONDS,
    "finality_p99_s": Unit.SECONDS,
    "finality_max_s": Unit.SECONDS,
    "seq_gaps": Unit.COUNT,
    "seq_duplicates": Unit.COUNT,
    "canary_runs": Unit.COUNT,
    "canary_failures": Unit.COUNT,
    "feed_divergence_bps_max": Unit.BPS,
    "reorgs": Unit.COUNT,
    "reorg_max_depth": Unit.COUNT,
    "queue_depth_max": Unit.COUNT,
    "silence_s": Unit.SECONDS,
    "trust_score": Unit.COUNT,
}
FACT_NAMES: tuple[str, ...] = tuple(FACT_UNITS)
COUNT_FACTS: frozenset[str] = frozenset(n for n, u in FACT_UNITS.items() if u is Unit.COUNT)
TOLERANCE = 0.01  # relative, for every fact that is not a count


@dataclass(frozen=True, slots=True)
class Window:
    """``[start, end)`` in event time."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window times must be timezone-aware")
        if self.end <= self.start:
            raise ValueError("window end must be after its start")

    @property
    def length_s(self) -> float:
        return (self.end - self.start).total_seconds()

    def __contains__(self, ts: datetime) -> bool:
        return self.start <= ts < self.end


@dataclass(frozen=True, slots=True)
class LaneFacts:
    """Every fact of one lane over one window; ``None`` where the contract says absent."""

    submitted: int = 0
    finalized: int = 0
    failed: int = 0
    failure_rate: float = 0.0
    pending: int = 0
    pending_notional_usd: float = 0.0
    failed_notional_usd: float = 0.0
    finality_p50_s: float | None = None
    finality_p99_s: float | None = None
    finality_max_s: float | None = None
    seq_gaps: int = 0
    seq_duplicates: int = 0
    canary_runs: int = 0
    canary_failures: int = 0
    feed_divergence_bps_max: float | None = None
    reorgs: int = 0
    reorg_max_depth: int = 0
    queue_depth_max: int = 0
    silence_s: float | None = None
    """Seconds from the lane's newest event before the window's end to that end (an
    addition to contract §2); absent when the lane has no event before the end."""
    trust_score: int | None = None
    """0 to 100 from the facts above and the policy (``validators.trust``, an addition to
    contract §2); absent until scored."""

    def value(self, fact: str) -> float | None:
        if fact not in FACT_UNITS:
            raise KeyError(fact)
        result: float | None = getattr(self, fact)
        return result

    def as_dict(self) -> dict[str, float | None]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class WindowFacts:
    """The facts of every lane seen, for one window."""

    window: Window
    lanes: dict[str, LaneFacts]
    events_in_window: int
    last_trouble: dict[str, datetime]
    """Per lane, the newest failed settlement or failed canary before the window's end."""
    pending_ids: frozenset[str] = frozenset()
    """The settlements pending at the window's end (what a pending claim may cite)."""

    def lane(self, lane: str) -> LaneFacts:
        return self.lanes.get(lane, _EMPTY)


_EMPTY = LaneFacts()


def nearest_rank(ascending: Sequence[float], percent: int) -> float:
    """The value at rank ``ceil(percent/100 * n)`` (integer arithmetic: no float ceil drift)."""
    rank = -(-percent * len(ascending) // 100)
    return ascending[max(rank, 1) - 1]


@dataclass(slots=True)
class _Settlement:
    """What the facts need of one settlement: its earliest submission and end."""

    submitted_ts: datetime | None = None
    notional_usd: float = 0.0
    lane: str = ""
    terminal_ts: datetime | None = None


_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(slots=True)
class _LaneAcc:
    events: int = 0
    newest: datetime = _NEVER
    seqs: SeqRanges = field(default_factory=SeqRanges)
    submitted: int = 0
    finalized: int = 0
    failed: int = 0
    finalized_at: dict[str, datetime] = field(default_factory=dict)
    failed_ids: set[str] = field(default_factory=set)
    canary_runs: int = 0
    canary_failures: int = 0
    lane_prices: list[tuple[datetime, str, float]] = field(default_factory=list)
    reorgs: int = 0
    reorg_max_depth: int = 0
    queue_depth_max: int = 0


class _WindowAcc:
    """Per-lane counters for one window. ``add`` is the hot loop: locals bound, the most
    common kinds tested first."""

    __slots__ = ("before", "end", "lanes", "last_trouble", "start", "window")

    def __init__(self, window: Window) -> None:
        self.window = window
        self.start = window.start
        self.end = window.end
        self.lanes: dict[str, _LaneAcc] = {}
        self.last_trouble: dict[str, datetime] = {}
        self.before: dict[str, datetime] = {}
        """Per lane, the newest event before the window (silence of a lane quiet all through it)."""

    def add(self, events: Sequence[Event]) -> None:
        start, end, lanes, trouble, before = self.start, self.end, self.lanes, self.last_trouble, self.before
        for ev in events:
            ts = ev.ts
            if ts >= end:
                continue
            kind = type(ev)
            if kind is SettlementFailed or (kind is CanaryResult and not ev.ok):  # type: ignore[union-attr]
                newest = trouble.get(ev.lane)
                if newest is None or ts > newest:
                    trouble[ev.lane] = ts
            if ts < start:
                if ts > before.get(ev.lane, _NEVER):
                    before[ev.lane] = ts
                continue
            acc = lanes.get(ev.lane)
            if acc is None:
                acc = lanes[ev.lane] = _LaneAcc()
            acc.events += 1
            if ts > acc.newest:  # noqa: PLR1730 (not max(): a call per event is the hot loop's cost)
                acc.newest = ts
            seq, his = ev.seq, acc.seqs.his
            if his and seq == his[-1] + 1:  # the common case, inlined: the next id in order
                his[-1] = seq
                acc.seqs.distinct += 1
            else:
                acc.seqs.add(seq)
            if kind is SettlementConfirmed:
                continue
            if kind is SettlementSubmitted:
                acc.submitted += 1
            elif kind is SettlementFinalized:
                acc.finalized += 1
                sid = ev.settlement_id  # type: ignore[union-attr]
                first = acc.finalized_at.get(sid)
                if first is None or ts < first:
                    acc.finalized_at[sid] = ts
            elif kind is SettlementFailed:
                acc.failed += 1
                acc.failed_ids.add(ev.settlement_id)  # type: ignore[union-attr]
            elif kind is FeedPrice:
                if ev.source == "lane":  # type: ignore[union-attr]
                    acc.lane_prices.append((ts, ev.symbol, ev.price))  # type: ignore[union-attr]
            elif kind is QueueDepth:
                acc.queue_depth_max = max(acc.queue_depth_max, ev.value)  # type: ignore[union-attr]
            elif kind is CanaryResult:
                acc.canary_runs += 1
                if not ev.ok:  # type: ignore[union-attr]
                    acc.canary_failures += 1
            elif kind is LaneReorg:
                acc.reorgs += 1
                acc.reorg_max_depth = max(acc.reorg_max_depth, ev.depth)  # type: ignore[union-attr]


class FactsBuilder:
    """One pass over events (any order) -> ``WindowFacts`` for each requested window."""

    def __init__(self, windows: Iterable[Window]) -> None:
        self._accs = {w: _WindowAcc(w) for w in windows}
        if not self._accs:
            raise ValueError("FactsBuilder needs at least one window")
        self._horizon = max(w.end for w in self._accs)
        self._settlements: dict[str, _Settlement] = {}
        self._lane_names: dict[str, str] = {}
        self._references: dict[str, list[tuple[datetime, int, float]]] = {}
        self.events_seen = 0

    def add(self, events: Sequence[Event]) -> None:
        """Feed a batch (a parsed block); call as often as needed, in any order."""
        for acc in self._accs.values():
            acc.add(events)
        self._track_settlements(events)

    def _track_settlements(self, events: Sequence[Event]) -> None:
        settlements, lane_names, horizon = self._settlements, self._lane_names, self._horizon
        order = self.events_seen
        for ev in events:
            order += 1
            kind = type(ev)
            if kind is SettlementSubmitted:
                rec = settlements.get(ev.settlement_id)  # type: ignore[union-attr]
                if rec is None:
                    lane = lane_names.setdefault(ev.lane, ev.lane)  # one str per lane, not per settlement
                    settlements[ev.settlement_id] = _Settlement(ev.ts, ev.notional_usd, lane)  # type: ignore[union-attr]
                elif rec.submitted_ts is None or ev.ts < rec.submitted_ts:
                    rec.submitted_ts, rec.notional_usd = ev.ts, ev.notional_usd  # type: ignore[union-attr]
                    rec.lane = lane_names.setdefault(ev.lane, ev.lane)
            elif kind is SettlementFinalized or kind is SettlementFailed:
                rec = settlements.get(ev.settlement_id)  # type: ignore[union-attr]
                if rec is None:
                    settlements[ev.settlement_id] = _Settlement(terminal_ts=ev.ts)  # type: ignore[union-attr]
                elif rec.terminal_ts is None or ev.ts < rec.terminal_ts:
                    rec.terminal_ts = ev.ts
            elif kind is FeedPrice and ev.source == "reference" and ev.ts < horizon:  # type: ignore[union-attr]
                self._references.setdefault(ev.symbol, []).append((ev.ts, order, ev.price))  # type: ignore[union-attr]
        self.events_seen = order

    def result(self) -> dict[Window, WindowFacts]:
        references = {sym: sorted(refs) for sym, refs in self._references.items()}
        return {w: self._finish(acc, references) for w, acc in self._accs.items()}

    def _finish(self, acc: _WindowAcc, references: dict[str, list[tuple[datetime, int, float]]]) -> WindowFacts:
        end = acc.end
        pending: dict[str, list[float]] = {}
        pending_ids = []
        for sid, rec in self._settlements.items():
            submitted_before_end = rec.submitted_ts is not None and rec.submitted_ts < end
            if submitted_before_end and (rec.terminal_ts is None or rec.terminal_ts >= end):
                pending.setdefault(rec.lane, []).append(rec.notional_usd)
                pending_ids.append(sid)
        lanes = {}
        for lane in sorted(set(acc.lanes) | set(pending)):
            lane_acc = acc.lanes.get(lane, _LaneAcc())
            newest = max(lane_acc.newest, acc.before.get(lane, _NEVER))
            silence = (end - newest).total_seconds() if newest > _NEVER else None
            lanes[lane] = self._lane_facts(lane_acc, pending.get(lane, []), references, silence)
        events = sum(a.events for a in acc.lanes.values())
        return WindowFacts(acc.window, lanes, events, dict(acc.last_trouble), frozenset(pending_ids))

    def _lane_facts(
        self,
        acc: _LaneAcc,
        pending_notionals: list[float],
        references: dict[str, list[tuple[datetime, int, float]]],
        silence_s: float | None,
    ) -> LaneFacts:
        settlements = self._settlements
        durations = sorted(
            (fin - sub).total_seconds()
            for sid, fin in acc.finalized_at.items()
            if (sub := settlements[sid].submitted_ts) is not None
        )
        failed_notional = math.fsum(
            rec.notional_usd for sid in acc.failed_ids if (rec := settlements[sid]).submitted_ts is not None
        )
        resolved = acc.finalized + acc.failed
        return LaneFacts(
            submitted=acc.submitted,
            finalized=acc.finalized,
            failed=acc.failed,
            failure_rate=acc.failed / resolved if resolved else 0.0,
            pending=len(pending_notionals),
            pending_notional_usd=math.fsum(pending_notionals),
            failed_notional_usd=failed_notional,
            finality_p50_s=nearest_rank(durations, 50) if durations else None,
            finality_p99_s=nearest_rank(durations, 99) if durations else None,
            finality_max_s=durations[-1] if durations else None,
            seq_gaps=acc.seqs.gaps,
            seq_duplicates=acc.events - acc.seqs.distinct,
            canary_runs=acc.canary_runs,
            canary_failures=acc.canary_failures,
            feed_divergence_bps_max=_divergence(acc.lane_prices, references),
            reorgs=acc.reorgs,
            reorg_max_depth=acc.reorg_max_depth,
            queue_depth_max=acc.queue_depth_max,
            silence_s=silence_s,
        )


def _divergence(
    lane_prices: list[tuple[datetime, str, float]],
    references: dict[str, list[tuple[datetime, int, float]]],
) -> float | None:
    """Max ``|p - r| / r`` in bps, r the latest reference of the symbol at or before p's ts
    (a lane price whose latest reference is 0 is unpaired)."""
    worst: float | None = None
    times: dict[str, list[datetime]] = {}
    for ts, symbol, price in lane_prices:
        refs = references.get(symbol)
        if not refs:
            continue
        if symbol not in times:
            times[symbol] = [r[0] for r in refs]
        i = bisect_right(times[symbol], ts)
        if i == 0:
            continue
        ref = refs[i - 1][2]
        if ref == 0:  # a zero reference has no divergence to give (contract v1.1 allows the price)
            continue
        bps = abs(price - ref) / ref * 10000
        if worst is None or bps > worst:
            worst = bps
    return worst


def compute_facts(events: Iterable[Event], window: Window) -> WindowFacts:
    """Facts of one window from events already in memory."""
    builder = FactsBuilder([window])
    builder.add(list(events))
    return builder.result()[window]
