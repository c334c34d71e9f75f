"""Live lane status: contract §2 facts per lane over a window sliding with the lane's
watermark, kept current event by event so that a query reads numbers and scans nothing.

Each lane's window is ``[watermark - W, watermark]`` (``Window(wm - W, wm + 1µs)``), the
watermark being the lane's newest event time bounded by the wall clock. Events may arrive
in any order: one inside the window counts at once, one beyond the wall clock waits until
the clock reaches it, one older than the window still counts for settlements (pending,
finality, failed notional) and reference prices.

What is exact: every fact equals ``compute_facts`` over the same events and window for
events that arrive at most one window after their lane's watermark passed them (any order
within that); sums of money are kept as exact integers (multiples of 2^-1074), so they round
exactly as ``fsum``. What is forgotten to keep memory bounded: settlements that ended and
left every window more than one window ago, and reference prices older than the last one
before that; an event arriving later than that may not be tied back to them. References
of one symbol with the same timestamp tie-break by arrival order, as ``compute_facts`` does
by input order.
"""

from __future__ import annotations

import heapq
import threading
from bisect import bisect_left
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import count

from sortedcontainers import SortedList

from bot.lanes.window import LaneStatus, LaneWindow
from validators.events import Event, FeedPrice, SettlementFailed, SettlementFinalized, SettlementSubmitted

__all__ = ["LaneStatus", "LiveLanes"]
_US = timedelta(microseconds=1)
_LAST = float("inf")  # sorts after every arrival order at one timestamp


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Settlement:
    """What the facts need of one settlement, and what it currently adds to which lane.
    (A plain class: one is made per settlement, and a dataclass's default factories made
    construction a tenth of the live-status cost.)"""

    __slots__ = (
        "applied_duration",
        "applied_failed",
        "applied_pending",
        "fails",
        "finals",
        "lane",
        "notional",
        "sub_ts",
        "term_lane",
        "term_ts",
    )

    def __init__(self) -> None:
        self.lane: str | None = None  # the lane of its earliest submission
        self.sub_ts: datetime | None = None
        self.notional = 0.0
        self.term_ts: datetime | None = None  # its earliest terminal event, anywhere
        self.term_lane = ""
        self.finals: dict[str, list[datetime]] = {}  # lane -> finalized times in that lane's window
        self.fails: dict[str, int] = {}  # lane -> failed events in that lane's window
        self.applied_duration: dict[str, float] = {}
        self.applied_failed: dict[str, float] = {}
        self.applied_pending: str | None = None


class LiveLanes:
    def __init__(self, window: timedelta = timedelta(minutes=30), now: Callable[[], datetime] = _utcnow) -> None:
        self.window = window
        self.now = now
        self._lanes: dict[str, LaneWindow] = {}
        self._settlements: dict[str, _Settlement] = {}
        self._refs: dict[str, SortedList] = {}  # symbol -> (ts, order, price)
        self._prices: dict[str, SortedList] = {}  # symbol -> (ts, order, lane, price) of lane prices in a window
        self._order = count()
        self._retired: list[tuple[datetime, str]] = []  # (ended, settlement id): forgotten one window after
        self._dirty: set[str] = set()  # settlements to re-judge once the windows have moved
        self._lock = threading.Lock()  # the ingest thread adds while readers ask for status

    @property
    def lanes(self) -> list[str]:
        return sorted(self._lanes)

    def _lane(self, name: str) -> LaneWindow:
        lane = self._lanes.get(name)
        if lane is None:
            lane = self._lanes[name] = LaneWindow(name)
        return lane

    def add(self, events: Sequence[Event]) -> None:
        with self._lock:
            self._add(events)

    def status(self, lane: str | None = None) -> dict[str, LaneStatus]:
        with self._lock:
            return self._status(lane)

    def _add(self, events: Sequence[Event]) -> None:
        touched: set[str] = set()
        lanes = self._lanes
        for ev in events:
            order = next(self._order)
            kind = type(ev)
            if kind is FeedPrice and ev.source == "reference":  # type: ignore[union-attr]
                self._reference(ev, order)  # type: ignore[arg-type]
            if kind is SettlementSubmitted or kind is SettlementFinalized or kind is SettlementFailed:
                self._track(ev)  # type: ignore[arg-type]
            lane = lanes.get(ev.lane)
            if lane is None:
                lane = self._lane(ev.lane)
            if lane.max_ts is None or ev.ts > lane.max_ts:
                lane.max_ts = ev.ts
            touched.add(ev.lane)
            lane.arrivals.append((ev.ts, order, ev))
        for name in touched:
            self._advance(self._lanes[name])
        self._flush()
        self._prune()  # after every lane moved: the oldest window decides what is still needed

    def _status(self, lane: str | None) -> dict[str, LaneStatus]:
        names = self.lanes if lane is None else [lane] if lane in self._lanes else []
        out: dict[str, LaneStatus] = {}
        for name in names:
            self._advance(self._lanes[name])
        self._flush()
        # silence is measured to the freshest lane's watermark: event time, so a replay of
        # March reads as March did, and a lane that stopped shows it against the others
        now = max((w.watermark for w in self._lanes.values() if w.watermark is not None), default=None)
        for name in names:
            assert now is not None  # a lane named has a watermark
            out[name] = self._lanes[name].status(self.window, now)
        return out

    # --- the window moving -------------------------------------------------------------

    def _advance(self, lane: LaneWindow) -> None:
        """Bring ``lane`` to its current watermark: admit arrived events inside the window,
        expire those that fell out, and re-judge settlements whose pending state turned."""
        assert lane.max_ts is not None
        watermark = min(lane.max_ts, self.now())
        if lane.watermark is not None and watermark < lane.watermark:
            watermark = lane.watermark
        lane.watermark = watermark
        start, end = watermark - self.window, watermark + _US
        arrivals = lane.arrivals
        arrivals.sort()  # nearly sorted already (senders send in time order): linear in practice
        cut = bisect_left(arrivals, (end,))
        for ts, order, ev in arrivals[:cut]:
            if ts >= start:
                self._enter(lane, ev, order)
        del arrivals[:cut]
        expiring = lane.inside
        while expiring and expiring[0][0] < start:
            _, order, ev = heapq.heappop(expiring)
            self._leave(lane, ev, order)
        due = lane.due
        while due and due[0][0] < end:
            self._dirty.add(heapq.heappop(due)[1])

    def _enter(self, lane: LaneWindow, ev: Event, order: int) -> None:
        heapq.heappush(lane.inside, (ev.ts, order, ev))
        lane.count(ev, +1)
        kind = type(ev)
        if kind is SettlementFinalized:
            self._settlement(ev.settlement_id).finals.setdefault(ev.lane, []).append(ev.ts)  # type: ignore[union-attr]
        elif kind is SettlementFailed:
            fails = self._settlement(ev.settlement_id).fails  # type: ignore[union-attr]
            fails[ev.lane] = fails.get(ev.lane, 0) + 1
        elif kind is FeedPrice and ev.source == "lane":  # type: ignore[union-attr]
            self._prices.setdefault(ev.symbol, SortedList()).add((ev.ts, order, ev.lane, ev.price))  # type: ignore[union-attr]
            lane.set_divergence(order, self._bps(ev.symbol, ev.ts, ev.price))  # type: ignore[union-attr]

    def _leave(self, lane: LaneWindow, ev: Event, order: int) -> None:
        lane.count(ev, -1)
        kind = type(ev)
        if kind is SettlementFinalized or kind is SettlementFailed:
            rec = self._settlements.get(ev.settlement_id)  # type: ignore[union-attr]
            if rec is not None:
                if kind is SettlementFinalized:
                    times = rec.finals[ev.lane]
                    times.remove(ev.ts)
                    if not times:
                        del rec.finals[ev.lane]
                else:
                    rec.fails[ev.lane] -= 1
                    if not rec.fails[ev.lane]:
                        del rec.fails[ev.lane]
                self._dirty.add(ev.settlement_id)  # type: ignore[union-attr]
        elif kind is FeedPrice and ev.source == "lane":  # type: ignore[union-attr]
            self._prices[ev.symbol].remove((ev.ts, order, ev.lane, ev.price))  # type: ignore[union-attr]
            lane.set_divergence(order, None)

    # --- settlements ---------------------------------------------------------------------

    def _settlement(self, sid: str) -> _Settlement:
        rec = self._settlements.get(sid)
        if rec is None:
            rec = self._settlements[sid] = _Settlement()
        return rec

    def _track(self, ev: SettlementSubmitted | SettlementFinalized | SettlementFailed) -> None:
        rec = self._settlement(ev.settlement_id)
        if type(ev) is SettlementSubmitted:
            if rec.sub_ts is None or ev.ts < rec.sub_ts:
                rec.lane, rec.sub_ts, rec.notional = ev.lane, ev.ts, ev.notional_usd
                self._dirty.add(ev.settlement_id)
        elif rec.term_ts is None or ev.ts < rec.term_ts:
            rec.term_ts, rec.term_lane = ev.ts, ev.lane
            self._dirty.add(ev.settlement_id)

    def _flush(self) -> None:
        """Re-judge the settlements something happened to, once each, after the windows moved;
        one that ended and has nothing in any window is retired (forgotten later)."""
        settlements, retired = self._settlements, self._retired
        for sid in self._dirty:
            self._refresh(sid)
            rec = settlements.get(sid)
            if rec is not None and rec.term_ts is not None and not rec.finals and not rec.fails:
                heapq.heappush(retired, (rec.term_ts, sid))
        self._dirty.clear()

    def _refresh(self, sid: str) -> None:
        """Recompute what one settlement adds to each lane (pending, finality, failed
        notional) from scratch."""
        rec = self._settlements.get(sid)
        if rec is None:
            return
        for name, seconds in rec.applied_duration.items():
            self._lanes[name].durations.remove(seconds)
        for name, notional in rec.applied_failed.items():
            self._lanes[name].failed_notional.add(notional, -1)
        if rec.applied_pending is not None:
            self._lanes[rec.applied_pending].set_pending(rec.notional, -1)
        if rec.applied_duration:
            rec.applied_duration = {}
        if rec.applied_failed:
            rec.applied_failed = {}
        rec.applied_pending = None
        if rec.sub_ts is not None:
            for name, times in rec.finals.items():
                seconds = (min(times) - rec.sub_ts).total_seconds()
                self._lanes[name].durations.add(seconds)
                rec.applied_duration[name] = seconds
            for name in rec.fails:
                self._lanes[name].failed_notional.add(rec.notional, +1)
                rec.applied_failed[name] = rec.notional
            self._judge_pending(sid, rec)

    def _judge_pending(self, sid: str, rec: _Settlement) -> None:
        assert rec.lane is not None
        assert rec.sub_ts is not None
        lane = self._lane(rec.lane)
        if lane.watermark is None:
            heapq.heappush(lane.due, (rec.sub_ts, sid))
            return
        end = lane.watermark + _US
        if rec.sub_ts >= end:
            heapq.heappush(lane.due, (rec.sub_ts, sid))  # becomes pending when the window reaches it
        elif rec.term_ts is None or rec.term_ts >= end:
            lane.set_pending(rec.notional, +1)
            rec.applied_pending = rec.lane
            if rec.term_ts is not None:
                heapq.heappush(lane.due, (rec.term_ts, sid))  # stops being pending then

    # --- prices ----------------------------------------------------------------------------

    def _reference(self, ev: FeedPrice, order: int) -> None:
        """A reference price re-pairs the lane prices from its time up to the next reference."""
        refs = self._refs.setdefault(ev.symbol, SortedList())
        refs.add((ev.ts, order, ev.price))
        i = refs.index((ev.ts, order, ev.price))
        until = refs[i + 1][0] if i + 1 < len(refs) else None
        prices = self._prices.get(ev.symbol)
        if not prices:
            return
        for ts, p_order, lane, price in list(prices.irange((ev.ts,))):
            if until is not None and ts >= until:
                break
            self._lanes[lane].set_divergence(p_order, _divergence_bps(price, ev.price))

    def _bps(self, symbol: str, ts: datetime, price: float) -> float | None:
        """Against the latest reference at or before ``ts`` (the last to arrive among equals)."""
        refs = self._refs.get(symbol)
        if not refs:
            return None
        i = refs.bisect_right((ts, _LAST))
        if i == 0:
            return None
        return _divergence_bps(price, refs[i - 1][2])

    def _prune(self) -> None:
        """Forget what no event arriving at most one window late can need: settlements that
        ended before the horizon (two windows before the oldest watermark) and left every
        window, and reference prices older than the last one before it."""
        watermarks = [lane.watermark for lane in self._lanes.values() if lane.watermark is not None]
        if not watermarks:
            return
        horizon = min(watermarks) - 2 * self.window
        retired, settlements = self._retired, self._settlements
        while retired and retired[0][0] < horizon:
            _, sid = heapq.heappop(retired)
            rec = settlements.get(sid)
            if rec is not None and not rec.finals and not rec.fails and rec.applied_pending is None:
                del settlements[sid]
        for refs in self._refs.values():
            i = refs.bisect_left((horizon,))
            if i > 1:
                del refs[: i - 1]


def _divergence_bps(price: float, reference: float) -> float | None:
    """Divergence in bps; None against a zero reference, as ``compute_facts`` has it."""
    return abs(price - reference) / reference * 10000 if reference else None
