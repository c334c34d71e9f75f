"""Which events support each fact: the ids a summary may cite, a few per fact.

The LLM is given these with the facts so that it cites real, relevant events instead of
inventing ids; the validators check whatever it cites anyway (``evidence.*``). A few per
fact keep the prompt's size independent of how many events the window holds.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable

from validators.events import (
    CanaryResult,
    Event,
    FeedPrice,
    LaneReorg,
    QueueDepth,
    SettlementFailed,
    SettlementFinalized,
    SettlementSubmitted,
)
from validators.facts import Window

Support = dict[str, dict[str, list[str]]]
"""lane -> fact -> event ids."""

_BY_KIND: dict[type, tuple[str, ...]] = {
    SettlementSubmitted: ("submitted",),
    SettlementFinalized: ("finalized", "failure_rate", "finality_p50_s", "finality_p99_s", "finality_max_s"),
    SettlementFailed: ("failed", "failure_rate", "failed_notional_usd"),
    CanaryResult: ("canary_runs",),
    LaneReorg: ("reorgs",),
}


class _Lane:
    def __init__(self, keep: int) -> None:
        self.ids: defaultdict[str, deque[str]] = defaultdict(lambda: deque(maxlen=keep))
        self.best: dict[str, tuple[float, str]] = {}  # fact -> (value, id) of the event that sets a maximum

    def keep_max(self, fact: str, value: float, event_id: str) -> None:
        if fact not in self.best or value > self.best[fact][0]:
            self.best[fact] = (value, event_id)


def supporting_ids(events: Iterable[Event], window: Window, lanes: Iterable[str], keep: int = 5) -> Support:
    """Up to ``keep`` ids per lane and fact (the latest seen), for ``lanes`` over ``window``.
    ``events`` may include earlier submissions: pending settlements cite them."""
    wanted = set(lanes)
    acc: dict[str, _Lane] = {lane: _Lane(keep) for lane in wanted}
    submissions: dict[str, tuple[str, str]] = {}  # settlement -> (lane, id) of its earliest submission
    ended: set[str] = set()
    for ev in events:
        kind = type(ev)
        if ev.ts < window.end:
            if kind is SettlementSubmitted and ev.settlement_id not in submissions:  # type: ignore[union-attr]
                submissions[ev.settlement_id] = (ev.lane, ev.event_id)  # type: ignore[union-attr]
            elif kind is SettlementFinalized or kind is SettlementFailed:
                ended.add(ev.settlement_id)  # type: ignore[union-attr]
        lane = acc.get(ev.lane)
        if lane is None or ev.ts not in window:
            continue
        lane.ids["seq_gaps"].append(ev.event_id)
        lane.ids["seq_duplicates"].append(ev.event_id)
        for fact in _BY_KIND.get(kind, ()):
            lane.ids[fact].append(ev.event_id)
        if kind is CanaryResult and not ev.ok:  # type: ignore[union-attr]
            lane.ids["canary_failures"].append(ev.event_id)
        elif kind is LaneReorg:
            lane.keep_max("reorg_max_depth", ev.depth, ev.event_id)  # type: ignore[union-attr]
        elif kind is QueueDepth:
            lane.keep_max("queue_depth_max", ev.value, ev.event_id)  # type: ignore[union-attr]
        elif kind is FeedPrice and ev.source == "lane":  # type: ignore[union-attr]
            lane.ids["feed_divergence_bps_max"].append(ev.event_id)
    for settlement, (lane_name, event_id) in submissions.items():
        if settlement not in ended and lane_name in acc:
            pending = acc[lane_name].ids
            pending["pending"].append(event_id)
            pending["pending_notional_usd"].append(event_id)
    out: Support = {}
    for name, lane in acc.items():
        facts = {fact: list(ids) for fact, ids in lane.ids.items()}
        facts.update({fact: [event_id] for fact, (_, event_id) in lane.best.items()})
        out[name] = facts
    return out
