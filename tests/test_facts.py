"""Facts (contract §2), each definition pinned on a small hand-built stream."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from helpers import T0, WINDOW, Stream
from hypothesis import given, settings
from hypothesis import strategies as st

from validators.facts import FACT_NAMES, FactsBuilder, LaneFacts, Window, compute_facts, nearest_rank


def facts(s: Stream, lane: str = "l2-arb", window: Window = WINDOW) -> LaneFacts:
    return compute_facts(s.events(), window).lane(lane)


def test_counts_and_failure_rate_only_count_events_inside_the_window(stream: Stream) -> None:
    stream.settle("a", -60, -30, ok=False)  # failed before the window: not counted
    stream.settle("b", 10, 40, ok=False)
    stream.settle("c", 20, 50)
    stream.settle("d", 30, 1800)  # finalized exactly at the end: outside [start, end)
    f = facts(stream)
    assert (f.submitted, f.finalized, f.failed) == (3, 1, 1)
    assert f.failure_rate == 0.5


def test_failure_rate_is_zero_without_settled_settlements(stream: Stream) -> None:
    stream.add("settlement.submitted", 5)
    assert facts(stream).failure_rate == 0.0


def test_pending_counts_submissions_before_the_window_start(stream: Stream) -> None:
    stream.settle("old", -600, None, notional=500.0)  # submitted long before, never settled
    stream.settle("done", -500, -400)  # settled before the window: not pending
    stream.settle("late", 100, 1900, notional=250.0)  # settles after the end: pending at end
    stream.settle("after", 1850, None)  # submitted after the end: not pending
    f = facts(stream)
    assert f.pending == 2
    assert f.pending_notional_usd == 750.0


def test_failed_notional_comes_from_the_submitted_event(stream: Stream) -> None:
    stream.settle("a", -100, 10, ok=False, notional=300.0)  # submitted before the window
    stream.settle("b", 20, 30, ok=False, notional=200.0)
    stream.add("settlement.failed", 40, settlement_id="orphan")  # no submission in the input
    f = facts(stream)
    assert f.failed == 3
    assert f.failed_notional_usd == 500.0


def test_finality_uses_nearest_rank_over_settlements_finalized_in_the_window(stream: Stream) -> None:
    for i, duration in enumerate([10, 20, 30, 40, 100]):
        stream.settle(f"s{i}", 100, 100 + duration)
    stream.add("settlement.finalized", 500, settlement_id="orphan")  # no submission: left out of times
    f = facts(stream)
    assert f.finalized == 6
    assert (f.finality_p50_s, f.finality_p99_s, f.finality_max_s) == (30.0, 100.0, 100.0)


def test_finality_is_absent_when_nothing_finalized(stream: Stream) -> None:
    stream.add("settlement.submitted", 5)
    f = facts(stream)
    assert f.finality_p50_s is None
    assert f.finality_p99_s is None
    assert f.finality_max_s is None


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        ([1.0], 50, 1.0),
        ([1.0, 2.0], 50, 1.0),
        ([1.0, 2.0, 3.0], 50, 2.0),
        (list(map(float, range(1, 101))), 99, 99.0),
        (list(map(float, range(1, 201))), 99, 198.0),
        ([5.0, 6.0], 99, 6.0),
    ],
)
def test_nearest_rank(values: list[float], percent: int, expected: float) -> None:
    assert nearest_rank(values, percent) == expected


def test_seq_gaps_and_duplicates_in_the_window(stream: Stream) -> None:
    for seq in (10, 11, 13, 13, 16):
        stream.add("queue.depth", 5, seq=seq)
    stream.add("queue.depth", -5, seq=12)  # before the window: does not fill the gap
    f = facts(stream)
    assert f.seq_gaps == 3  # (16 - 10 + 1) - 4 distinct
    assert f.seq_duplicates == 1


def test_canaries_reorgs_and_queue_depth(stream: Stream) -> None:
    stream.add("canary.result", 10, ok=True)
    stream.add("canary.result", 20, ok=False)
    stream.add("canary.result", 30, ok=False)
    stream.add("lane.reorg", 40, depth=1)
    stream.add("lane.reorg", 50, depth=3)
    stream.add("queue.depth", 60, value=7)
    stream.add("queue.depth", 70, value=42)
    stream.add("queue.depth", 1800, value=99)  # at the end: outside
    f = facts(stream)
    assert (f.canary_runs, f.canary_failures) == (3, 2)
    assert (f.reorgs, f.reorg_max_depth) == (2, 3)
    assert f.queue_depth_max == 42


def test_divergence_pairs_with_the_latest_reference_at_or_before(stream: Stream) -> None:
    stream.add("feed.price", -100, "l1-eth", source="reference", price=2000.0)  # before the window still counts
    stream.add("feed.price", 10, source="lane", price=2010.0)  # vs 2000: 50 bps
    stream.add("feed.price", 20, "l1-eth", source="reference", price=2100.0)
    stream.add("feed.price", 20, source="lane", price=2100.0)  # same ts: pairs with 2100 -> 0
    stream.add("feed.price", 30, source="lane", symbol="BTC-USD", price=1.0)  # no reference: no pair
    assert facts(stream).feed_divergence_bps_max == pytest.approx(50.0)


def test_divergence_is_absent_without_a_pair(stream: Stream) -> None:
    stream.add("feed.price", 10, source="lane", price=2010.0)
    assert facts(stream).feed_divergence_bps_max is None


def test_lanes_are_kept_apart(stream: Stream) -> None:
    stream.settle("a", 10, 20, ok=False, lane="l1-eth")
    stream.settle("b", 10, 20, lane="l2-arb")
    result = compute_facts(stream.events(), WINDOW)
    assert result.lane("l1-eth").failed == 1
    assert result.lane("l2-arb").failed == 0
    assert result.lane("l9-none") == LaneFacts()


def test_last_trouble_tracks_failures_and_failed_canaries_before_the_end(stream: Stream) -> None:
    stream.settle("a", 10, 1500, ok=False)
    stream.add("canary.result", 1700, ok=False)
    stream.add("canary.result", 1790, ok=True)
    assert compute_facts(stream.events(), WINDOW).last_trouble["l2-arb"] == T0 + timedelta(seconds=1700)


def _random_stream(seed: int) -> Stream:
    rng = random.Random(seed)
    s = Stream()
    kinds = ["canary.result", "queue.depth", "lane.reorg", "batch.posted"]
    for i in range(60):
        t = rng.uniform(-900, 2100)
        lane = rng.choice(["l1-eth", "l2-arb"])
        roll = rng.random()
        if roll < 0.5:
            end = t + rng.uniform(1, 600) if rng.random() < 0.8 else None
            s.settle(f"s{i}", t, end, ok=rng.random() < 0.8, lane=lane, notional=round(rng.uniform(1, 10_000), 2))
        elif roll < 0.7:
            source = rng.choice(["lane", "reference"])
            s.add("feed.price", t, lane, source=source, price=round(rng.uniform(1900, 2100), 2))
        else:
            kind = rng.choice(kinds)
            extra = {"ok": rng.random() < 0.5} if kind == "canary.result" else {}
            s.add(kind, t, lane, **extra)
    return s


@settings(max_examples=60)
@given(st.integers(min_value=0, max_value=10**9), st.randoms(use_true_random=False))
def test_facts_do_not_depend_on_event_order(seed: int, rng: random.Random) -> None:
    events = _random_stream(seed).events()
    shuffled = events[:]
    rng.shuffle(shuffled)
    assert compute_facts(shuffled, WINDOW).lanes == compute_facts(events, WINDOW).lanes


@settings(max_examples=30)
@given(st.integers(min_value=0, max_value=10**9))
def test_one_pass_over_many_windows_equals_one_pass_each(seed: int) -> None:
    events = _random_stream(seed).events()
    windows = [WINDOW, Window(T0 - timedelta(minutes=10), T0 + timedelta(minutes=5)), Window(T0, T0 + timedelta(seconds=1))]
    builder = FactsBuilder(windows)
    half = len(events) // 2
    builder.add(events[:half])
    builder.add(events[half:])
    together = builder.result()
    for window in windows:
        assert together[window].lanes == compute_facts(events, window).lanes


def test_every_fact_has_a_value_accessor() -> None:
    f = LaneFacts()
    assert [f.value(name) for name in FACT_NAMES].count(None) == 6  # finality x3, divergence, silence, trust
    with pytest.raises(KeyError):
        f.value("nonsense")


def test_a_window_must_be_aware_and_non_empty() -> None:
    with pytest.raises(ValueError, match="after"):
        Window(T0, T0)
    with pytest.raises(ValueError, match="timezone"):
        Window(T0.replace(tzinfo=None), T0.replace(tzinfo=None) + timedelta(1))


def test_silence_is_the_time_from_the_lanes_newest_event_to_the_windows_end(stream: Stream) -> None:
    stream.add("queue.depth", 60)
    stream.add("queue.depth", 1500)
    stream.add("queue.depth", 1700, lane="l1-eth")
    stream.add("settlement.submitted", -600, lane="l2-op", settlement_id="stl-quiet")  # pending, quiet all window
    facts = compute_facts(stream.events(), WINDOW)
    assert facts.lane("l2-arb").silence_s == 300.0
    assert facts.lane("l1-eth").silence_s == 100.0
    assert facts.lane("l2-op").silence_s == 2400.0
    assert facts.lane("l9-none").silence_s is None
