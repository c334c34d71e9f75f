"""Shared fixtures: the contract example's policy, checker and events."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import EXAMPLE, Stream, load_example

from prompts import proposal_schema
from validators import Checker, Policy, parse_policy
from validators.events import Event
from validators.ndjson import parse_events


@pytest.fixture
def stream() -> Stream:
    return Stream()


@pytest.fixture(scope="session")
def policy() -> Policy:
    return parse_policy((EXAMPLE / "policy.yaml").read_text())


@pytest.fixture(scope="session")
def checker(policy: Policy) -> Checker:
    return Checker(policy, proposal_schema())


@pytest.fixture(scope="session")
def example_events() -> list[Event]:
    events, _ = parse_events([(EXAMPLE / "events.ndjson").read_bytes()])
    return events


@pytest.fixture
def valid_doc() -> dict[str, Any]:
    return load_example("summary-valid.json")
