"""The proposal schema (contract §4): JSON Schema file and pydantic model agree."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from helpers import load_example, proposal
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from prompts import load_asset, proposal_schema
from validators.findings import Code
from validators.proposal import Proposal
from validators.schema import SchemaChecker

CHECKER = SchemaChecker(proposal_schema())


def codes_at(doc: Any) -> list[tuple[str, str]]:
    return [(str(v.code), v.path) for v in CHECKER.check(doc)]


def test_the_valid_example_passes_both() -> None:
    doc = load_example("summary-valid.json")
    assert CHECKER.check(doc) == []
    Proposal.model_validate(doc)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.pop("claims"), [("schema", "")]),
        (lambda d: d.update(extra=1), [("schema", "")]),
        (lambda d: d.update(status="done"), [("schema", "/status")]),
        (lambda d: d.update(schema_version=2), [("schema", "/schema_version")]),
        (lambda d: d["claims"][0].update(value="25"), [("schema", "/claims/0/value")]),
        (lambda d: d["claims"][1].update(confidence=0.9), [("schema", "/claims/1")]),
        (lambda d: d["window"].update(start="2026-03-02 14:00"), [("schema", "/window/start")]),
        (lambda d: d["window"].update(start="2026-13-02T14:00:00Z"), [("schema", "/window/start")]),
        (lambda d: d["window"].update(end="2026-03-02T13:00:00Z"), [("schema", "/window")]),
        (lambda d: d.update(lanes=[]), [("schema", "/lanes")]),
        (lambda d: d.update(lanes=["l2-arb", "l2-arb"]), [("schema", "/lanes")]),
        (lambda d: d.update(headline="x" * 151), [("content.too_long", "/headline")]),
        (lambda d: d["claims"][2].update(text="x" * 501), [("content.too_long", "/claims/2/text")]),
        (lambda d: d["actions"][0].update(reason="x" * 501), [("content.too_long", "/actions/0/reason")]),
    ],
)
def test_schema_violations_point_at_the_broken_part(mutate: Any, expected: list[tuple[str, str]]) -> None:
    doc = load_example("summary-valid.json")
    mutate(doc)
    assert codes_at(doc) == expected
    with pytest.raises(ValidationError):
        Proposal.model_validate(doc)


def test_every_problem_is_reported_not_only_the_first() -> None:
    doc = proposal(status="done", severity="high", headline="")
    assert {path for _, path in codes_at(doc)} == {"/status", "/severity", "/headline"}


def test_too_long_reports_length_and_limit() -> None:
    (violation,) = CHECKER.check(proposal(headline="y" * 200))
    assert violation.code is Code.CONTENT_TOO_LONG
    assert violation.details == {"length": 200, "limit": 150}


def test_schema_asset_has_a_stable_hash() -> None:
    asset = load_asset("proposal.schema.json")
    assert len(asset.sha256) == 64
    assert asset.sha256 == load_asset("proposal.schema.json").sha256


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False),
    st.text(max_size=3),
    st.just("2026-03-02T14:00:00Z"),
    st.just("sev2"),
    st.just([]),
    st.just({}),
)
_KEYS = st.sampled_from(
    ["schema_version", "incident_id", "headline", "severity", "status", "lanes", "window", "claims", "actions", "bogus"]
)


@settings(max_examples=300)
@given(_KEYS, _VALUES, st.integers(0, 3), st.sampled_from(["text", "lane", "fact", "value", "evidence", "bogus"]))
def test_pydantic_model_and_json_schema_accept_the_same_documents(key: str, value: Any, which: int, claim_key: str) -> None:
    doc = copy.deepcopy(load_example("summary-valid.json"))
    if which == 0:
        doc[key] = value
    elif which == 1:
        doc.pop(key, None)
    else:
        doc["claims"][0][claim_key] = value
    schema_ok = not [v for v in CHECKER.check(doc) if v.code in (Code.SCHEMA, Code.CONTENT_TOO_LONG)]
    try:
        Proposal.model_validate(doc)
        model_ok = True
    except ValidationError:
        model_ok = False
    assert schema_ok == model_ok, (key, value, which, claim_key)
