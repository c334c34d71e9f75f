"""``lanekeeper tabletop from-incident``: a resolved incident, replayed through the real
bot, becomes a scenario; the scenario, run as a drill, replays to the same facts, and its
after-action report sets the drill's response beside the real one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from helpers import wait_for
from sqlalchemy import select
from test_postmortem import resolved
from test_slack_app import LEAD, ONCALL, Slack, slack_world
from test_summaries import World

from bot.cli.main import main
from bot.postmortem.record import load_record
from bot.slack.blocks import APPROVE
from bot.slack.cards import SCHEDULE_DRILL
from bot.store.engine import make_engine
from bot.store.tables import incidents
from bot.tabletop.report import render
from bot.tabletop.runner import Drill
from bot.tabletop.scenario import load


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from slack_world(f"sqlite:///{tmp_path}/prod.db")


@pytest.fixture
def slack(world: World) -> Slack:
    return Slack(world)


@pytest.fixture
def store(world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The CLI pointed at the world's store, from a folder of its own."""
    folder = tmp_path / "cli"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setenv("LANEKEEPER_DATABASE_URL", world.bot.settings.database_url)
    return folder


def approved(world: World, slack: Slack) -> str:
    """The AI's rollback approved by both approvers, then the incident resolved."""
    incident_id = world.open_incident()
    action_id = wait_for(lambda: [c for c in world.slack.calls if APPROVE in str(c.args.get("blocks"))])[0]
    value = next(
        e["value"]
        for b in action_id.args["blocks"]
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"] == APPROVE
    )
    slack.click(APPROVE, value, ONCALL)
    slack.click(APPROVE, value, LEAD)
    wait_for(lambda: any("approved" in str(c.args.get("text")).lower() for c in world.slack.of("chat.update")))
    return resolved(world, slack, incident_id)


def test_a_replayed_incident_becomes_a_scenario_that_replays_to_the_same_facts(world: World, slack: Slack, store: Path) -> None:
    incident_id = approved(world, slack)
    assert main(["tabletop", "from-incident", "#1", "--out", "drill.yaml"]) == 0
    scenario = load(str(store / "drill.yaml"))
    assert scenario.events == str(store / "drill.events.ndjson")
    assert [(i.at.total_seconds(), i.alert.name if i.alert else None) for i in scenario.injects] == [
        (1800.0, "SettlementFailures")  # the first alert at T+30:00: T+0 is its window's start
    ]
    expected = {e.label(): e.within.total_seconds() for e in scenario.expect}
    assert set(expected) == {"ack", "decide rollback l2-arb", "decide pause_lane l2-arb", "decide reroute l2-arb", "resolve"}
    assert scenario.baseline is not None
    assert scenario.baseline.actions == ["rollback l2-arb: approved"]

    work = store / "work"
    work.mkdir()
    log = Drill(scenario, work).run()
    original = load_record(world.bot.engine, world.bot.policy, incident_id, world.bot.settings.lookback)
    drill = make_engine(f"sqlite:///{work / 'drill.db'}")
    with drill.connect() as conn:
        [drill_incident] = conn.scalars(select(incidents.c.incident_id)).all()
    replayed = load_record(drill, world.bot.policy, drill_incident, world.bot.settings.lookback)
    drill.dispose()
    shift = scenario.start - original.context.window.start
    assert replayed.context.window.start == original.context.window.start + shift
    assert replayed.context.window.end == original.context.window.end + shift
    for lane in original.context.lanes:
        assert replayed.context.facts.lane(lane).as_dict() == original.context.facts.lane(lane).as_dict()
    assert replayed.context.events_checked == original.context.events_checked
    assert [(a.name, a.lane, a.starts_at - shift) for a in replayed.alerts] == [
        (a.name, a.lane, a.starts_at) for a in original.alerts
    ]
    votes = [[(v.user_id, v.decision) for v in t.state.votes] for t in replayed.actions]
    assert votes == [[(ONCALL, "approve"), (LEAD, "approve")]]  # the real team's steps, replayed by the script
    report = render(log)
    beside = report.split("## This drill beside the real incident", 1)[1].split("\n## ", 1)[0]
    assert f"The scenario replays {incident_id} (sev1)" in beside
    assert "| approve rollback l2-arb | " in beside
    assert "| acknowledge | 0:" in beside
    assert "| resolve | 7:0" in beside
    assert "worse" not in beside  # the real team's steps, replayed at their own times, read the same
    assert "Actions in the real incident: rollback l2-arb: approved. In this drill: approve rollback l2-arb." in beside


def test_an_anonymised_scenario_carries_no_person_id_or_text_of_the_incident(world: World, slack: Slack, store: Path) -> None:
    approved(world, slack)
    assert main(["tabletop", "from-incident", "1", "--anonymise", "--out", "anon.yaml"]) == 0
    text = (store / "anon.yaml").read_text() + (store / "anon.events.ndjson").read_text()
    for real in (ONCALL, LEAD, "inc-2026", "l2-arb failures above 2%", '"s1"', '"evt-0000001"'):
        assert real not in text
    doc = yaml.safe_load((store / "anon.yaml").read_text())
    assert {r["user"] for r in doc["responders"]} == {"U0PLAYER1", "U0PLAYER2"}
    assert load(str(store / "anon.yaml")).baseline is not None


def test_an_open_incident_is_not_made_a_drill_and_nothing_is_written(
    world: World, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.open_incident()
    assert main(["tabletop", "from-incident", "#1"]) == 1
    assert "#1 is not resolved: a drill is made from a finished incident" in capsys.readouterr().err
    assert list(store.iterdir()) == []


def _offer(world: World) -> str:
    """The incident id on the thread's Schedule drill button, once the thread is told."""
    world.bot.tick()
    world.bot.drain()
    card_ts = world.slack.history[0]["ts"]
    for call in world.slack.of("chat.postMessage"):
        if call.args.get("thread_ts") == card_ts and SCHEDULE_DRILL in json.dumps(call.args.get("blocks")):
            return str(call.args["blocks"][-1]["elements"][0]["value"])
    return ""


@pytest.fixture
def drilling(tmp_path: Path) -> Iterator[World]:
    """The world with a drill channel set."""
    yield from slack_world(f"sqlite:///{tmp_path}/prod.db", drill_channel="C0DRILL")


def test_a_resolved_sev1_offers_a_drill_and_the_button_schedules_it_within_48_hours(drilling: World) -> None:
    world, slack = drilling, Slack(drilling)
    incident_id = resolved(world, slack)
    assert _offer(world) == incident_id
    resolved_at = world.bot.desk.show(incident_id).summary.resolved_at
    assert resolved_at is not None
    slack.click(SCHEDULE_DRILL, incident_id, LEAD)
    [reminder] = wait_for(lambda: world.slack.of("chat.scheduleMessage"))
    assert reminder.args["channel"] == "C0DRILL"
    assert 0 < int(reminder.args["post_at"]) - resolved_at.timestamp() <= 48 * 3600
    assert "Reminder: the drill of incident #1 starts now" in reminder.args["text"]
    dated = [c for c in world.slack.of("chat.postMessage") if c.args.get("channel") == "C0DRILL"]
    assert dated[0].args["text"].startswith("Drill of incident #1 scheduled for ")
    told = wait_for(lambda: [c for c in world.slack.of("chat.postMessage") if "scheduled for" in str(c.args.get("text"))][1:])
    assert told[0].args["thread_ts"] == world.slack.history[0]["ts"]
    assert told[0].args["text"].endswith(f"UTC in <#C0DRILL>, by <@{LEAD}>.")


def test_without_a_drill_channel_the_offer_says_what_to_set(world: World, slack: Slack) -> None:
    incident_id = resolved(world, slack)
    slack.click(SCHEDULE_DRILL, _offer(world), ONCALL)
    [refused] = wait_for(slack.responses)
    assert refused.args["text"] == "No drill channel is set: set LANEKEEPER_DRILL_CHANNEL to schedule drills."
    assert incident_id
    assert not world.slack.of("chat.scheduleMessage")


def test_tabletop_start_hash_n_runs_a_drill_of_the_incident_in_slack_beside_the_real_response(world: World, slack: Slack) -> None:
    approved(world, slack)
    drill = "C0DRILL"
    refused = slack.command("/tabletop", "start #9 600", channel=drill, name="drill-room").json()["text"]
    assert refused == "No incident #9."
    started = slack.command("/tabletop", "start #1 600 @incident_commander=<@U0ALICE|alice>", channel=drill, name="drill-room")
    assert started.json()["text"].startswith("EXERCISE: Replay of #1: SettlementFailures on l2-arb starts now, at 600x")
    wait_for(lambda: world.slack.of("files.completeUploadExternal"), timeout=90)
    [report] = [body.decode() for body in world.slack.uploads.values()]
    beside = report.split("## This drill beside the real incident", 1)[1].split("\n## ", 1)[0]
    assert "| acknowledge | 0:2" in beside
    assert "| worse: not done in the drill |" in beside  # Alice held the commander's role and did not acknowledge
    assert "incident_commander (<@U0ALICE>): ack" in report  # the script stood aside for her


def test_from_incident_never_creates_a_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "nothing-here.db"
    monkeypatch.setenv("LANEKEEPER_DATABASE_URL", f"sqlite:///{missing}")
    assert main(["tabletop", "from-incident", "#1"]) == 2
    assert "no store at" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
