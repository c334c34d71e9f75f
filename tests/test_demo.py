"""``make demo`` runs the bundled example end to end and says what each proposal got."""

from __future__ import annotations

import pytest

from bot.demo import run


def test_demo_passes_the_valid_proposal_and_withholds_the_six_others(capsys: pytest.CaptureFixture[str]) -> None:
    assert run() == 0
    out = capsys.readouterr().out
    assert out.count("this proposal is withheld") == 6
    assert out.count("this proposal passes") == 1
    assert "number.ungrounded" in out
