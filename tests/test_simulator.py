"""The lane simulator: its facts show what the scenario asked for, and it is deterministic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.tabletop.simulator import Anomaly, LaneProfile, Simulator
from validators.facts import LaneFacts, Window, compute_facts
from validators.ndjson import parse_events

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
LANES = {"l1-eth": LaneProfile("ethereum", 1.5, 600.0), "l2-arb": LaneProfile("arbitrum", 4.0, 30.0)}


def run(*anomalies: Anomaly, seconds: int = 1800, seed: int = 7) -> list:
    sim = Simulator(LANES, start=START, seconds=seconds, seed=seed, anomalies=list(anomalies), reference_lane="l1-eth")
    events, stats = parse_events(["".join(sim.lines()).encode()])
    assert not stats.rejected, stats.rejected[:3]
    return events


def facts(events: list, lane: str, start_s: float, end_s: float) -> LaneFacts:
    window = Window(START + timedelta(seconds=start_s), START + timedelta(seconds=end_s))
    return compute_facts(events, window).lane(lane)


def test_a_quiet_run_is_healthy() -> None:
    lane = facts(run(), "l2-arb", 600, 1800)
    assert lane.failed == 0
    assert lane.canary_failures == 0
    assert lane.seq_gaps == 0
    assert lane.finality_p50_s is not None
    assert 18 < lane.finality_p50_s < 42
    assert lane.feed_divergence_bps_max is not None
    assert lane.feed_divergence_bps_max < 5


def test_a_failure_spike_shows_its_rate_only_while_it_lasts() -> None:
    events = run(Anomaly("failure_spike", "l2-arb", at_s=600, for_s=600, rate=0.2))
    during = facts(events, "l2-arb", 700, 1200)
    assert 0.12 < during.failure_rate < 0.28
    assert during.canary_failures >= 1
    assert facts(events, "l2-arb", 0, 600).failed == 0
    assert facts(events, "l1-eth", 0, 1800).failed == 0


def test_a_finality_stall_multiplies_finality() -> None:
    events = run(Anomaly("finality_stall", "l2-arb", at_s=300, for_s=900, factor=10))
    before, during = facts(events, "l2-arb", 0, 300), facts(events, "l2-arb", 900, 1500)
    assert before.finality_p50_s is not None
    assert during.finality_p50_s is not None
    assert during.finality_p50_s > 5 * before.finality_p50_s


def test_a_sequence_gap_of_three_is_three_gaps() -> None:
    events = run(Anomaly("sequence_gap", "l2-arb", at_s=900, size=3))
    assert facts(events, "l2-arb", 600, 1200).seq_gaps == 3
    assert facts(events, "l2-arb", 0, 890).seq_gaps == 0


def test_a_reorg_has_its_depth() -> None:
    lane = facts(run(Anomaly("reorg", "l2-arb", at_s=400, size=2)), "l2-arb", 0, 1800)
    assert (lane.reorgs, lane.reorg_max_depth) == (1, 2)


def test_feed_divergence_shows_its_basis_points() -> None:
    lane = facts(run(Anomaly("feed_divergence", "l2-arb", at_s=600, for_s=300, bps=120)), "l2-arb", 600, 900)
    assert lane.feed_divergence_bps_max is not None
    assert 110 < lane.feed_divergence_bps_max < 130


def test_a_sequencer_outage_finalizes_nothing_and_fails_canaries() -> None:
    events = run(Anomaly("sequencer_outage", "l2-arb", at_s=600, for_s=600))
    during = facts(events, "l2-arb", 660, 1200)
    assert during.finalized == 0
    assert during.submitted > 0
    assert during.canary_failures == during.canary_runs > 0
    assert during.queue_depth_max > 1000
    after = facts(events, "l2-arb", 1200, 1800)
    assert after.finalized > 0  # the backlog lands


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not() -> None:
    def text(seed: int) -> str:
        return "".join(Simulator(LANES, start=START, seconds=120, seed=seed).lines())

    assert text(3) == text(3)
    assert text(3) != text(4)


def test_an_anomaly_on_a_lane_that_is_not_simulated_is_refused() -> None:
    with pytest.raises(ValueError, match="not simulated: l9-x"):
        Simulator(LANES, start=START, seconds=10, anomalies=[Anomaly("reorg", "l9-x", at_s=1)])
