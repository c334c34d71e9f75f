"""Drills in Slack through the scenario-test harness: a complete drill with scripted
responders ending in a report whose times are right, the facilitator's controls, and a
drill beside live traffic that changes no live incident, lane status or metric."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from helpers import wait_for
from test_slack_app import Slack, slack_world
from test_summaries import World, alertmanager, incident_events

from bot.slack.blocks import APPROVE
from bot.slack.cards import ACK

DRILL = "C0DRILL"


@pytest.fixture
def world(tmp_path: object) -> Iterator[World]:
    yield from slack_world(f"sqlite:///{tmp_path}/prod.db")


@pytest.fixture
def slack(world: World) -> Slack:
    return Slack(world)


def in_drill(slack: Slack, command: str, text: str = "") -> dict:
    return dict(slack.command(command, text, channel=DRILL, name="drill-room").json())


def drill_calls(world: World) -> list:
    return [c for c in world.slack.calls if c.args.get("channel") == DRILL or c.args.get("channel_id") == DRILL]


def test_a_command_sent_the_moment_a_drill_starts_reaches_its_ready_bot(world: World, slack: Slack) -> None:
    """Found by the full suite: the drill's bot took commands before its store was migrated."""
    in_drill(slack, "/tabletop", "start l2-arb-failure-spike 600")
    answer = slack.command("/incident", "list all", channel=DRILL, name="drill-room")
    assert answer.status_code == 200, answer.text
    assert answer.json()["text"], "answered by the drill's bot"
    in_drill(slack, "/tabletop", "end")


def test_a_complete_drill_ends_in_a_report_whose_times_are_right(world: World, slack: Slack) -> None:
    started = in_drill(slack, "/tabletop", "start l2-arb-failure-spike 600")
    assert started["response_type"] == "in_channel"
    assert started["text"].startswith("EXERCISE: l2-arb settlement failures spike during the EU close starts now, at 600x")
    assert "running at T+" in in_drill(slack, "/tabletop", "status")["text"]
    wait_for(lambda: world.slack.of("files.completeUploadExternal"), timeout=90)
    [report] = [body.decode() for body in world.slack.uploads.values()]
    assert "| ack | 5:00 | 2:00 | met |" in report
    assert "| approve rollback l2-arb | 10:00 | 7:00 | met |" in report
    assert "- T+19:00 <@U01ONCALL> approved rollback l2-arb" in report
    messages = [c for c in drill_calls(world) if c.method in ("chat.postMessage", "chat.update")]
    assert messages
    assert all(c.args["text"].startswith("[EXERCISE]") for c in messages)
    assert any("approved: EXERCISE, nothing executes" in json.dumps(c.args, ensure_ascii=False) for c in messages)
    assert "ended" in in_drill(slack, "/tabletop", "status")["text"]


def test_a_drill_beside_live_traffic_changes_no_live_incident_status_or_metric(world: World, slack: Slack) -> None:
    assert world.client.post("/events", content=incident_events()).status_code == 200
    assert world.client.post("/webhooks/alertmanager", content=alertmanager(name="ProductionOnly")).status_code == 200
    world.bot.drain()
    incidents_before = slack.command("/incident", "list all").json()["blocks"]
    status_before = world.bot.lane_status()
    stored_before = world.bot.metrics.registry.get_sample_value(
        "lanekeeper_events_total", {"source": "http", "outcome": "stored"}
    )
    in_drill(slack, "/tabletop", "start l2-arb-failure-spike 600")
    drill_incidents = wait_for(
        lambda: "inc-" in json.dumps(in_drill(slack, "/incident", "list all")) and in_drill(slack, "/incident", "list all")
    )
    assert "ProductionOnly" not in json.dumps(drill_incidents)  # the drill channel sees the drill's incidents only
    wait_for(lambda: world.slack.of("files.completeUploadExternal"), timeout=90)
    assert slack.command("/incident", "list all").json()["blocks"] == incidents_before
    assert world.bot.lane_status() == status_before
    stored_after = world.bot.metrics.registry.get_sample_value("lanekeeper_events_total", {"source": "http", "outcome": "stored"})
    assert stored_after == stored_before
    assert all(c.args.get("channel") in (DRILL, "C0INCIDENT", "#settlement-incidents", None) for c in world.slack.calls)
    assert not any("[EXERCISE]" in str(c.args.get("text")) for c in world.slack.calls if c.args.get("channel") != DRILL)


def test_the_facilitator_pauses_resumes_and_ends_a_drill(world: World, slack: Slack) -> None:
    assert in_drill(slack, "/tabletop", "status")["text"].startswith("No drill here")
    in_drill(slack, "/tabletop", "start l2-op-sequencer-outage 30")
    assert "already running here" in in_drill(slack, "/tabletop", "start l2-op-sequencer-outage 30")["text"]
    paused = in_drill(slack, "/tabletop", "pause")
    assert paused["response_type"] == "in_channel"
    assert " paused at T+" in paused["text"]
    assert " running at T+" in in_drill(slack, "/tabletop", "resume")["text"]
    assert in_drill(slack, "/tabletop", "end")["text"].endswith("ends; the after-action report follows.")
    wait_for(lambda: world.slack.of("files.completeUploadExternal"), timeout=30)
    [report] = [body.decode() for body in world.slack.uploads.values()]
    assert "drill.ended" in report


def test_drill_commands_refuse_what_would_be_unsafe_or_malformed(world: World, slack: Slack) -> None:
    refused = slack.command("/tabletop", "start l2-arb-failure-spike", name="settlement-incidents").json()["text"]
    assert refused == "Drills run in a channel of their own, never in the production incident channel."
    assert "is not one" in in_drill(slack, "/tabletop", "start ../../etc/passwd")["text"]
    assert "Speed `fast` is not a number." in in_drill(slack, "/tabletop", "start l2-arb-failure-spike fast")["text"]
    assert "at most 3600" in in_drill(slack, "/tabletop", "start l2-arb-failure-spike 99999")["text"]
    assert "`l2-arb-failure-spike` —" in in_drill(slack, "/tabletop", "list")["text"]
    assert "`/tabletop start SCENARIO [SPEED] [@role=@person ...]`" in in_drill(slack, "/tabletop", "help")["text"]
    unknown = in_drill(slack, "/tabletop", "start l2-arb-failure-spike 60 @pilot=<@U0ALICE|alice>")["text"]
    assert unknown == "l2-arb-failure-spike has no role pilot; its roles: `incident_commander`, `second_approver`, `treasury`."
    named = in_drill(slack, "/tabletop", "start l2-arb-failure-spike @incident_commander=@alice")["text"]
    assert "`@alice` is not a person: mention them" in named


ALICE, BOB = "U0ALICE", "U0BOB"


def _in_thread(world: World, ts: str) -> list:
    return [c for c in drill_calls(world) if c.method == "chat.postMessage" and c.args.get("thread_ts") == ts]


def _button(world: World, action_id: str) -> str:
    """The value of the newest drill message's button ``action_id`` (an incident or action id)."""
    for call in reversed(drill_calls(world)):
        for block in call.args.get("blocks") or []:
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                if element.get("action_id") == action_id:
                    return str(element["value"])
    return ""


def test_a_drill_with_two_people_scores_their_decisions_and_the_bot_plays_no_role_they_hold(world: World, slack: Slack) -> None:
    roles = f"@incident_commander=<@{ALICE}|alice> @second_approver=<@{BOB}|bob>"
    started = in_drill(slack, "/tabletop", f"start l2-arb-failure-spike 120 {roles}")
    assert started["response_type"] == "in_channel"
    [opening] = wait_for(lambda: [c for c in drill_calls(world) if "] Drill: " in str(c.args.get("text"))])
    assert f"incident_commander: <@{ALICE}>" in json.dumps(opening.args["blocks"])
    assert "treasury: scripted" in json.dumps(opening.args["blocks"])
    thread = str(next(h["ts"] for h in world.slack.history if "] Drill: " in str(h.get("text"))))
    wait_for(lambda: [c for c in _in_thread(world, thread) if "Treasury asks" in c.args["text"]], timeout=60)
    in_drill(slack, "/tabletop", "pause")  # the people take their time; the drill's clock waits for them

    incident_id = wait_for(lambda: _button(world, ACK))
    slack.click(ACK, incident_id, ALICE, channel=DRILL)
    assert "suggested" in slack.command("/rollback", "l2-arb", user=ALICE, channel=DRILL, name="drill-room").json()["text"]
    action_id = wait_for(lambda: _button(world, APPROVE))
    slack.click(APPROVE, action_id, ALICE, channel=DRILL)
    slack.click(APPROVE, action_id, BOB, channel=DRILL)
    wait_for(lambda: any("approved: EXERCISE, nothing executes" in json.dumps(c.args) for c in drill_calls(world)))
    in_drill(slack, "/tabletop", "end")

    [complete] = wait_for(lambda: world.slack.of("files.completeUploadExternal"), timeout=60)
    assert complete.args["thread_ts"] == thread  # the report is posted in the drill's thread
    [report] = [body.decode() for body in world.slack.uploads.values()]
    told = "\n".join(c.args["text"] for c in _in_thread(world, thread))
    assert "Inject: alert SettlementFailureRate fires on l2-arb" in told  # every inject, in the thread
    assert "Inject: Treasury asks whether customer withdrawals on l2-arb should be paused." in told
    assert "After-action report" in told
    assert "## Scripted decisions\n\n- none\n" in report  # no scripted click for a role a person holds
    people = report.split("## People's decisions", 1)[1].split("## Scripted decisions", 1)[0]
    assert f"| <@{ALICE}> (incident_commander) | ack | met: " in people
    assert f"| <@{ALICE}> (incident_commander) | suggest rollback l2-arb | no expectation of it |" in people
    assert f"| <@{ALICE}> (incident_commander) | approve rollback l2-arb | a step toward `approve rollback l2-arb` |" in people
    assert f"| <@{BOB}> (second_approver) | approve rollback l2-arb | met: " in people
    assert f"<@{BOB}> (second_approver), a person |" in report.split("## People's decisions", 1)[0]
    assert f"- T+16:00 incident_commander (<@{ALICE}>): ack" in report  # the script stood aside
    assert "U01ONCALL" not in report.split("## Timeline", 1)[0].replace("U01ONCALL and", "")
    assert not any("acknowledged by <@U01ONCALL>" in json.dumps(c.args) for c in drill_calls(world))
