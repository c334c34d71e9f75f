"""``/settlement ID`` through the real Slack app (signed requests): the trace, privately,
and every bad input answered in one line."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from helpers import Stream
from test_slack_app import Slack, slack_world
from test_summaries import World


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from slack_world(database_url, with_llm=False)


@pytest.fixture
def slack(world: World) -> Slack:
    stream = Stream()
    stream.add("settlement.submitted", 10, settlement_id="stl-<!here>")
    stream.add("settlement.submitted", 11, settlement_id="stl-9")
    stream.add("settlement.finalized", 40, settlement_id="stl-9")  # no confirmation, no proof
    assert world.client.post("/events", content=stream.ndjson()).status_code == 200
    return Slack(world)


def test_the_trace_is_shown_privately_with_its_flags(slack: Slack) -> None:
    answer = slack.command("/settlement", "stl-9").json()
    assert answer["response_type"] == "ephemeral"
    shown = json.dumps(answer["blocks"], ensure_ascii=False)
    assert answer["text"].startswith("stl-9 on l2-arb: finalized after 29.000 s")
    assert "submitted" in shown
    assert "confirmed.missing" in shown
    assert "proof.missing" in shown
    assert "--export FILE.ndjson" in shown


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "`/settlement` needs exactly one settlement id."),
        ("a b", "`/settlement` needs exactly one settlement id."),
        ("help", "`/settlement ID`"),
        ("stl-404", "No settlement stl-404 in the store."),
    ],
)
def test_bad_input_is_answered_in_one_line(slack: Slack, text: str, said: str) -> None:
    answer = slack.command("/settlement", text).json()
    assert said in answer["text"]
    assert answer["response_type"] == "ephemeral"


def test_an_id_that_looks_like_markup_is_shown_as_text(slack: Slack) -> None:
    answer = slack.command("/settlement", "stl-<!here>").json()
    shown = json.dumps(answer, ensure_ascii=False)
    assert "<!here>" not in shown
    assert "stl-&lt;!here&gt;" in shown
