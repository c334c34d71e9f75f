"""Bugs found in review, each pinned here before its fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import EXAMPLE, Stream, load_example

from bot.cli.main import main
from validators import Checker, PolicyError, check_proposal, parse_policy
from validators.events import Event
from validators.facts import Unit
from validators.grounding import Quantity, grounded
from validators.ndjson import parse_events
from validators.tokens import Number, tokenize

BASE_POLICY = (EXAMPLE / "policy.yaml").read_text()


def first_claim_text(text: str, events: list[Event], checker: Checker) -> set[str]:
    doc = load_example("summary-valid.json")
    doc["claims"][0]["text"] = text
    return check_proposal(doc, events, checker).codes


# -- crashes -----------------------------------------------------------------------------


def test_invalid_utf8_in_a_line_rejects_only_that_line() -> None:
    good = b'{"event_id":"a","ts":"2026-03-02T14:00:00Z","lane":"l2-arb","seq":1,"kind":"queue.depth","value":1}'
    events, stats = parse_events([good + b"\n" + good.replace(b'"a"', b'"x\xff"') + b"\n"])
    assert [e.event_id for e in events] == ["a"]
    assert [r.line for r in stats.rejected] == [2]


@pytest.mark.parametrize("sep", [b"", b" ", b"\r"])
def test_two_objects_on_one_line_are_one_rejected_line(sep: bytes) -> None:
    a = b'{"event_id":"a","ts":"2026-03-02T14:00:00Z","lane":"l2-arb","seq":1,"kind":"queue.depth","value":1}'
    b = a.replace(b'"a"', b'"b"').replace(b'"seq":1', b'"seq":2')
    events, stats = parse_events([a + sep + b + b"\n" + a + b"\n" + b.replace(b'"b"', b'"c"') + b"\n"])
    assert [e.event_id for e in events] == ["a", "c"]
    assert [r.line for r in stats.rejected] == [1]
    assert [d.line for d in stats.redelivered] == []


@pytest.mark.parametrize("value", ["1" * 401, "NaN", "Infinity"])
def test_a_non_finite_or_huge_claim_value_is_a_schema_violation(
    tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (EXAMPLE / "summary-valid.json").read_text().replace('"value": 0.2336', f'"value": {value}')
    summary = tmp_path / "s.json"
    summary.write_text(text)
    code = main(
        [
            "validate",
            "--events",
            str(EXAMPLE / "events.ndjson"),
            "--policy",
            str(EXAMPLE / "policy.yaml"),
            "--summary",
            str(summary),
        ]
    )
    assert code == 1
    assert "schema" in {v["code"] for v in json.loads(capsys.readouterr().out)["violations"]}


# -- wrong texts accepted ------------------------------------------------------------------


def ungrounded_numbers(text: str, known: list[Quantity]) -> list[Number]:
    return [t for t in tokenize(text) if isinstance(t, Number) and (t.figure is None or not grounded(t.figure, known))]


KNOWN = [
    Quantity(35.68, Unit.SECONDS, "p50"),
    Quantity(5.48, Unit.BPS, "div"),
    Quantity(65.37, Unit.SECONDS, "p99"),
    Quantity(25, Unit.COUNT, "failed"),
    Quantity(0.2336, Unit.RATIO, "rate"),
    Quantity(7322.0, Unit.SECONDS, "max"),
]


@pytest.mark.parametrize(
    "text",
    [
        "37 settlements failed",  # a bare number reads any fact in its own unit (v1.1): 37 is none
        "66 settlements pending",
        "4 settlements failed",
        "p99 finality 9m59s",
        "1h30m",
        "failures up 50x",
        "$99MM failed notional",
        "$5e6 pending",
    ],
)
def test_figures_that_match_no_fact_of_their_kind_are_ungrounded(text: str) -> None:
    assert ungrounded_numbers(text, KNOWN), text


@pytest.mark.parametrize("text", ["2 hours 2 minutes", "2h 2m 2s", "2h2m2s", "25 failed", "23.4% failing", "1m 5s"])
def test_compound_durations_and_counts_still_ground(text: str) -> None:
    assert ungrounded_numbers(text, [*KNOWN, Quantity(65.0, Unit.SECONDS, "x")]) == [], text


@pytest.mark.parametrize("text", ["since 14:05 EST", "at 14:05 CET", "since T13:05Z", "since 0900Z"])
def test_times_in_other_zones_or_compact_forms_are_checked(text: str, example_events: list[Event], checker: Checker) -> None:
    assert "time.outside_window" in first_claim_text(text, example_events, checker)


@pytest.mark.parametrize("text", ["see evil.com now", "see //evil.test/x", "mail mailto:a@evil.test"])
def test_bare_domains_and_other_link_forms_are_checked(text: str, example_events: list[Event], checker: Checker) -> None:
    assert "content.link" in first_claim_text(text, example_events, checker)


def _pending_claim(evidence: list[str]) -> dict[str, Any]:
    doc = load_example("summary-valid.json")
    doc["claims"] = [{"text": "2 pending", "lane": "l2-arb", "fact": "pending", "value": 2, "evidence": evidence}]
    return doc


@pytest.mark.parametrize("cited", ["evt-0000823", "evt-0000824"])  # settled long before the end; a confirmed before the window
def test_pending_evidence_must_be_a_pending_settlements_submission(
    cited: str, example_events: list[Event], checker: Checker
) -> None:
    report = check_proposal(_pending_claim([cited]), example_events, checker)
    assert report.codes == {"evidence.irrelevant"}


# -- valid texts rejected ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "incident inc-20260302-0007 has 25 failed",
        "failing between 14:05-14:20",
        "14:05-14:20 UTC",
        "see https://grafana.example.com/d/abc?from=13:00Z",
        "see https://grafana.example.com/d/settle?var-lane=l3-zk",
        "see https://runbooks.example.com/@alice/rollback",
        "$0.54 Million failed",
        "$536 Thousand failed",
        "in March 2026",
        "25 failed in Q1 2026",
    ],
)
def test_careful_writing_from_review_is_accepted(text: str, example_events: list[Event], checker: Checker) -> None:
    assert first_claim_text(text, example_events, checker) == set(), text


# -- inputs the parser or policy loader took too easily ------------------------------------


def test_a_byte_order_mark_does_not_cost_the_first_event() -> None:
    s = Stream()
    s.add("queue.depth", 1)
    events, stats = parse_events([b"\xef\xbb\xbf" + s.ndjson()])
    assert len(events) == 1
    assert not stats.rejected


@pytest.mark.parametrize("ts", ["2026-03-02T15:00:00+01:00"])
def test_timestamps_must_be_utc(ts: str) -> None:
    s = Stream()
    s.lines.append(json.dumps({"event_id": "e", "ts": ts, "lane": "l2-arb", "seq": 1, "kind": "queue.depth", "value": 1}))
    _, stats = parse_events([s.ndjson()])
    assert "UTC" in stats.rejected[0].reason


def test_an_empty_proof_is_not_hex() -> None:
    s = Stream()
    s.add("settlement.finalized", 1, proof="")
    _, stats = parse_events([s.ndjson()])
    assert len(stats.rejected) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BASE_POLICY + "\nlanes: {l1-eth: {kind: l1, chain: e}}\n", "duplicate key 'lanes'"),
        (BASE_POLICY.replace("links_allowed: [grafana.example.com", "links_allowed: [https://grafana.example.com"), "bare host"),
    ],
)
def test_policy_mistakes_are_refused(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(text)


def test_an_anchored_lane_pattern_still_finds_lanes_in_text(example_events: list[Event]) -> None:
    from prompts import proposal_schema

    policy = parse_policy(BASE_POLICY + "lane_pattern: '^l[0-9]+-[a-z0-9]+$'\n")
    doc = load_example("summary-valid.json")
    doc["headline"] = "l3-zk is also down"
    assert check_proposal(doc, example_events, Checker(policy, proposal_schema())).codes == {"lane.unknown"}


def test_approvers_may_be_one_user_group() -> None:
    policy = parse_policy(BASE_POLICY.replace("approvers: [U01ONCALL, U02LEAD]", "approvers: S0123GROUP"))
    assert policy.approvers == ["S0123GROUP"]
