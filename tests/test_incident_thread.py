"""One Slack thread per incident, and a card that never contradicts the data: signed Slack
requests against a loopback Slack Web API, asserting on the calls made (``thread_ts``, the
targets of ``chat.update``, what the blocks say), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes import SlackCall
from helpers import Stream, wait_for
from test_slack_app import LEAD, ONCALL, STRANGER, Slack, slack_world
from test_summaries import World, alertmanager

from bot.slack.cards import ACK, ESCALATE, RESOLVE


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from slack_world(database_url, with_llm=False)


@pytest.fixture
def slack(world: World) -> Slack:
    return Slack(world)


def text_of(call: SlackCall) -> str:
    return json.dumps(call.args["blocks"], ensure_ascii=False)


def card_ts(world: World) -> str:
    return str(world.slack.history[0]["ts"])


def card(world: World) -> str:
    """The card as it reads now: its last version."""
    ts = card_ts(world)
    versions = [c for c in world.slack.calls if c.method == "chat.update" and c.args.get("ts") == ts]
    return text_of(versions[-1]) if versions else text_of(world.slack.of("chat.postMessage")[0])


def replies(world: World) -> list[SlackCall]:
    return [c for c in world.slack.of("chat.postMessage") if c.args.get("thread_ts")]


def settle(world: World) -> None:
    """A tick (it tells the timeline in the thread) and the outbox emptied."""
    world.bot.tick()
    world.bot.drain()


def test_the_card_is_the_threads_parent_and_everything_else_replies_in_it(world: World, slack: Slack) -> None:
    world.open_incident()
    world.client.post("/webhooks/alertmanager", content=alertmanager(name="CanaryFailing", starts=610))
    slack.command("/rollback", "l2-arb")
    settle(world)
    top = [c for c in world.slack.of("chat.postMessage") if not c.args.get("thread_ts")]
    assert len(top) == 1  # the card alone is in the channel
    assert {c.args["thread_ts"] for c in replies(world)} == {card_ts(world)}
    assert any("Suggested: rollback l2-arb" in text_of(c) for c in replies(world))
    assert any("CanaryFailing fired on l2-arb" in text_of(c) for c in replies(world))
    assert not any(c.args["reply_broadcast"] for c in replies(world))
    assert all(c.args["ts"] == card_ts(world) for c in world.slack.of("chat.update") if "#1 · " in text_of(c))


def test_the_card_says_severity_and_why_figures_with_units_and_the_window(world: World) -> None:
    world.open_incident()
    shown = card(world)
    assert "*#1 · sev1 · SettlementFailures on l2-arb*" in shown
    assert "*sev1*: failure rate 25% ≥ 5% on l2-arb" in shown
    assert "Failure rate 25% · Failed 5 · Pending $0 in 0 settlements · Finality p99 20 s" in shown
    assert "Figures over 13:40–14:09 UTC (30 min)" in shown  # the incident's window, with UTC
    assert "Facts only: no LLM is configured for this bot." in shown
    assert "failure_rate" not in shown
    assert "healthy" not in shown.replace("health thresholds", "")


def test_acknowledge_resolve_and_escalate_buttons_change_the_card_and_tell_the_thread(world: World, slack: Slack) -> None:
    incident_id = world.open_incident()
    assert '"Acknowledge"' in card(world)
    slack.click(ACK, incident_id, LEAD)
    wait_for(lambda: "acknowledged by <@U02LEAD> at 14:1" in card(world))
    assert '"Acknowledge"' not in card(world)
    slack.click(ESCALATE, incident_id, ONCALL)
    wait_for(lambda: "escalated by <@U01ONCALL> to <@U01ONCALL>, <@U02LEAD> at " in card(world))
    slack.click(RESOLVE, incident_id, ONCALL)  # failures in the last 300 s: not yet
    [refused] = wait_for(slack.responses)
    assert refused.args["text"].startswith("#1 cannot be resolved yet: l2-arb had a failed settlement or canary at 14:09:20 UTC")
    assert refused.args["response_type"] == "ephemeral"
    world.clock.advance(400)
    slack.click(RESOLVE, incident_id, ONCALL)
    wait_for(lambda: "Resolved at " in card(world) and "by <@U01ONCALL>" in card(world))
    assert '"Resolve"' not in card(world)  # no buttons on a resolved card
    settle(world)
    told = "\n".join(text_of(c) for c in replies(world))
    assert "acknowledged by <@U02LEAD>" in told
    assert "escalated by <@U01ONCALL> to <@U01ONCALL>, <@U02LEAD>" in told
    [resolution] = [c for c in replies(world) if c.args["reply_broadcast"]]
    assert "*#1 resolved by <@U01ONCALL>*" in text_of(resolution)  # the channel is told of it


def test_a_button_click_by_anyone_counts_but_a_resolved_incident_is_not_escalated(world: World, slack: Slack) -> None:
    incident_id = world.open_incident()
    world.clock.advance(400)
    slack.click(RESOLVE, incident_id, STRANGER)
    wait_for(lambda: "Resolved at " in card(world))
    slack.click(ESCALATE, incident_id, ONCALL)
    [refused] = wait_for(slack.responses)
    assert refused.args["text"] == f"{incident_id.capitalize()} is resolved; there is nothing to escalate."


def test_incident_commands_take_the_cards_number_and_a_note_goes_in_the_thread(world: World, slack: Slack) -> None:
    world.open_incident()
    answer = slack.command("/incident", "note #1 <!channel> the sequencer restarted at 14:02").json()
    assert answer["text"] == "Noted on #1: it is in the incident's thread."
    assert (
        slack.command("/incident", "escalate 1").json()["text"]
        == "#1 escalated to the policy's approvers: its card and thread say so."
    )
    assert slack.command("/incident", "ack #9").json()["text"] == "No incident #9."
    settle(world)
    told = "\n".join(text_of(c) for c in replies(world))
    assert "note by <@U01ONCALL>: “&lt;!channel&gt; the sequencer restarted at 14:02”" in told
    assert "<!channel>" not in told


def test_a_lane_with_no_events_reads_no_data_never_healthy(world: World) -> None:
    world.client.post("/webhooks/alertmanager", content=alert_on("l2-op", "SettlementFailures"))
    world.bot.drain()
    shown = card(world)
    assert "*l2-op* no data: no event seen on this lane" in shown
    assert "healthy" not in shown.replace("health thresholds", "")


def test_a_lane_silent_longer_than_the_policy_allows_reads_no_data_since(world: World) -> None:
    world.open_incident()
    world.clock.advance(900)  # the lane's last event is 15 minutes old; silent after 5
    world.bot.incidents.ack(world.bot.desk.find("#1"), LEAD)
    world.bot.desk.changed(world.bot.desk.find("#1"))
    world.bot.drain()
    shown = card(world)
    assert "*l2-arb* no data since 14:09 UTC (silent 1" in shown  # 15 min and the seconds the test took
    assert "a lane is silent after 5 min)" in shown


def test_a_firing_alert_on_a_lane_within_thresholds_says_which_is_newer(world: World) -> None:
    stream = Stream()
    for lane in ("l1-eth", "l2-zk"):
        for i in range(10):
            sid = f"{lane}-{i}"
            stream.add("settlement.submitted", 500 + i, lane, event_id=f"{sid}s", settlement_id=sid, notional_usd=5.0)
            stream.add("settlement.finalized", 510 + i, lane, event_id=f"{sid}f", settlement_id=sid)
    assert world.client.post("/events", content=stream.ndjson()).status_code == 200
    world.client.post("/webhooks/alertmanager", content=alert_on("l1-eth", "CanaryFailing", starts=400))
    world.client.post("/webhooks/alertmanager", content=alert_on("l2-zk", "LaneStalled", starts=600))
    world.bot.drain()
    cards = "\n".join(text_of(c) for c in world.slack.of("chat.postMessage") if not c.args.get("thread_ts"))
    assert (
        "*l1-eth* within the policy's health thresholds while CanaryFailing fires; its events to 14:08 UTC are newer "
        "than the alert (14:06 UTC) and meet no threshold: check what the alert measures"
    ) in cards
    assert (
        "*l2-zk* within the policy's health thresholds while LaneStalled fires; the alert (14:10 UTC) is newer than "
        "the lane's last event (14:08 UTC): events may be late"
    ) in cards


def test_a_new_severity_is_told_to_the_channel_with_its_reason(world: World) -> None:
    canaries = Stream()
    canaries.add("canary.result", 300, ok=False, event_id="c1")
    canaries.add("canary.result", 310, ok=True, event_id="c2")
    world.client.post("/events", content=canaries.ndjson())
    world.client.post("/webhooks/alertmanager", content=alertmanager(name="CanaryFailing", starts=320))
    world.bot.drain()
    assert "*#1 · sev3 · CanaryFailing on l2-arb*" in card(world)
    failures = Stream()
    for i in range(10):
        failures.add("settlement.submitted", 400 + i, event_id=f"s{i}", settlement_id=f"x{i}", notional_usd=10.0)
        failures.add("settlement.failed", 420 + i, event_id=f"f{i}", settlement_id=f"x{i}", reason="revert")
    world.client.post("/events", content=failures.ndjson())
    world.client.post("/webhooks/alertmanager", content=alertmanager(name="SettlementFailures", starts=440))
    world.clock.advance(301)  # the update is due group_interval after the first notification
    world.bot.tick()
    world.bot.drain()
    settle(world)
    [told] = [c for c in replies(world) if c.args["reply_broadcast"]]
    assert "*#1 now *sev1* (was sev3): failure rate 100% ≥ 5% on l2-arb*" in text_of(told)
    assert told.args["text"] == "#1 is now sev1"


def test_runbooks_of_the_policy_are_linked_on_the_card_and_on_each_suggestion(database_url: str, tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parent.parent / "bot" / "defaults" / "policy.yaml").read_text()
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        text + "runbooks:\n  lanes: {l2-arb: 'https://runbooks.example.com/l2-arb'}\n"
        "  actions: {rollback: 'https://runbooks.example.com/rollback'}\n"
    )
    for world in slack_world(database_url, with_llm=False, policy=policy):
        slack = Slack(world)
        world.open_incident()
        assert "<https://runbooks.example.com/l2-arb|l2-arb runbook>" in card(world)
        slack.command("/rollback", "l2-arb")
        world.bot.drain()
        assert any("Runbook: <https://runbooks.example.com/rollback|rollback l2-arb>" in text_of(c) for c in replies(world))


def alert_on(lane: str, name: str, starts: float = 600) -> bytes:
    doc: dict[str, Any] = json.loads(alertmanager(name=name, starts=starts))
    for alert in doc["alerts"]:
        alert["labels"]["lane"] = lane
        alert["fingerprint"] = f"fp-{name}-{lane}"
    doc["groupLabels"] = {"lane": lane}
    return json.dumps(doc).encode()


def test_replies_told_before_the_card_is_due_wait_for_it_and_never_reach_the_channel(database_url: str) -> None:
    """Found by the alert storm under load: an alert's reply queued while its incident's card
    was not yet due (group_wait) went out as a message of its own in the channel."""
    for world in slack_world(database_url, with_llm=False, group_wait=timedelta(minutes=5)):
        world.open_incident()
        world.client.post("/webhooks/alertmanager", content=alertmanager(name="CanaryFailing", starts=610))
        settle(world)
        assert world.slack.of("chat.postMessage") == []  # the card is not due: nothing, not even its replies
        world.clock.advance(301)
        settle(world)
        settle(world)  # the round after the card's: its replies
        posts = world.slack.of("chat.postMessage")
        assert [c for c in posts if not c.args.get("thread_ts")] == posts[:1]  # the card, first and alone in the channel
        assert any("CanaryFailing fired on l2-arb" in text_of(c) for c in replies(world))
        assert {c.args["thread_ts"] for c in replies(world)} == {card_ts(world)}
