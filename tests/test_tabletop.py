"""Tabletop scenarios: the format's errors, the bundled scenarios run offline, the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.tabletop.report import expectations, render
from bot.tabletop.runner import DrillLog, run_offline
from bot.tabletop.scenario import ScenarioError, bundled, load, parse_scenario
from validators.ndjson import parse_events

MINIMAL = """
name: tiny
title: Tiny
description: a small scenario
duration: 5m
lanes:
  l2-arb: {chain: arbitrum}
"""


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name: [unclosed", "not YAML at line 1, column 16: expected ',' or ']'"),
        ("- a list", "a scenario is a mapping"),
        (MINIMAL + "colour: red\n", "colour: Extra inputs are not permitted"),
        (MINIMAL + "anomalies:\n  - {kind: meteor, lane: l2-arb, at: 1m}\n", "anomalies.0.kind: Input should be"),
        (
            MINIMAL + "anomalies:\n  - {kind: reorg, lane: l9-x, at: 1m}\n",
            "anomalies[0]: lane 'l9-x' is not among the scenario's lanes",
        ),
        (MINIMAL + "injects:\n  - {at: 9m, message: late}\n", "injects[0]: at 0:09:00 is after the scenario ends (0:05:00)"),
        (
            MINIMAL + "injects:\n  - {at: 1m, message: hi, alert: {name: A, lane: l2-arb}}\n",
            "exactly one of alert, message, ai_fault",
        ),
        (MINIMAL + "injects:\n  - {at: soon, message: hi}\n", "injects.0.at: Value error, invalid duration 'soon'"),
        (
            MINIMAL + "roles: {ic: decides}\nresponders:\n  - {at: 1m, user: U1, do: ack, role: pilot}\n",
            "responders[0]: role 'pilot' is not one of the scenario's roles (ic)",
        ),
    ],
)
def test_a_bad_scenario_is_refused_with_where_and_why(text: str, problem: str) -> None:
    with pytest.raises(ScenarioError, match=r"^bad\.yaml: ") as caught:
        parse_scenario(text, "bad.yaml")
    assert problem.replace("Value error, ", "") in str(caught.value)


def test_at_least_five_scenarios_are_bundled_one_an_ai_fault_drill() -> None:
    scenarios = bundled()
    assert len(scenarios) >= 5
    assert any(i.ai_fault for s in scenarios.values() for i in s.injects)
    kinds = {a.kind for s in scenarios.values() for a in s.anomalies}
    assert kinds == {"failure_spike", "finality_stall", "sequence_gap", "reorg", "feed_divergence", "sequencer_outage"}


def test_tabletop_list_gives_each_scenario_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tabletop", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(bundled())
    assert any(line.startswith("l2-arb-failure-spike  ") and "roll back within 10 minutes" in line for line in lines)


@pytest.fixture(scope="module")
def drills() -> dict[str, DrillLog]:
    return {name: run_offline(scenario) for name, scenario in bundled().items()}


def test_every_bundled_scenario_runs_offline_to_a_report(drills: dict[str, DrillLog]) -> None:
    for name, log in drills.items():
        report = render(log)
        for heading in (
            "## Decisions against what was expected",
            "## Approvals",
            "## Escalation gaps",
            "## Timeline",
            "## Recommendations",
        ):
            assert heading in report, (name, heading)
        assert log.first_alert is not None, name
        assert log.transcript, name
        assert all(call["args"]["text"].startswith("[EXERCISE] ") for call in log.transcript), name


def test_the_failure_spike_report_times_the_decisions_from_the_first_alert(drills: dict[str, DrillLog]) -> None:
    log = drills["l2-arb-failure-spike"]
    rows = {label: (took, verdict) for label, _, took, verdict in expectations(log)}
    assert rows["ack"][1] == "met"
    assert rows["ack"][0] is not None
    assert rows["ack"][0].total_seconds() == 120  # alert at 14m, ack at 16m
    assert rows["approve rollback l2-arb"][0] is not None
    assert rows["approve rollback l2-arb"][0].total_seconds() == 420  # the second approval at 21m
    assert [(who, decision) for _, who, decision, _ in log.approvals] == [("U01ONCALL", "approve"), ("U02LEAD", "approve")]
    assert "approved: EXERCISE, nothing executes" in json.dumps(log.transcript, ensure_ascii=False)


def test_an_approver_who_never_came_is_an_escalation_gap(drills: dict[str, DrillLog]) -> None:
    log = drills["l2-op-sequencer-outage"]
    assert [(a["kind"], a["lane"]) for a in log.waiting] == [("rollback", "l2-op")]
    report = render(log)
    assert "still waiting for approvals at the end" in report
    assert "| approve rollback l2-op | 8:00 | — | never |" in report


def test_the_planted_ai_proposal_is_stopped_by_the_validators(drills: dict[str, DrillLog]) -> None:
    [(_, codes)] = drills["ai-fault-hallucinated-rollback"].faults
    assert {"fact.mismatch", "lane.outside_incident", "number.ungrounded"} <= set(codes)
    assert "240" not in json.dumps(drills["ai-fault-hallucinated-rollback"].transcript)


def test_drill_runs_are_deterministic(drills: dict[str, DrillLog]) -> None:
    again = run_offline(load("l2-arb-feed-divergence"))
    first = drills["l2-arb-feed-divergence"]
    assert [(e.at, e.kind, e.actor) for e in again.entries] == [(e.at, e.kind, e.actor) for e in first.entries]


def test_tabletop_run_offline_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "aar.md"
    assert main(["tabletop", "run", "l2-arb-feed-divergence", "--offline", "--report", str(out)]) == 0
    assert out.read_text().startswith("# After-action report: l2-arb's price feed drifts 150 bps from the reference")
    assert main(["tabletop", "run", "no-such-drill", "--offline"]) == 2
    assert "neither a bundled scenario" in capsys.readouterr().err


def test_simulate_writes_the_scenarios_events_in_the_drill_namespace(tmp_path: Path) -> None:
    out = tmp_path / "events.ndjson"
    assert main(["simulate", "l2-zk-sequence-gap-reorg", "--out", str(out)]) == 0
    events, stats = parse_events([out.read_bytes()])
    assert not stats.rejected
    assert events
    assert all(e.event_id.startswith("ex-l2-zk-sequence-gap-reorg-") for e in events)


def test_tabletop_run_in_slack_posts_the_drill_and_writes_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fakes import FakeSlack, running

    monkeypatch.chdir(tmp_path)
    with running(FakeSlack()) as slack:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-cli-token-0000")
        monkeypatch.setenv("SLACK_API_URL", slack.url)
        monkeypatch.setenv("LANEKEEPER_CHANNEL", "#settlement-incidents")
        out = tmp_path / "aar.md"
        args = ["tabletop", "run", "l2-arb-failure-spike", "--channel", "C0DRILL", "--speed", "600", "--report", str(out)]
        assert main(args) == 0
        assert "| approve rollback l2-arb | 10:00 | 7:00 | met |" in out.read_text()
        posted = [c for c in slack.calls if c.method == "chat.postMessage"]
        assert posted
        assert all(c.args["channel"] == "C0DRILL" for c in posted)
        assert all(c.args["text"].startswith("[EXERCISE]") for c in posted)
        assert main(["tabletop", "run", "l2-arb-failure-spike", "--channel", "settlement-incidents"]) == 2
        assert "never in the production incident channel" in capsys.readouterr().err
        monkeypatch.delenv("SLACK_BOT_TOKEN")
        assert main(["tabletop", "run", "l2-arb-failure-spike"]) == 2
        assert "needs SLACK_BOT_TOKEN and --channel (or use --offline)" in capsys.readouterr().err
