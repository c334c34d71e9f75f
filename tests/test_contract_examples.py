"""The contract's own examples: each proposal gives exactly the code expected.json names."""

from __future__ import annotations

import json

import pytest
from helpers import EXAMPLE, load_example

from validators import Checker, check_proposal
from validators.events import Event

EXPECTED: dict[str, str] = json.loads((EXAMPLE / "expected.json").read_text())


@pytest.mark.parametrize(("name", "code"), sorted(EXPECTED.items()))
def test_example_proposal_gives_the_expected_code(name: str, code: str, example_events: list[Event], checker: Checker) -> None:
    report = check_proposal(load_example(name), example_events, checker)
    if code == "ok":
        assert report.ok, report.as_json()
    else:
        assert report.codes == {code}, report.as_json()


def test_every_violation_has_a_json_pointer_and_a_message(example_events: list[Event], checker: Checker) -> None:
    for name in EXPECTED:
        for violation in check_proposal(load_example(name), example_events, checker).violations:
            assert violation.path.startswith("/")
            assert len(violation.message) > 20
