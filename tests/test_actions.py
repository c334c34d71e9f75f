"""An action's life through signed Slack requests, on SQLite and PostgreSQL: a new
suggestion is a new action, votes count only from approvers (users or user groups) in the
incident's channel while it is open, the webhook is called once with an idempotency key
and its outcome is said as it is known, and a restart never calls it twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeOpenAI, FakeSlack, running
from helpers import Stream, wait_for
from races import Receiver, _serving
from sqlalchemy import insert, select, update
from stores import running as running_bot
from stores import store
from test_slack_app import LEAD, ONCALL, SECRET, STRANGER, Slack
from test_summaries import World, world_for

from bot.actions import UNKNOWN_OUTCOME
from bot.actions.lifecycle import CUT_SHORT
from bot.slack.blocks import action_purpose
from bot.slack.poster import posted
from bot.store.engine import make_engine, upgrade
from bot.store.tables import actions, incidents, timeline

ROLLBACK_WAITS = "rollback of l2-arb is already open"


def action_world(database_url: str, **settings: Any) -> Iterator[World]:
    """The bot with its Slack app and no LLM: only people suggest actions here."""
    with running(FakeOpenAI()) as llm, running(FakeSlack()) as slack:
        yield from world_for(database_url, llm, slack, with_llm=False, slack_signing_secret=SECRET, **settings)


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from action_world(database_url)


@pytest.fixture
def slack(world: World) -> Slack:
    return Slack(world)


def suggest(slack: Slack, command: str = "/rollback", lane: str = "l2-arb") -> str:
    """Suggest through the command; the new action's id (its message is posted)."""
    text = slack.command(command, lane).json()["text"]
    assert " suggested (act-" in text, text
    slack.world.bot.drain()
    return text.split("(", 1)[1].split(")", 1)[0]


def message_of(world: World, action_id: str) -> list[str]:
    """The action's message as posted, then each edit (blocks as text); an edit is found by
    the ts of the post (a decided message has no button left that names the action)."""
    state = world.bot.actions.state(action_id)
    found = posted(world.bot.engine, state.incident_id, action_purpose(action_id))
    assert found is not None, f"{action_id} was never posted"
    return [
        json.dumps(c.args["blocks"], ensure_ascii=False)
        for c in world.slack.calls
        if (c.method == "chat.postMessage" and action_id in json.dumps(c.args["blocks"]))
        or (c.method == "chat.update" and c.args.get("ts") == found[1])
    ]


def shown(world: World, action_id: str, text: str) -> str:
    """Wait until the action's message says ``text`` (the edit follows the commit); that version."""
    return wait_for(lambda: next((m for m in reversed(message_of(world, action_id)) if text in m), ""), what=text)


def status(world: World, action_id: str) -> str:
    return world.bot.actions.state(action_id).status


def refusals(slack: Slack) -> list[str]:
    return [c.args["text"] for c in slack.responses()]


# --- suggestions ---------------------------------------------------------------------------


def test_a_second_rollback_while_one_is_open_is_refused_and_a_decided_one_is_never_reopened(world: World, slack: Slack) -> None:
    world.open_incident()
    first = suggest(slack)
    again = slack.command("/rollback", "l2-arb").json()["text"]
    assert (
        again == f"A {ROLLBACK_WAITS} in {world.bot.actions.state(first).incident_id} ({first}, suggested): vote on its message."
    )
    slack.click("lk_reject", first, LEAD, reason="fix deploying")
    decided = shown(world, first, "rejected · 0 of 2 approvals")
    second = suggest(slack)  # a new suggestion: a new id and a new message
    assert second != first
    posts = [c for c in world.slack.of("chat.postMessage") if "Suggested:" in json.dumps(c.args["blocks"])]
    assert len(posts) == 2
    assert message_of(world, first)[-1] == decided  # the decided message was not edited back to "0 of 2"
    assert '"lk_approve"' not in decided
    slack.click("lk_approve", first, ONCALL)  # its old buttons, clicked late, count for nothing
    wait_for(lambda: "rollback l2-arb is already rejected" in refusals(slack))
    assert world.bot.actions.state(first).votes[0].user_id == LEAD


def test_reroute_and_pause_need_a_healthy_fallback_when_suggested_and_when_approved(world: World, slack: Slack) -> None:
    world.open_incident()
    refused = slack.command("/reroute", "l2-arb").json()["text"]
    assert refused == "Reroute needs a healthy fallback for l2-arb and l1-eth has no live status (no events seen)."
    assert slack.command("/pause", "l2-arb").json()["text"].startswith("Pause_lane needs a healthy fallback")
    assert "`/pause` needs exactly one lane." in slack.command("/pause").json()["text"]
    assert world.client.post("/events", content=l1_eth(ok=True, start=0)).status_code == 200
    action_id = suggest(slack, "/reroute")
    assert world.bot.actions.state(action_id).kind == "reroute"
    world.clock.advance(60)  # a minute on: the fallback's failures are not in the future
    assert world.client.post("/events", content=l1_eth(ok=False, start=620)).status_code == 200
    slack.click("lk_approve", action_id, ONCALL)
    [reply] = wait_for(lambda: refusals(slack))
    assert reply.startswith("refused: reroute needs a healthy fallback for l2-arb and l1-eth is not healthy (failure_rate")
    assert status(world, action_id) == "suggested"


def l1_eth(*, ok: bool, start: float) -> bytes:
    """20 settlements on the fallback lane, all finalized or all failed (ids of their own)."""
    stream = Stream()
    for i in range(20):
        tag = f"eth-{ok}-{i}"
        stream.add("settlement.submitted", start + i, "l1-eth", event_id=f"{tag}-s", settlement_id=tag, notional_usd=10.0)
        kind = "settlement.finalized" if ok else "settlement.failed"
        stream.add(kind, start + i + 10, "l1-eth", event_id=f"{tag}-e", settlement_id=tag)
    return stream.ndjson()


# --- who, where, when -------------------------------------------------------------------


def test_a_click_from_another_channel_does_not_count(world: World, slack: Slack) -> None:
    world.open_incident()
    action_id = suggest(slack)
    slack.click("lk_approve", action_id, ONCALL, channel="C0ELSEWHERE")
    [reply] = wait_for(lambda: refusals(slack))
    assert reply == "votes on rollback l2-arb count only in <#C0INCIDENT>, where it was suggested"
    assert world.bot.actions.state(action_id).votes == ()


def test_a_vote_after_the_incident_resolved_is_refused_and_the_suggestion_expires(world: World, slack: Slack) -> None:
    incident_id = world.open_incident()
    action_id = suggest(slack)
    world.bot.incidents.set_status(incident_id, "resolved", LEAD)
    slack.click("lk_approve", action_id, ONCALL)
    [reply] = wait_for(lambda: refusals(slack))
    assert reply == f"{incident_id} is resolved; votes on rollback l2-arb no longer count"
    assert status(world, action_id) == "expired"
    assert '"lk_approve"' not in shown(world, action_id, "expired: its incident was resolved")


def test_suggestions_of_a_resolved_incident_expire_at_the_next_tick(world: World, slack: Slack) -> None:
    incident_id = world.open_incident()
    action_id = suggest(slack)
    world.bot.incidents.set_status(incident_id, "resolved", LEAD)
    world.bot.tick()
    assert status(world, action_id) == "expired"
    assert '"lk_approve"' not in shown(world, action_id, "expired: its incident was resolved")


def group_policy(folder: Path) -> Path:
    text = (Path(__file__).resolve().parent.parent / "bot" / "defaults" / "policy.yaml").read_text()
    path = folder / "policy.yaml"
    path.write_text(text.replace("approvers: [U01ONCALL, U02LEAD]", "approvers: [U01ONCALL, S0LEADS]"))
    return path


def test_approvers_named_by_a_user_group_are_its_members(database_url: str, tmp_path: Path) -> None:
    for world in action_world(database_url, policy=group_policy(tmp_path)):
        world.slack.groups["S0LEADS"] = [LEAD, "U03DEPUTY"]
        slack = Slack(world)
        world.open_incident()
        action_id = suggest(slack)
        slack.click("lk_approve", action_id, STRANGER)
        wait_for(lambda: refusals(slack))  # noqa: B023
        slack.click("lk_approve", action_id, LEAD)
        slack.click("lk_approve", action_id, "U03DEPUTY")
        wait_for(lambda: status(world, action_id) == "approved")  # noqa: B023
        assert refusals(slack) == [f"<@{STRANGER}> is not an approver in the policy; ask one of the on-call approvers"]
        assert sorted(world.bot.actions.state(action_id).approved_by) == [LEAD, "U03DEPUTY"]  # two clicks, in any order
        assert len(world.slack.of("usergroups.users.list")) == 1  # listed once, then cached


def test_a_group_slack_cannot_list_refuses_with_the_reason_and_lets_nobody_in(database_url: str, tmp_path: Path) -> None:
    for world in action_world(database_url, policy=group_policy(tmp_path)):
        slack = Slack(world)  # the fake knows no S0LEADS: Slack answers no_such_subteam
        world.open_incident()
        action_id = suggest(slack)
        slack.click("lk_approve", action_id, LEAD)
        [reply] = wait_for(lambda: refusals(slack))  # noqa: B023
        assert reply.startswith(f"could not check whether <@{LEAD}> is in approver group S0LEADS (Slack did not list it)")
        assert world.bot.actions.state(action_id).votes == ()


# --- execution ------------------------------------------------------------------------------


def webhook_world(database_url: str, receiver: Receiver, **settings: Any) -> Iterator[World]:
    options = {"action_webhook": receiver.url, "action_webhook_secret": "hook-secret-for-races", **settings}
    yield from action_world(database_url, **options)


def approve_twice(world: World, slack: Slack) -> str:
    world.open_incident()
    action_id = suggest(slack)
    slack.click("lk_approve", action_id, ONCALL)
    wait_for(lambda: len(world.bot.actions.state(action_id).votes) == 1)
    slack.click("lk_approve", action_id, LEAD)
    return action_id


@pytest.mark.parametrize(
    ("answer", "final", "says"),
    [
        (200, "executed", "executed: the action webhook answered 200"),
        (409, "failed", "failed: the action webhook answered 409; it did not act"),
        (502, "unknown", f"{UNKNOWN_OUTCOME} (the webhook answered 502)"),
    ],
)
def test_the_webhook_is_called_once_with_an_idempotency_key_and_its_answer_is_said_as_known(
    database_url: str, answer: int, final: str, says: str
) -> None:
    receiver = Receiver(status=answer)
    with _serving(receiver):
        for world in webhook_world(database_url, receiver):
            slack = Slack(world)
            action_id = approve_twice(world, slack)
            last = shown(world, action_id, says)
            assert status(world, action_id) == final
            assert receiver.calls == {action_id: 1}
            assert receiver.bad_signatures == 0
            assert "runbook" not in last


def test_a_webhook_slower_than_its_timeout_is_unknown_never_execute_per_runbook(database_url: str) -> None:
    receiver = Receiver(delay=1.0)
    with _serving(receiver):
        for world in webhook_world(database_url, receiver, action_webhook_timeout="200ms"):
            slack = Slack(world)
            action_id = approve_twice(world, slack)
            last = shown(world, action_id, "outcome unknown: check the target before acting (the webhook's answer was lost")
            assert "(the webhook's answer was lost: no answer within 0.2 s)" in last or "ReadTimeout)" in last
            assert status(world, action_id) == "unknown"
            assert "runbook" not in last
            wait_for(lambda: receiver.calls[action_id] == 1)  # noqa: B023 (the receiver did get it: a person must check, not resend)


def test_an_unreachable_webhook_fails_and_says_nothing_was_sent(database_url: str) -> None:
    for world in action_world(database_url, action_webhook="http://127.0.0.1:9/execute", action_webhook_secret="s"):
        slack = Slack(world)
        action_id = approve_twice(world, slack)
        wait_for(lambda: status(world, action_id) == "failed")  # noqa: B023
        outcome = world.bot.actions.state(action_id).outcome
        assert outcome == "failed: the action webhook could not be reached (ConnectError); nothing was sent"


def test_a_call_cut_short_by_a_crash_is_unknown_and_an_approval_cut_short_is_executed_once(database_url: str) -> None:
    """kill -9 mid-call leaves ``executing``; one between the approval's commit and the call
    leaves ``approved`` with no outcome. The next start (or any replica's tick, once a call
    can no longer be in flight) says the first is unknown, never calling again, and makes
    the second's one call."""
    receiver = Receiver()
    with _serving(receiver):
        for world in webhook_world(database_url, receiver):
            slack = Slack(world)
            world.open_incident()
            cut_mid_call = suggest(slack)
            long_ago = world.bot.clock() - timedelta(minutes=5)
            crash(world, cut_mid_call, status="executing", started_at=long_ago)
            restarted = running_bot(database_url, world.clock, **world.bot.settings.model_dump(exclude={"database_url"}))
            try:
                state = restarted.actions.state(cut_mid_call)
                assert (state.status, state.outcome) == ("unknown", CUT_SHORT)
                cut_before_call = suggest(slack)  # the lane has no open rollback any more
                crash(world, cut_before_call, status="approved", decided_at=long_ago)
                restarted.tick()
                assert restarted.actions.state(cut_before_call).status == "executed"
                restarted.tick()  # and never again
            finally:
                restarted.close()
            assert receiver.calls == {cut_before_call: 1}
            with world.bot.engine.connect() as conn:
                kinds = list(conn.scalars(select(timeline.c.kind).where(timeline.c.kind.like("action.%"))))
            assert kinds.count("action.unknown") == 1
            assert kinds.count("action.executed") == 1


def crash(world: World, action_id: str, **values: Any) -> None:
    """Leave the action as a process killed at that point would."""
    with world.bot.engine.begin() as conn:
        conn.execute(update(actions).where(actions.c.action_id == action_id).values(**values))


@pytest.mark.parametrize("store_name", ["sqlite", "postgresql"])
def test_upgrading_a_store_with_duplicate_open_actions_keeps_the_newest_open(tmp_path: Path, store_name: str) -> None:
    """Before 0005 every summary suggested its actions anew: a store may hold several open
    rollbacks of one lane in one incident. The newest stays open; the others expire."""
    with store(store_name, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine, "0004")
        at = datetime(2026, 3, 2, 14, tzinfo=UTC)
        incident = {"group_key": "g", "lanes": ["l2-arb"], "status": "open", "title": "t", "pending_change": False}
        with engine.begin() as conn:
            conn.execute(
                insert(incidents).values(incident_id="inc-1", opened_at=at, updated_at=at, first_alert_at=at, **incident)
            )
            for n, (kind, lane) in enumerate([("rollback", "l2-arb")] * 3 + [("rollback", "l1-eth"), ("reroute", "l2-arb")]):
                row = {"kind": kind, "lane": lane, "reason": "r", "evidence": [], "approvals_needed": 2, "status": "suggested"}
                conn.execute(
                    insert(actions).values(action_id=f"act-{n}", incident_id="inc-1", created_at=at + timedelta(n), **row)
                )
        upgrade(engine)
        with engine.connect() as conn:
            found = {row.action_id: row.status for row in conn.execute(select(actions.c.action_id, actions.c.status))}
        engine.dispose()
    assert found == {"act-0": "expired", "act-1": "expired", "act-2": "suggested", "act-3": "suggested", "act-4": "suggested"}
