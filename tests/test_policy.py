"""Policy loading (contract §3): strict, with one line naming the key and the problem."""

from __future__ import annotations

import pytest
from helpers import EXAMPLE

from validators import PolicyError, parse_policy
from validators.facts import LaneFacts

BASE = "lanes: {l1-eth: {kind: l1, chain: ethereum}, l2-arb: {kind: l2, chain: arbitrum, fallback: l1-eth}}\n"


def test_the_example_policy_loads_in_order() -> None:
    policy = parse_policy((EXAMPLE / "policy.yaml").read_text())
    assert list(policy.severity) == ["sev1", "sev2", "sev3"]
    assert policy.default_severity == "sev4"
    assert policy.actions["pause_lane"].needs_healthy_fallback
    assert policy.actions["escalate"].trigger_any == {}
    assert policy.lane_pattern == "l[0-9]+-[a-z0-9]+"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BASE + "severity: {sev1: {failure_rte: 0.1}}", "severity: sev1: unknown fact 'failure_rte'"),
        (
            BASE + "severity: {sev1: {failed: 1}}\nactions: {rollback: {trigger_all: {failure_rate: 1}}}",
            "actions.rollback.trigger_all: unknown key",
        ),
        (
            BASE + "severity: {sev1: {failed: 1}}\nactions: {rollback: {trigger_any: {failure_rate: -1}}}",
            "actions.rollback.trigger_any.failure_rate: input should be greater than or equal to 0",
        ),
        (BASE + "severity: {sev1: {failed: 1}}\nactions: {rollback: {approvals: 0}}", "actions.rollback.approvals"),
        (BASE + "severity: {sev2: {}}", "severity: levels must be sev1"),
        (BASE + "severity: {sev1: {failed: 1}}\nresolved_quiet_s: yes", "resolved_quiet_s: input should be a valid number"),
        (BASE + "severity: {sev1: {failed: 1}}\nhealty: {}", "healty: unknown key"),
        (
            "lanes: {l1-eth: {kind: l1, chain: e, fallback: l9-x}}\nseverity: {sev1: {failed: 1}}",
            "lanes.l1-eth.fallback: 'l9-x' is not a lane",
        ),
        ("lanes: {l1-eth: {kind: l1, chain: e, fallback: l1-eth}}\nseverity: {sev1: {failed: 1}}", "cannot be its own fallback"),
        (
            "lanes: {arbitrum: {kind: l2, chain: arb}}\nseverity: {sev1: {failed: 1}}",
            "lanes.arbitrum: lane id does not match lane_pattern",
        ),
        (BASE + "severity: {sev1: {failed: 1}}\nlane_pattern: '(['", "lane_pattern: not a valid regular expression"),
        ("lanes: [\n  a: b", "line 2, column"),
        ("- just a list", "must be a YAML mapping"),
        ("severity: {sev1: {failed: 1}}", "lanes: required key is missing"),
        (BASE + "severity: {}", "severity: at least one level, sev1, is required"),
        (
            BASE + "severity: {sev1: {failed: 1}}\nlinks_allowed: [runbooks.example.com]\n"
            "runbooks: {lanes: {l2-arb: 'https://evil.example.net/l2'}}",
            "runbooks.lanes.l2-arb: 'https://evil.example.net/l2' must be an http(s) URL on a host in links_allowed",
        ),
        (
            BASE + "severity: {sev1: {failed: 1}}\nrunbooks: {actions: {rollback: 'https://x.example.com'}}",
            "runbooks.actions.rollback: not one of the policy's actions",
        ),
        (BASE + "severity: {sev1: {failed: 1}}\nsilent_after_s: 0", "silent_after_s: input should be greater than 0"),
        (BASE + "severity: {sev1: {failed: 1}}\nflap_threshold: 0", "flap_threshold: input should be greater than or equal to 1"),
        (BASE + "severity: {sev1: {failed: 1}}\nflap_window_s: -1", "flap_window_s: input should be greater than or equal to 0"),
        (
            BASE + "severity: {sev1: {failed: 1}}\nescalation: {sev3: {ack_within_s: 60, then: [remind]}}",
            "escalation.sev3: not a severity level of this policy (sev1, sev2)",
        ),
        (
            BASE + "severity: {sev1: {failed: 1}}\nescalation: {sev1: {ack_within_s: 60, then: [page]}}",
            "escalation.sev1.then: page goes through the escalate action, which actions does not list",
        ),
        (
            BASE + "severity: {sev1: {failed: 1}}\nescalation: {sev1: {ack_within_s: 60, then: [remind, shout]}}",
            "escalation.sev1.then.1: input should be 'remind' or 'page'",
        ),
        (
            BASE + "severity: {sev1: {failed: 1}}\nescalation: {sev1: {ack_within_s: 0, then: [remind]}}",
            "escalation.sev1.ack_within_s: input should be greater than 0",
        ),
        (
            BASE + "severity: {sev1: {failed: 1}}\nescalation: {sev1: {ack_within_s: 60, then: [remind, page, page]}}",
            "escalation.sev1.then: page at most once",
        ),
        (
            BASE + "severity: {sev1: {failed: 1}}\napprovers: [U01ONCALL, '@alice']",
            "approvers: '@alice' is not a Slack user id (U…, W…) or user group id (S…)",
        ),
    ],
)
def test_a_malformed_policy_is_refused_with_one_line_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_flap_damping_and_escalation_are_optional_with_defaults() -> None:
    policy = parse_policy(BASE + "severity: {sev1: {failed: 1}}")
    assert (policy.flap_window_s, policy.flap_threshold, policy.escalation) == (900, 3, {})
    policy = parse_policy(BASE + "severity: {sev1: {failed: 1}}\nescalation: {sev2: {ack_within_s: 600, then: [remind]}}")
    assert policy.escalation["sev2"].then == ["remind"]  # the level after the last (no threshold met) may escalate too


def test_a_custom_lane_pattern_admits_other_lane_ids() -> None:
    policy = parse_policy("lanes: {arbitrum: {kind: l2, chain: arb}}\nseverity: {sev1: {failed: 1}}\nlane_pattern: '[a-z]+'")
    assert "arbitrum" in policy.lanes


def test_severity_is_the_most_severe_level_met_on_any_lane() -> None:
    policy = parse_policy((EXAMPLE / "policy.yaml").read_text())
    calm, gappy, burning = LaneFacts(), LaneFacts(seq_gaps=1), LaneFacts(failure_rate=0.06)
    assert policy.severity_of([("l1-eth", calm)])[0] == "sev4"
    assert policy.severity_of([("l1-eth", calm), ("l2-arb", gappy)])[0] == "sev2"
    level, why = policy.severity_of([("l2-arb", gappy), ("l1-eth", burning)])
    assert level == "sev1"
    assert str(why[0]) == "failure_rate 0.06 >= 0.05 on l1-eth"


def test_absent_facts_meet_no_threshold_and_count_as_healthy() -> None:
    policy = parse_policy(BASE + "severity: {sev1: {finality_p99_s: 1}}\nhealthy: {feed_divergence_bps_max: 1}")
    assert policy.severity_of([("l1-eth", LaneFacts())])[0] == "sev2"
    assert policy.unhealthy_because("l1-eth", LaneFacts()) == []


def test_runbooks_name_a_page_per_lane_and_per_action_kind() -> None:
    policy = parse_policy(
        BASE + "severity: {sev1: {failed: 1}}\nactions: {rollback: {}}\napprovers: [U01ONCALL]\n"
        "links_allowed: [runbooks.example.com]\n"
        "runbooks: {lanes: {l2-arb: 'https://runbooks.example.com/l2-arb'}, actions: {rollback: 'https://runbooks.example.com/rb'}}"
    )
    assert policy.runbook(lane="l2-arb") == "https://runbooks.example.com/l2-arb"
    assert policy.runbook(lane="l2-arb", action="rollback") == "https://runbooks.example.com/rb"
    assert policy.runbook(lane="l1-eth") is None
    assert policy.silent_after_s == 300


def test_pagerduty_services_map_service_ids_to_lanes_of_the_policy() -> None:
    policy = parse_policy(BASE + "severity: {sev1: {failed: 1}}\npagerduty_services: {PIJ90N7: l2-arb}")
    assert policy.pagerduty_services == {"PIJ90N7": "l2-arb"}
    assert parse_policy(BASE + "severity: {sev1: {failed: 1}}").pagerduty_services == {}


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ("{PIJ90N7: l9-none}", "pagerduty_services.PIJ90N7: 'l9-none' is not a lane of this policy (l1-eth, l2-arb)"),
        ("{Settlement lanes: l2-arb}", "pagerduty_services.Settlement lanes: not a PagerDuty service id"),
        ("{PIJ90N7: [l2-arb]}", "pagerduty_services.PIJ90N7: input should be a valid string"),
    ],
)
def test_a_bad_pagerduty_service_map_is_refused_naming_the_service(services: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(BASE + f"severity: {{sev1: {{failed: 1}}}}\npagerduty_services: {services}")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
