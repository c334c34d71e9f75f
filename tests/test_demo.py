"""``make demo`` replays the bundled scenario end to end, then runs the validators as a CI gate."""

from __future__ import annotations

import json

import pytest
from helpers import EXAMPLE

from bot.demo import run


def test_demo_shows_the_card_the_caught_figure_the_validated_summary_and_the_ci_gate(capsys: pytest.CaptureFixture[str]) -> None:
    assert run() == 0
    out = capsys.readouterr().out
    assert out.index("AI summary: validating…") < out.index("(edited the message above)")
    assert "attempt 1: rejected" in out
    assert "fact.mismatch at /claims/0/value: the claim says failed = 432 on l2-arb, but the events give 144" in out
    assert "attempt 2: validated" in out
    assert "*Suggested: rollback l2-arb*" in out
    assert "432 failed" not in out.split("Behind it, the audit trail")[0]  # the wrong figure never reached the channel
    expected = json.loads((EXAMPLE / "expected.json").read_text()).values()
    assert out.count("this proposal is withheld") == sum(code != "ok" for code in expected)
    assert out.count("this proposal passes") == sum(code == "ok" for code in expected)
