"""Silences from Slack (issue 21): ``/lane silence LANE DURATION REASON`` (approvers only)
mutes new incidents on the lane while its alerts are still stored and counted; it shows on
``/lane status``, ends by itself, and ``/lane unsilence`` ends it early; who and why are kept.
Signed slash commands and webhooks, the event clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from helpers import Stream
from sqlalchemy import func, select
from test_slack_app import LEAD, ONCALL, STRANGER, Slack, slack_world
from test_summaries import World, alertmanager

from bot.chatops.silences import silence
from bot.incidents.silences import SilenceError
from bot.store.tables import alerts, incidents, lane_silences


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from slack_world(database_url, with_llm=False)


@pytest.fixture
def slack(world: World) -> Slack:
    return Slack(world)


def fire(world: World, starts: float, name: str = "SettlementFailures") -> dict[str, Any]:
    answer = world.client.post("/webhooks/alertmanager", content=alertmanager(name=name, starts=starts))
    assert answer.status_code == 200
    world.bot.drain()
    found: dict[str, Any] = answer.json()
    return found


def count(world: World, table: Any) -> int:
    with world.bot.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)


def status_text(slack: Slack, text: str = "status") -> str:
    return json.dumps(slack.command("/lane", text).json(), ensure_ascii=False)


def test_a_silenced_lane_opens_no_incident_but_its_alerts_are_stored_and_counted(world: World, slack: Slack) -> None:
    world.client.post("/events", content=_events())
    answer = slack.command("/lane", "silence l2-arb 30m sequencer upgrade <!channel>", user=LEAD).json()
    assert answer["response_type"] == "in_channel"  # the channel knows why the lane is quiet
    assert "<@U02LEAD> silenced l2-arb for 30 min, until 14:40 UTC: “sequencer upgrade &lt;!channel&gt;”" in answer["text"]
    filed = fire(world, 600)
    assert (filed["new"], filed["muted"], filed["incidents"]) == (1, 1, [])
    assert count(world, incidents) == 0
    assert count(world, alerts) == 1  # stored all the same
    assert world.slack.of("chat.postMessage") == []  # no card
    metrics = world.client.get("/metrics").text
    assert 'lanekeeper_alerts_total{outcome="muted",sender="alertmanager"} 1.0' in metrics
    shown = status_text(slack)
    assert "silenced until 14:40 UTC by <@U02LEAD>: “sequencer upgrade &lt;!channel&gt;” (1 alert muted" in shown
    detail = status_text(slack, "status l2-arb")
    assert "silenced until 14:40 UTC by <@U02LEAD>" in detail
    assert "silenced" not in status_text(slack, "status l2-op")


def test_a_silence_ends_by_itself(world: World, slack: Slack) -> None:
    slack.command("/lane", "silence l2-arb 30m maintenance", user=ONCALL)
    assert fire(world, 600)["muted"] == 1
    world.clock.advance(31 * 60)
    assert "silenced" not in status_text(slack)
    filed = fire(world, 2500)
    assert filed["muted"] == 0
    assert len(filed["incidents"]) == 1  # a new incident opens again


def test_unsilence_ends_it_now_and_the_audit_trail_keeps_who_and_why(world: World, slack: Slack) -> None:
    slack.command("/lane", "silence l2-arb 2h maintenance window", user=ONCALL)
    fire(world, 600)
    answer = slack.command("/lane", "unsilence l2-arb", user=LEAD).json()
    assert answer["response_type"] == "in_channel"
    assert answer["text"] == "<@U02LEAD> ended the silence of l2-arb: new incidents open again (1 alert muted)."
    assert len(fire(world, 700)["incidents"]) == 1
    [trail] = world.bot.silences.history("l2-arb")
    assert (trail.created_by, trail.reason, trail.ended_by, trail.alerts_muted) == (ONCALL, "maintenance window", LEAD, 1)
    assert trail.ended_at is not None
    assert trail.ends_at - trail.starts_at == timedelta(hours=2)
    refused = slack.command("/lane", "unsilence l2-arb", user=LEAD).json()
    assert (refused["text"], refused["response_type"]) == ("L2-arb is not silenced.", "ephemeral")


def test_only_approvers_silence_and_bad_arguments_say_what_was_wrong(world: World, slack: Slack) -> None:
    refused = slack.command("/lane", "silence l2-arb 30m because", user=STRANGER).json()
    assert refused["response_type"] == "ephemeral"
    assert refused["text"] == "<@U99NOBODY> is not an approver in the policy; ask one of the on-call approvers."
    assert world.bot.silences.history() == []
    assert "needs a lane, a duration and a reason" in slack.command("/lane", "silence l2-arb 30m").json()["text"]
    assert "`l9-x` is not a lane of the policy" in slack.command("/lane", "silence l9-x 30m why").json()["text"]
    assert "`soon` is not a duration" in slack.command("/lane", "silence l2-arb soon why").json()["text"]
    assert "A silence lasts from 1m to 168h" in slack.command("/lane", "silence l2-arb 200h why").json()["text"]
    assert world.bot.silences.history() == []


def test_a_silence_mutes_new_incidents_only_an_open_one_still_gets_its_alerts(world: World, slack: Slack) -> None:
    [incident_id] = fire(world, 600)["incidents"]
    slack.command("/lane", "silence l2-arb 30m noisy", user=ONCALL)
    filed = fire(world, 650, name="CanaryFailing")
    assert (filed["muted"], filed["incidents"]) == (0, [incident_id])


def test_silencing_again_replaces_the_lanes_silence(world: World) -> None:
    world.bot.silences.silence("l2-arb", timedelta(minutes=30), "first", ONCALL)
    world.bot.silences.silence("l2-arb", timedelta(hours=1), "second", LEAD)
    [live] = world.bot.silences.active().values()
    assert (live.reason, live.created_by) == ("second", LEAD)
    first = world.bot.silences.history()[-1]
    assert (first.reason, first.ended_by) == ("first", LEAD)
    with pytest.raises(SilenceError, match="needs a reason"):
        world.bot.silences.silence("l2-op", timedelta(minutes=5), "  ", ONCALL)


def test_usage_is_answered_for_a_malformed_unsilence(world: World) -> None:
    message, to_channel = silence(world.bot.silences, world.bot.actions.approvers, world.bot.policy, ["unsilence"], ONCALL)
    assert not to_channel
    assert message.text.startswith("`/lane unsilence` needs exactly one lane.")


def _events() -> bytes:
    stream = Stream()
    stream.settle("s1", 500, 510)
    stream.settle("s2", 500, 510, lane="l2-op")
    return stream.ndjson()


def test_an_alert_still_firing_when_its_silence_ends_opens_its_incident_then(world: World, slack: Slack) -> None:
    slack.command("/lane", "silence l2-arb 30m deploy", user=ONCALL)
    assert fire(world, 600)["muted"] == 1
    world.bot.tick()
    assert count(world, incidents) == 0  # still silenced: nothing, however many ticks
    with world.bot.engine.connect() as conn:
        assert conn.scalar(select(lane_silences.c.alerts_muted)) == 1  # counted once, not once a tick
    world.clock.advance(31 * 60)  # the silence ends by itself; SettlementFailures still fires
    world.bot.tick()
    world.bot.drain()
    assert count(world, incidents) == 1
    [card] = world.slack.of("chat.postMessage")
    assert "SettlementFailures on l2-arb" in card.args["text"]


def test_unsilencing_a_lane_whose_alert_still_fires_opens_its_incident(world: World, slack: Slack) -> None:
    slack.command("/lane", "silence l2-arb 30m deploy", user=ONCALL)
    fire(world, 600)
    slack.command("/lane", "unsilence l2-arb", user=ONCALL)
    world.bot.tick()
    assert count(world, incidents) == 1
