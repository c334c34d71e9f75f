"""The LLM down, slow, or answering garbage: the bot posts the facts, says why the summary
is missing, and keeps working (the next incident gets its card and its summary attempt).
Through the real openai client against a loopback server, on the whole bot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fakes import FakeOpenAI, FakeSlack, Reply, running
from server import free_port
from test_summaries import World, world_for

GARBAGE = [
    pytest.param(Reply(body=b"<html><body>502 Bad Gateway</body></html>"), id="html-instead-of-json"),
    pytest.param(Reply(body={"unexpected": True}), id="json-that-is-no-completion"),
    pytest.param(Reply(body={"id": "x", "object": "chat.completion", "choices": []}), id="no-choices"),
    pytest.param(Reply(body=b"\x00\xff\xfe garbage \x80"), id="binary"),
    pytest.param(Reply(content="Sure! Here is your summary: everything is fine."), id="prose-not-json"),
    pytest.param(Reply(content='["not", "an", "object"]'), id="json-array"),
    pytest.param(Reply(content=json.dumps({"schema_version": 1, "headline": "x" * 10_000})), id="huge-headline"),
    pytest.param(Reply(content="[" * 100_000), id="nested-100k-deep"),  # RecursionError escaped json.loads
]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with running(FakeSlack()) as fake:
        yield fake


def assert_facts_shown_and_still_working(world: World, reason: str) -> None:
    """The card is the facts with the reason the summary is missing; the bot still runs."""
    last = world.card_texts()[-1]
    assert reason in last, last
    assert "Failure rate 25%" in last  # the l2-arb failure rate, computed from the events
    assert len(world.slack.posts("card")) == 1
    assert world.bot.health().ok
    assert world.client.get("/healthz").status_code == 200


@pytest.mark.parametrize("bad", GARBAGE)
def test_garbage_from_the_llm_ends_with_the_facts_card_and_no_crash(database_url: str, slack: FakeSlack, bad: Reply) -> None:
    with running(FakeOpenAI(responder=lambda _: bad)) as llm:
        for world in world_for(database_url, llm, slack, llm_deadline=timedelta(seconds=3)):
            incident = world.open_incident()
            assert_facts_shown_and_still_working(world, "Facts only: ")
            outcomes = [c["outcome"] for c in world.calls()]
            assert outcomes, "every attempt is audited"
            assert "validated" not in outcomes
            assert world.slack.posts("card")[0].args["metadata"]["event_payload"]["incident_id"] == incident
            assert world.slack.posts("card")[0].args["text"].startswith("#1 ")


def test_an_llm_that_is_down_ends_with_the_facts_card_and_no_crash(database_url: str, slack: FakeSlack) -> None:
    with running(FakeOpenAI()) as unused:
        for world in world_for(
            database_url, unused, slack, openai_base_url=f"http://127.0.0.1:{free_port()}/v1", llm_deadline=timedelta(seconds=2)
        ):
            world.open_incident()
            assert_facts_shown_and_still_working(world, "Facts only: LLM unavailable: APIConnectionError")
            assert [c["outcome"] for c in world.calls()] == ["unavailable"]


def test_an_llm_that_hangs_past_the_deadline_ends_with_the_facts_card(database_url: str, slack: FakeSlack) -> None:
    with running(FakeOpenAI(responder=lambda _: Reply(content="{}", delay=8))) as hanging:
        for world in world_for(database_url, hanging, slack, llm_deadline=timedelta(seconds=2)):
            world.open_incident()
            assert_facts_shown_and_still_working(world, "Facts only: LLM unavailable: APITimeoutError")
