"""A settlement's trace for disputes: every event in order, the time each hop took, and
what is missing or inconsistent."""

from __future__ import annotations

import random

import pytest
from helpers import Stream, at
from hypothesis import given, settings
from hypothesis import strategies as st

from validators.events import Event
from validators.trace import build_trace


def settlement(*steps: tuple[str, float, dict[str, object]], sid: str = "stl-1") -> list[Event]:
    stream = Stream()
    for kind, t, fields in steps:
        stream.add(kind, t, settlement_id=sid, **fields)
    return stream.events()


BLOCK = {"block": {"chain": "arb", "number": 7, "ts": at(12), "hash": "0x07"}}
COMPLETE = (
    ("settlement.submitted", 10, {}),
    ("settlement.confirmed", 12, BLOCK),
    ("settlement.finalized", 40.5, {**BLOCK, "proof": "0xabcd"}),
)


def codes(events: list[Event]) -> list[str]:
    return [f.code for f in build_trace("stl-1", events).flags]


def test_a_complete_settlement_is_in_order_with_the_time_of_each_hop_and_no_flags() -> None:
    trace = build_trace("stl-1", settlement(*COMPLETE))
    assert [s.event.kind for s in trace.steps] == ["settlement.submitted", "settlement.confirmed", "settlement.finalized"]
    assert [s.hop_s for s in trace.steps] == [None, 2.0, 28.5]
    assert (trace.outcome, trace.total_s, trace.flags) == ("finalized", 30.5, ())


def test_events_given_in_any_order_are_traced_in_event_time() -> None:
    events = settlement(*COMPLETE)
    assert build_trace("stl-1", list(reversed(events))) == build_trace("stl-1", events)


def test_finalized_without_confirmed_is_flagged() -> None:
    assert codes(settlement(COMPLETE[0], COMPLETE[2])) == ["confirmed.missing"]


def test_a_finalized_settlement_without_proof_is_flagged() -> None:
    assert codes(settlement(COMPLETE[0], COMPLETE[1], ("settlement.finalized", 40, BLOCK))) == ["proof.missing"]


def test_a_missing_submission_is_flagged() -> None:
    assert codes(settlement(COMPLETE[1], COMPLETE[2])) == ["submitted.missing"]


def test_sequence_ids_out_of_order_are_flagged() -> None:
    events = settlement(
        ("settlement.submitted", 10, {"seq": 50}),
        ("settlement.confirmed", 12, {**BLOCK, "seq": 49}),
        ("settlement.finalized", 40, {**BLOCK, "proof": "0x01", "seq": 51}),
    )
    trace = build_trace("stl-1", events)
    assert [f.code for f in trace.flags] == ["order.seq"]
    assert "49" in trace.flags[0].message


def test_a_step_before_the_one_it_follows_is_flagged() -> None:
    early = {"block": {"chain": "arb", "number": 7, "ts": at(5), "hash": "0x07"}}
    events = settlement(("settlement.confirmed", 5, early), *COMPLETE[0:1], *COMPLETE[2:])
    assert codes(events) == ["order.kind"]


def test_finalized_and_failed_both_is_a_conflicting_outcome() -> None:
    events = settlement(*COMPLETE, ("settlement.failed", 41, {"reason": "proof_rejected"}))
    trace = build_trace("stl-1", events)
    assert trace.outcome == "conflicting"
    assert [f.code for f in trace.flags] == ["outcome.conflicting"]


def test_a_step_stored_twice_is_flagged() -> None:
    assert codes(settlement(*COMPLETE, ("settlement.finalized", 45, {**BLOCK, "proof": "0xabcd"}))) == ["event.repeated"]


def test_finalized_in_another_block_than_confirmed_is_flagged() -> None:
    other = {"block": {"chain": "arb", "number": 8, "ts": at(12), "hash": "0x08"}, "proof": "0x01"}
    assert codes(settlement(*COMPLETE[:2], ("settlement.finalized", 40, other))) == ["block.mismatch"]


def test_a_block_time_later_than_the_event_is_not_flagged() -> None:
    """The contract's own example confirms settlements in blocks stamped at finalization:
    chain and producer clocks differ, and a flag on every settlement would hide real ones."""
    late = {"block": {"chain": "arb", "number": 7, "ts": at(40), "hash": "0x07"}}
    assert codes(settlement(COMPLETE[0], ("settlement.confirmed", 12, late))) == []


def test_events_on_two_lanes_are_flagged() -> None:
    stream = Stream()
    stream.add("settlement.submitted", 10, settlement_id="stl-1")
    stream.add("settlement.failed", 20, lane="l1-eth", settlement_id="stl-1")
    assert codes(stream.events()) == ["lane.mixed"]


def test_a_pending_settlement_has_no_outcome_and_no_flags() -> None:
    trace = build_trace("stl-1", settlement(*COMPLETE[:2]))
    assert (trace.outcome, trace.total_s, trace.flags) == ("pending", None, ())


def test_events_of_other_settlements_are_refused() -> None:
    with pytest.raises(ValueError, match="stl-2"):
        build_trace("stl-1", settlement(*COMPLETE, sid="stl-2"))


@settings(max_examples=100, deadline=None)
@given(st.randoms(use_true_random=False), st.lists(st.sampled_from(range(6)), max_size=6))
def test_the_trace_does_not_depend_on_the_order_events_are_given(rng: random.Random, picks: list[int]) -> None:
    pool = [
        *COMPLETE,
        ("settlement.failed", 41, {"reason": "nonce_conflict"}),
        ("settlement.confirmed", 9, BLOCK),
        ("settlement.submitted", 50, {}),
    ]
    events = settlement(*(pool[i] for i in picks)) if picks else []
    shuffled = list(events)
    rng.shuffle(shuffled)
    if not events:
        with pytest.raises(ValueError, match="no events"):
            build_trace("stl-1", events)
        return
    assert build_trace("stl-1", shuffled) == build_trace("stl-1", events)
