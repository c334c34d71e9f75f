"""Simultaneous clicks never execute an action twice, and a reject that lands first wins:
signed Slack clicks released at one instant, on SQLite and PostgreSQL, many rounds each.
bench/action_races.py runs the same rounds by the thousand."""

from __future__ import annotations

from pathlib import Path

import pytest
from races import SCENARIOS, race_world

ROUNDS = 6


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_simultaneous_clicks_execute_an_action_at_most_once(database_url: str, tmp_path: Path, scenario: str) -> None:
    with race_world(database_url, tmp_path) as world:
        for _ in range(ROUNDS):
            world.round(scenario)
        tally = world.settle()
    assert sum(tally.rounds.values()) == ROUNDS
    assert tally.defects == 0, tally.as_json()
    assert world.receiver.bad_signatures == 0
    if scenario in ("approve-approve", "ten-approvers"):
        assert tally.outcomes == {"executed": ROUNDS}  # approvals only: each executes, once
    else:
        assert set(tally.outcomes) <= {"executed", "rejected"}
