"""One test (or more) per violation family of contract §5, on a small incident."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import Stream, proposal

from validators import AlertRef, Checker, Evidence, Report, check_proposal


@pytest.fixture
def incident() -> Stream:
    """l2-arb: 4 finalized, 2 failed (rate 1/3), 3 failed canaries; l1-eth healthy."""
    s = Stream()
    for i in range(4):
        s.settle(f"ok{i}", 60 * i, 60 * i + 30, notional=1000.0)
    s.settle("bad0", 300, 320, ok=False, notional=400_000.0)
    s.settle("bad1", 400, 1700, ok=False, notional=200_000.0)
    for t in (600, 700, 800):
        s.add("canary.result", t, ok=False, event_id=f"can-{t}")
    s.add("canary.result", 900, ok=True, event_id="can-ok")
    s.settle("eth0", 100, 900, lane="l1-eth")
    s.add("settlement.submitted", -300, settlement_id="early", event_id="sub-early")
    return s


def run(doc: dict[str, Any], s: Stream, checker: Checker, alerts: dict[str, AlertRef] | None = None) -> Report:
    return check_proposal(doc, s.events(), checker, Evidence(alerts=alerts or {}))


def claim(fact: str, value: float, evidence: list[str], text: str = "see the facts", lane: str = "l2-arb") -> dict[str, Any]:
    return {"text": text, "lane": lane, "fact": fact, "value": value, "evidence": evidence}


def action(kind: str, lane: str = "l2-arb", reason: str = "per policy", evidence: list[str] | None = None) -> dict[str, Any]:
    return {"kind": kind, "lane": lane, "reason": reason, "evidence": evidence or []}


def codes(report: Report) -> list[tuple[str, str]]:
    return [(str(v.code), v.path) for v in report.violations]


SEV1 = {"severity": "sev1"}  # failure_rate 1/3 >= 0.05


def test_a_grounded_proposal_is_clean(incident: Stream, checker: Checker) -> None:
    doc = proposal(
        **SEV1,
        headline="l2-arb: 2 failed (33%) since 14:05 UTC",
        claims=[
            claim("failed", 2, ["evt-0000010", "evt-0000012"], "2 settlements failed on l2-arb"),
            claim("failure_rate", 0.333, ["evt-0000010"], "a third of settlements fail: 33.3%"),
            claim("canary_failures", 3, ["can-600", "can-700", "can-800"], "3 canaries failed"),
            claim("pending", 1, ["sub-early"], "1 settlement pending since before the window"),
        ],
        actions=[
            action("rollback", reason="failure rate 33% is above the 2% trigger", evidence=["evt-0000010"]),
            action("reroute", reason="fallback l1-eth is healthy"),
        ],
    )
    report = run(doc, incident, checker)
    assert report.ok, report.as_json()


def test_fact_unknown(incident: Stream, checker: Checker) -> None:
    report = run(proposal(**SEV1, claims=[claim("failures", 2, ["evt-0000010"])]), incident, checker)
    assert codes(report) == [("fact.unknown", "/claims/0/fact")]


@pytest.mark.parametrize(
    ("fact", "value"),
    [("failed", 3), ("failed", 2.5), ("failure_rate", 0.3334 * 1.02), ("failed_notional_usd", 590_000), ("finality_p99_s", 40)],
)
def test_fact_mismatch_beyond_tolerance(incident: Stream, checker: Checker, fact: str, value: float) -> None:
    evidence = ["evt-0000001"] if fact.startswith("finality") else ["evt-0000010"]
    report = run(proposal(**SEV1, claims=[claim(fact, value, evidence)]), incident, checker)
    assert codes(report) == [("fact.mismatch", "/claims/0/value")]
    assert report.violations[0].details["fact"] == fact


@pytest.mark.parametrize(
    ("fact", "value"), [("failure_rate", 0.3333 * 1.009), ("failed_notional_usd", 600_000 * 0.991), ("finality_p99_s", 30.2)]
)
def test_non_count_facts_match_within_one_percent(incident: Stream, checker: Checker, fact: str, value: float) -> None:
    evidence = ["evt-0000001"] if fact.startswith("finality") else ["evt-0000010"]
    assert run(proposal(**SEV1, claims=[claim(fact, value, evidence)]), incident, checker).ok


def test_an_absent_fact_cannot_be_claimed(stream: Stream, checker: Checker) -> None:
    stream.add("settlement.submitted", 10, event_id="s")
    report = run(proposal(claims=[claim("finality_p99_s", 30, ["s"])]), stream, checker)
    assert codes(report) == [("fact.mismatch", "/claims/0/value")]
    assert "no value" in report.violations[0].message


def test_evidence_missing(incident: Stream, checker: Checker) -> None:
    doc = proposal(**SEV1, claims=[claim("failed", 2, []), claim("failed", 2, ["evt-nope"])])
    assert codes(run(doc, incident, checker)) == [
        ("evidence.missing", "/claims/0/evidence"),
        ("evidence.missing", "/claims/1/evidence/0"),
    ]


def test_a_zero_count_needs_no_evidence(incident: Stream, checker: Checker) -> None:
    assert run(proposal(**SEV1, claims=[claim("reorgs", 0, [])]), incident, checker).ok


def test_evidence_irrelevant_lane_window_and_kind(incident: Stream, checker: Checker) -> None:
    doc = proposal(
        **SEV1,
        claims=[
            claim("failed", 2, ["evt-0000018"]),  # an l1-eth event
            claim("canary_failures", 3, ["can-ok"]),  # a passing canary
            claim("failed", 2, ["can-600"]),  # wrong kind
            claim("submitted", 6, ["sub-early"]),  # before the window (only pending may cite that)
        ],
    )
    found = codes(run(doc, incident, checker))
    assert found == [
        ("evidence.irrelevant", "/claims/0/evidence/0"),
        ("evidence.irrelevant", "/claims/0/evidence/0"),
        ("evidence.irrelevant", "/claims/1/evidence/0"),
        ("evidence.irrelevant", "/claims/2/evidence/0"),
        ("evidence.irrelevant", "/claims/3/evidence/0"),
    ]


def test_alerts_can_be_cited_when_their_lane_fits(incident: Stream, checker: Checker) -> None:
    alerts = {"alrt-1": AlertRef("l2-arb"), "alrt-2": AlertRef("l1-eth")}
    doc = proposal(**SEV1, claims=[claim("failed", 2, ["alrt-1"]), claim("failed", 2, ["alrt-2"])])
    assert codes(run(doc, incident, checker, alerts)) == [("evidence.irrelevant", "/claims/1/evidence/0")]


def test_lane_unknown_and_outside_incident(incident: Stream, checker: Checker) -> None:
    doc = proposal(
        **SEV1,
        lanes=["l2-arb", "l3-zk"],
        claims=[claim("failed", 0, [], lane="l1-eth")],
        actions=[action("escalate", lane="l7-x")],
        headline="l2-arb and l9-foo are down",
    )
    assert codes(run(doc, incident, checker)) == [
        ("lane.unknown", "/lanes/1"),
        ("lane.outside_incident", "/claims/0/lane"),
        ("lane.unknown", "/actions/0/lane"),
        ("lane.unknown", "/headline"),
    ]


def test_time_outside_window(incident: Stream, checker: Checker) -> None:
    doc = proposal(**SEV1, headline="failing since 13:55 UTC, worse at 14:31Z, not at 2026-03-01T14:10:00Z")
    found = run(doc, incident, checker).violations
    assert [(str(v.code), v.details["time"]) for v in found] == [
        ("time.outside_window", "13:55 UTC"),
        ("time.outside_window", "14:31Z"),
        ("time.outside_window", "2026-03-01T14:10:00Z"),
    ]


def test_times_inside_the_window_and_its_end_pass(incident: Stream, checker: Checker) -> None:
    doc = proposal(**SEV1, headline="failing 14:00–14:29 UTC, as of 14:30Z on 2026-03-02, and at 2:15 pm")
    assert run(doc, incident, checker).ok


def test_severity_mismatch(incident: Stream, checker: Checker) -> None:
    report = run(proposal(severity="sev3"), incident, checker)
    assert codes(report) == [("severity.mismatch", "/severity")]
    assert report.violations[0].details["expected"] == "sev1"


def test_status_resolved_with_recent_trouble_is_inconsistent(incident: Stream, checker: Checker) -> None:
    report = run(proposal(**SEV1, status="resolved"), incident, checker)  # a failure at 14:28:20
    assert codes(report) == [("status.inconsistent", "/status")]


def test_status_resolved_after_a_quiet_period_is_fine(stream: Stream, checker: Checker) -> None:
    stream.settle("a", 10, 20, ok=False)
    stream.add("canary.result", 1400, ok=False)
    stream.add("canary.result", 1600, ok=True)
    assert run(proposal(status="resolved", severity="sev1"), stream, checker).ok


def test_action_not_allowed(incident: Stream, checker: Checker) -> None:
    report = run(proposal(**SEV1, actions=[action("withdraw_collateral")]), incident, checker)
    assert codes(report) == [("action.not_allowed", "/actions/0/kind")]


def test_action_precondition_names_the_triggers(stream: Stream, checker: Checker) -> None:
    stream.settle("a", 10, 20)
    report = run(proposal(actions=[action("rollback")]), stream, checker)
    assert codes(report) == [("action.precondition", "/actions/0")]
    assert "failure_rate >= 0.02" in report.violations[0].message


def test_actions_without_triggers_are_always_allowed(stream: Stream, checker: Checker) -> None:
    assert run(proposal(actions=[action("escalate"), action("run_canary")]), stream, checker).ok


def test_fallback_missing_or_unhealthy(incident: Stream, checker: Checker) -> None:
    incident.settle("ethbad", 100, 200, ok=False, lane="l1-eth")  # l1-eth failure rate 50%: triggers met, not healthy
    doc = proposal(**SEV1, lanes=["l2-arb", "l1-eth"], actions=[action("pause_lane"), action("pause_lane", lane="l1-eth")])
    report = run(doc, incident, checker)
    assert codes(report) == [("action.fallback_unhealthy", "/actions/0"), ("action.fallback_unhealthy", "/actions/1")]
    assert "l1-eth is not healthy (failure_rate 0.5 >= 0.01 on l1-eth)" in report.violations[0].message
    assert "l1-eth has no fallback" in report.violations[1].message


def test_content_mention_secret_and_link(incident: Stream, checker: Checker) -> None:
    doc = proposal(
        **SEV1,
        claims=[claim("failed", 2, ["evt-0000010"], "ping <@U01ONCALL> and @here, see https://evil.example.net/x")],
        actions=[action("escalate", reason="use xoxb-123456789012-abcdefghijkl or https://grafana.example.com/d/1")],
    )
    assert codes(run(doc, incident, checker)) == [
        ("content.link", "/claims/0/text"),
        ("content.mention", "/claims/0/text"),
        ("content.mention", "/claims/0/text"),
        ("content.secret", "/actions/0/reason"),
    ]


def test_every_problem_is_reported(incident: Stream, checker: Checker) -> None:
    doc = proposal(
        severity="sev3",
        status="resolved",
        headline="<!channel> 99 failed",
        claims=[claim("failed", 5, [])],
        actions=[action("nuke")],
    )
    assert {c for c, _ in codes(run(doc, incident, checker))} == {
        "severity.mismatch",
        "status.inconsistent",
        "content.mention",
        "number.ungrounded",
        "fact.mismatch",
        "evidence.missing",
        "action.not_allowed",
    }


def test_without_a_readable_window_the_other_checks_still_run(incident: Stream, checker: Checker) -> None:
    doc = proposal(window={"start": "yesterday"}, claims=[claim("bogus", 1, ["evt-nope"])], headline="@channel")
    assert {c for c, _ in codes(run(doc, incident, checker))} == {"schema", "fact.unknown", "evidence.missing", "content.mention"}
