"""Text that tries to mention people or forge links, entered everywhere text enters: slash
command arguments, alert names, annotations and lane labels, settlement event lanes. Nothing
the bot writes to Slack, in a message or in a command's answer, carries a live mention,
broadcast, channel link or URL that it did not make itself (the one it makes: the person
who acted, from Slack's signed request)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import Stream
from test_slack_app import ONCALL, Slack, slack_world
from test_summaries import World, alertmanager

HOSTILE = [
    "<!channel>",
    "<!here|here>",
    "<!everyone>",
    "<@U02LEAD>",
    "<!subteam^S0ONCALL|@oncall>",
    "<#C0OTHER|general>",
    "<https://evil.example.com/login|click to approve>",
    "<mailto:ceo@evil.example.com|mail>",
]
LIVE = re.compile(r"<(?:[!#@]|https?:|mailto:)[^>]*>")
ALLOWED = {f"<@{ONCALL}>"}


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    """Facts-only: the text under test reaches Slack through the cards and commands, and a
    model's own text is the validators' to catch (tests/test_summaries.py)."""
    yield from slack_world(database_url, with_llm=False)


@pytest.fixture
def slack(world: World) -> Slack:
    return Slack(world)


def live_markup(texts: list[str]) -> set[str]:
    """Every live mention, broadcast, channel link or URL in what Slack would render."""
    return {found for text in texts for found in LIVE.findall(text)} - ALLOWED


def answered(response: Any) -> str:
    return response.text


def everything_sent(world: World, slack: Slack) -> list[str]:
    return [json.dumps(c.args, ensure_ascii=False) for c in world.slack.calls] + [
        json.dumps(c.args, ensure_ascii=False) for c in slack.responses()
    ]


def test_slash_command_arguments_are_echoed_as_plain_text(world: World, slack: Slack) -> None:
    answers = []
    for evil in HOSTILE:
        for command, text in [
            ("/lane", evil), ("/lane", f"status {evil}"), ("/lane", f"status {evil} post"), ("/lane", f"heatmap {evil}"),
            ("/incident", evil), ("/incident", f"list {evil}"), ("/incident", f"show {evil}"), ("/incident", f"ack {evil}"),
            ("/rollback", evil), ("/tabletop", f"start {evil}"), ("/tabletop", evil),
        ]:  # fmt: skip
            answers.append(slack.command(command, text))
    assert all(a.status_code == 200 for a in answers)
    world.bot.drain()
    assert live_markup([answered(a) for a in answers] + everything_sent(world, slack)) == set()


def test_alert_texts_and_lane_labels_reach_the_card_as_plain_text(world: World, slack: Slack) -> None:
    shown = []
    for evil in HOSTILE:
        payload = json.loads(alertmanager(name=f"Failures {evil}", summary=f"see {evil} now"))
        payload["alerts"][0]["labels"]["lane"] = evil
        payload["alerts"][0]["annotations"]["description"] = evil
        payload["alerts"][0]["fingerprint"] = f"fp-{evil}"
        answer = world.client.post("/webhooks/alertmanager", content=json.dumps(payload))
        assert answer.status_code == 200
        [incident] = answer.json()["incidents"]
        shown += [slack.command("/incident", f"show {incident}"), slack.command("/incident", f"timeline {incident}")]
    world.bot.drain()
    shown.append(slack.command("/incident", "list"))
    assert len(world.slack.posts("card")) == len(HOSTILE), "each alert's card was posted"
    assert live_markup([answered(a) for a in shown] + everything_sent(world, slack)) == set()


def test_lanes_named_like_markup_in_events_are_shown_as_plain_text(world: World, slack: Slack) -> None:
    stream = Stream()
    for n, evil in enumerate(HOSTILE):
        stream.settle(f"s{n}", 10, 20, lane=evil)
    stream.settle("bad", 10, 30, lane="l2-arb", ok=False)
    assert world.client.post("/events", content=stream.ndjson()).status_code == 200
    shown = [slack.command("/lane", "status"), slack.command("/lane", "status post"), slack.command("/rollback", "l2-arb")]
    shown += [slack.command("/lane", f"heatmap {evil}") for evil in HOSTILE]
    world.bot.drain()
    assert len(world.bot.lane_status()) == len(HOSTILE) + 1
    assert live_markup([answered(a) for a in shown] + everything_sent(world, slack)) == set()


def test_the_check_finds_markup_when_it_is_there() -> None:
    """The detector itself: it must see what these tests say is absent."""
    assert live_markup(["hi <!channel> and <https://x.example|x> and <@U02LEAD>", f"by <@{ONCALL}>"]) == {
        "<!channel>",
        "<https://x.example|x>",
        "<@U02LEAD>",
    }
    assert live_markup(["&lt;!channel&gt; is escaped"]) == set()
