"""Properties over the contract example's real events.

(a) A proposal built from the computed facts, phrased with any rounding and unit a
    careful writer uses, validates clean.
(b) Moving any claimed value beyond its tolerance, or any written figure off every known
    quantity, is caught.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from helpers import EXAMPLE, load_example
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from validators import Checker, Policy, check_proposal, compute_facts, window_of
from validators.events import CanaryResult, Event, SettlementSubmitted
from validators.facts import FACT_NAMES, FACT_UNITS, Unit
from validators.rules import SUPPORTING_KINDS

LANE = "l2-arb"


@pytest.fixture(scope="module")
def scene(example_events: list[Event], policy: Policy) -> dict[str, Any]:
    base = load_example("summary-valid.json")
    window = window_of(base)
    assert window is not None
    facts = compute_facts(example_events, window).lane(LANE)
    return {"events": example_events, "window": window, "facts": facts, "policy": policy}


def _phrases(unit: Unit, value: float) -> list[str]:
    """How careful writers write ``value``: every rounding and unit they use."""
    if unit is Unit.COUNT:
        found = [f"{value:.0f}", f"{value:,.0f}"]
        return found + ([f"{value / 1000:.1f}K"] if value >= 1000 else [])
    if unit is Unit.RATIO:
        return [f"{value * 100:.0f}%", f"{value * 100:.1f}%", f"{value * 100:.2f} %", f"{value:.4f}", f"{value * 10000:.0f} bps"]
    if unit is Unit.SECONDS:
        return [f"{value:.0f} s", f"{value:.1f}s", f"{value / 60:.0f} min", f"{value / 60:.1f} minutes", f"{value * 1000:.0f} ms"]
    if unit is Unit.USD:
        return [
            f"${value:,.0f}",
            f"${value:.2f}",
            f"${value / 1e3:.0f}K",
            f"${value / 1e3:.1f}K",
            f"{value / 1e3:.0f}K USD",
            f"${value / 1e6:.1f}M",
            f"${value / 1e6:.2f}M",
            f"{value / 1e6:.2f} million USD",
        ]
    return [f"{value:.0f} bps", f"{value:.1f}bps", f"{value / 100:.2f}%"]


def _evidence(events: list[Event], fact: str, start: datetime, end: datetime) -> list[str]:
    kinds = SUPPORTING_KINDS[fact]
    for ev in events:
        if ev.lane != LANE or not start <= ev.ts < end or (kinds and ev.kind not in kinds):
            continue
        if fact == "canary_failures" and isinstance(ev, CanaryResult) and ev.ok:
            continue
        return [ev.event_id]
    return []


_USABLE = [f for f in FACT_NAMES if f not in ("pending", "pending_notional_usd")]  # their evidence may precede the window


def _doc(scene: dict[str, Any], picks: list[tuple[str, int]]) -> dict[str, Any]:
    facts, window, events = scene["facts"], scene["window"], scene["events"]
    level, _ = scene["policy"].severity_of([(LANE, facts)])
    claims = []
    for fact, style in picks:
        value = facts.value(fact)
        if value is None:
            continue
        phrases = _phrases(FACT_UNITS[fact], value)
        claims.append(
            {
                "text": f"{fact.replace('_', ' ')} on {LANE} is {phrases[style % len(phrases)]}",
                "lane": LANE,
                "fact": fact,
                "value": value,
                "evidence": _evidence(events, fact, window.start, window.end),
            }
        )
    doc = load_example("summary-valid.json")
    doc.update(
        severity=level,
        claims=claims,
        actions=[],
        headline=f"{LANE} degraded since {window.start:%H:%M} UTC, over the last {window.length_s / 60:.0f} min",
    )
    return doc


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_USABLE), st.integers(0, 20)), min_size=1, max_size=6))
def test_a_proposal_phrased_from_the_facts_validates_clean(
    scene: dict[str, Any], checker: Checker, picks: list[tuple[str, int]]
) -> None:
    report = check_proposal(_doc(scene, picks), scene["events"], checker)
    assert report.ok, report.as_json()


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_USABLE), st.floats(min_value=0.015, max_value=5.0), st.booleans(), st.integers(1, 1000))
def test_a_claimed_value_beyond_its_tolerance_is_caught(
    scene: dict[str, Any], checker: Checker, fact: str, shift: float, down: bool, step: int
) -> None:
    doc = _doc(scene, [(fact, 0)])
    assume(doc["claims"])
    claim = doc["claims"][0]
    if FACT_UNITS[fact] is Unit.COUNT:
        claim["value"] += -step if down else step
    else:
        assume(claim["value"] != 0)
        claim["value"] *= (1 - shift) if down and shift < 1 else (1 + shift)
    report = check_proposal(doc, scene["events"], checker)
    assert ("fact.mismatch", "/claims/0/value") in [(str(v.code), v.path) for v in report.violations]


# How a written unit reads in base units: (base units per written unit, ...) for each reading.
_READINGS = {"%": (0.01, 100.0), " bps": (1e-4, 1.0), " s": (1.0,), " min": (60.0,), "K": (1e3,), "M": (1e6,), "": (1.0,)}


def _known_values(scene: dict[str, Any]) -> list[float]:
    policy = scene["policy"]
    values = [v for v in scene["facts"].as_dict().values() if v is not None]
    values += [t for level in policy.severity.values() for t in level.values()] + list(policy.healthy.values())
    values += [t for spec in policy.actions.values() for t in spec.trigger_any.values()]
    values += [spec.approvals for spec in policy.actions.values()] + [policy.resolved_quiet_s, scene["window"].length_s]
    return values


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(_READINGS)), st.integers(0, 2), st.floats(min_value=0.01, max_value=10**7))
def test_a_figure_off_every_known_quantity_is_ungrounded(
    scene: dict[str, Any], checker: Checker, unit: str, decimals: int, written: float
) -> None:
    text = f"{written:.{decimals}f}"
    step = 10.0**-decimals
    # independent oracle: every reading of the figure is more than one written step and 5% away from every known value
    for factor in _READINGS[unit]:
        reading = float(text) * factor
        assume(all(abs(reading - k) > max(step * factor, 0.05 * abs(k)) for k in _known_values(scene)))
    doc = _doc(scene, [])
    doc["headline"] = f"{LANE} shows {text}{unit} now"
    report = check_proposal(doc, scene["events"], checker)
    assert [(str(v.code), v.path) for v in report.violations] == [("number.ungrounded", "/headline")]


def test_example_facts_feed_the_properties(scene: dict[str, Any]) -> None:
    assert scene["facts"].failed == 25
    assert (EXAMPLE / "events.ndjson").exists()
    assert any(isinstance(e, SettlementSubmitted) for e in scene["events"])
