"""The trust score: 0 to 100 from a lane's facts and the policy's weights, with the part
that cost most as its reason."""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpers import EXAMPLE, load_example
from hypothesis import given, settings
from hypothesis import strategies as st

from validators import Checker, PolicyError, check_proposal, compute_facts, parse_policy, window_of
from validators.events import Event
from validators.facts import LaneFacts
from validators.policy import TrustSpec
from validators.trust import Trust, trust

SPEC = TrustSpec()
CALM = LaneFacts(canary_runs=20, finality_p99_s=40.0, silence_s=1.0, feed_divergence_bps_max=2.0)


def test_a_calm_lane_is_trusted_fully_with_no_reason() -> None:
    assert trust(replace(CALM, silence_s=0.0, feed_divergence_bps_max=0.0), SPEC, "l2-arb") == Trust(100, None)
    assert trust(CALM, SPEC, "l2-arb") == Trust(98, "feed divergence 2 bps")


@pytest.mark.parametrize(
    ("change", "score", "reason"),
    [
        ({"feed_divergence_bps_max": 48.0}, 62, "feed divergence 48 bps"),  # 1 - 0.8 x 0.48 (the example)
        ({"canary_failures": 10}, 60, "canary failures 10/20"),  # 1 - 0.8 x 0.5
        ({"seq_gaps": 4}, 76, "sequence gaps 4, duplicates 0"),  # 1 - 0.6 x 0.4
        ({"reorg_max_depth": 3}, 55, "reorg depth 3"),  # 1 - 0.6 x 0.75
        ({"finality_p99_s": 900.0}, 70, "p99 finality 900 s (SLO 600 s)"),  # 1 - 0.6 x 0.5
        ({"finality_p99_s": 600.0}, 100, None),  # at the SLO: nothing taken
        ({"failure_rate": 0.2336}, 10, "failure rate 23.4%"),  # past full_at (20%): the whole 0.9
        ({"silence_s": 420.0}, 10, "silent 420 s"),  # past silence_s: the whole 0.9
    ],
)
def test_each_part_of_trouble_costs_its_weight_in_proportion(change: dict[str, float], score: int, reason: str | None) -> None:
    base = replace(CALM, silence_s=0.0, feed_divergence_bps_max=0.0)
    assert trust(replace(base, **change), SPEC, "l2-arb") == Trust(score, reason)


def test_parts_compound() -> None:
    both = replace(CALM, silence_s=0.0, feed_divergence_bps_max=48.0, seq_gaps=4)
    assert trust(both, SPEC, "l2-arb") == Trust(47, "feed divergence 48 bps")  # 0.616 x 0.76


def test_everything_wrong_at_once_is_zero() -> None:
    worst = LaneFacts(
        feed_divergence_bps_max=500.0,
        canary_runs=5,
        canary_failures=5,
        seq_gaps=50,
        reorg_max_depth=9,
        finality_p99_s=5000.0,
        failure_rate=1.0,
        silence_s=9999.0,
    )
    assert trust(worst, SPEC, "l2-arb").score == 0


def test_the_policy_sets_the_weights_and_each_lanes_slo() -> None:
    text = (EXAMPLE / "policy.yaml").read_text() + (
        "trust:\n  finality_slo_s: 300\n  finality_slo_s_by_lane: {l1-eth: 1200}\n"
        "  weights: {feed_divergence: 0, finality: 1.0, silence: 0}\n"
    )
    spec = parse_policy(text).trust
    assert trust(replace(CALM, feed_divergence_bps_max=400.0), spec, "l2-arb").score == 100
    slow = replace(CALM, finality_p99_s=450.0)
    assert (trust(slow, spec, "l2-arb").score, trust(slow, spec, "l1-eth").score) == (50, 100)
    assert trust(replace(CALM, finality_p99_s=600.0), spec, "l2-arb").score == 0  # twice the SLO takes the whole 1.0


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("trust: {weights: {silence: 1.5}}", "trust.weights.silence"),
        ("trust: {finality_slo_s_by_lane: {l9-x: 60}}", "trust.finality_slo_s_by_lane.l9-x: not a lane"),
        ("trust: {wieghts: {}}", "trust.wieghts: unknown key"),
        ("trust: {finality_slo_s: 0}", "trust.finality_slo_s"),
        ("trust: {weights: {silence: -1}}", "trust.weights.silence"),
        ("healthy: {trust_score: 50}", "a score, not a threshold"),
    ],
)
def test_a_bad_trust_policy_is_refused_in_one_line(block: str, message: str) -> None:
    text = (EXAMPLE / "policy.yaml").read_text().replace("healthy: {failure_rate: 0.01, canary_failures: 1}\n", "")
    with pytest.raises(PolicyError, match=message):
        parse_policy(text + block + "\n")


WORSE_WHEN_HIGHER = {
    "feed_divergence_bps_max": st.floats(0, 1e6),
    "seq_gaps": st.integers(0, 10**6),
    "seq_duplicates": st.integers(0, 10**6),
    "reorg_max_depth": st.integers(0, 100),
    "finality_p99_s": st.floats(0, 1e7),
    "failure_rate": st.floats(0, 1),
    "silence_s": st.floats(0, 1e7),
}


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(WORSE_WHEN_HIGHER),
    st.integers(0, 1000),
    st.integers(0, 1000),
    st.sampled_from(sorted(WORSE_WHEN_HIGHER)),
    st.floats(0.0, 1e6),
)
def test_the_score_stays_in_0_to_100_and_more_trouble_never_raises_it(
    parts: dict[str, float], runs: int, failures: int, worse: str, more: float
) -> None:
    facts = LaneFacts(**parts, canary_runs=max(runs, failures), canary_failures=failures)
    score = trust(facts, SPEC, "l2-arb").score
    assert 0 <= score <= 100
    value = parts[worse] + more
    bumped = replace(facts, **{worse: min(value, 1.0) if worse == "failure_rate" else type(parts[worse])(value)})
    assert trust(bumped, SPEC, "l2-arb").score <= score


def test_trust_score_is_a_fact_the_validators_ground_and_check(example_events: list[Event], checker: Checker) -> None:
    doc = load_example("summary-valid.json")
    report = check_proposal(doc, example_events, checker)
    assert report.ok
    window = window_of(doc)
    assert window is not None
    score = trust(compute_facts(example_events, window).lane("l2-arb"), checker.policy.trust, "l2-arb").score
    doc["claims"] = [
        {"text": f"l2-arb trust {score}", "lane": "l2-arb", "fact": "trust_score", "value": score, "evidence": ["evt-0001190"]}
    ]
    assert check_proposal(doc, example_events, checker).ok
    doc["claims"][0]["value"] = score + 5
    assert check_proposal(doc, example_events, checker).codes == {"fact.mismatch"}
    doc["claims"][0]["value"] = score
    doc["claims"][0]["text"] = f"l2-arb trust {score + 2}"  # two off the score: no fact, threshold or length of the example
    assert check_proposal(doc, example_events, checker).codes == {"number.ungrounded"}
