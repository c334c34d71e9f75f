"""Attacks on the action-approval path (issue 14), each pinned by a test that fails while
the defect is there: a doubled or unwanted webhook call, or a message that misleads the
person reading it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from datetime import UTC, datetime, timedelta

import pytest
from races import FINISHED, HOOK_SECRET, Receiver, _serving, race_world
from sqlalchemy import insert
from stores import running as running_bot
from stores import store
from test_actions import crash, suggest, webhook_world
from test_slack_app import LEAD, Slack
from test_summaries import incident_events

from bot.store.engine import make_engine, upgrade
from bot.store.events import EventStore
from bot.store.tables import actions, incidents
from validators.ndjson import parse_events

from bot.replay.run import replay

from bot.slack.blocks import action_purpose
from bot.slack.poster import posted


def final_message(world, action_id: str) -> str:  # type: ignore[no-untyped-def]
    """The last version of the action's message Slack was sent (post, then edits by ts)."""
    state = world.bot.actions.state(action_id)
    found = posted(world.bot.engine, state.incident_id, action_purpose(action_id))
    assert found is not None, f"{action_id} was never posted"
    versions = [
        json.dumps(c.args["blocks"], ensure_ascii=False)
        for c in world.slack.calls
        if (c.method == "chat.postMessage" and (c.args.get("metadata") or {}).get("event_payload", {}).get("purpose") == action_purpose(action_id))
        or (c.method == "chat.update" and c.args.get("ts") == found[1])
    ]
    return versions[-1]


# --- messages -------------------------------------------------------------------------------


def test_after_simultaneous_approvals_the_message_ends_showing_the_final_status_without_buttons(
    database_url: str, tmp_path: Path
) -> None:
    stale: list[tuple[str, str]] = []
    with race_world(database_url, tmp_path) as world:
        for _ in range(8):
            world.round("ten-approvers")
        world.settle()
        world.bot.drain()
        for action_id in {a for a in world.receiver.calls}:
            status = world.bot.actions.state(action_id).status
            assert status in FINISHED
            last = final_message(world, action_id)
            if '"lk_approve"' in last or f"{status} ·" not in last:
                shows = re.search(r'"text": "(\w+) · \d+ of', last)
                stale.append((status, shows.group(1) if shows else "?", '"lk_approve"' in last))
    assert stale == []


# --- drills and replays ---------------------------------------------------------------------


def test_lanekeeper_replay_never_calls_the_action_webhook_set_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``lanekeeper replay`` on a host where the production bot runs: the bundled scenario's
    responders approve a rollback of l2-arb. A replay is not production; nothing may execute."""
    receiver = Receiver()
    with _serving(receiver):
        monkeypatch.setenv("LANEKEEPER_ACTION_WEBHOOK", receiver.url)
        monkeypatch.setenv("LANEKEEPER_ACTION_WEBHOOK_SECRET", HOOK_SECRET)
        result = replay("l2-arb-failure-spike")
    assert '"rollback l2-arb' in json.dumps(result.calls) or "rollback l2-arb" in json.dumps(result.calls)
    assert receiver.calls == {}, f"the replay called the production action webhook: {dict(receiver.calls)}"


# --- crash, restart, upgrade ------------------------------------------------------------------


@pytest.mark.parametrize("store_name", ["sqlite", "postgresql"])
def test_upgrading_to_0005_never_calls_the_webhook_for_an_action_approved_before_it(tmp_path: Path, store_name: str) -> None:
    """Before 0005 an approval called the webhook (or handed it to the runbook) and left the
    action ``approved``; 0005 adds ``outcome`` empty. The first start after the upgrade must
    not take those for approvals whose approver died before the call."""
    receiver = Receiver()
    with _serving(receiver), store(store_name, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine, "0004")
        events, _ = parse_events([incident_events()])
        EventStore(engine).insert(events)
        now = datetime.now(UTC)
        incident = {"group_key": "g", "lanes": ["l2-arb"], "status": "open", "title": "t", "pending_change": False}
        row = {"kind": "rollback", "lane": "l2-arb", "reason": "r", "evidence": [], "approvals_needed": 2}
        with engine.begin() as conn:
            conn.execute(insert(incidents).values(incident_id="inc-1", opened_at=now, updated_at=now, first_alert_at=now, **incident))
            conn.execute(  # approved 20 minutes ago by the old code, which called the webhook then
                insert(actions).values(
                    action_id="act-old", incident_id="inc-1", status="approved", created_at=now - timedelta(minutes=25),
                    decided_at=now - timedelta(minutes=20), **row
                )
            )
        engine.dispose()
        bot = running_bot(url, action_webhook=receiver.url, action_webhook_secret=HOOK_SECRET)
        try:
            bot.tick()
            state = bot.actions.state("act-old")
        finally:
            bot.close()
    assert receiver.calls == {}, f"the upgrade executed an action approved before it: {dict(receiver.calls)}"
    assert state.status != "executed"


def test_an_approval_cut_short_is_not_executed_once_its_incident_was_resolved(database_url: str) -> None:
    """The bot died between the approval's commit and the call; people, told nothing, acted
    by hand and resolved the incident. The next start must not execute it now."""
    receiver = Receiver()
    with _serving(receiver):
        for world in webhook_world(database_url, receiver):
            slack = Slack(world)
            incident_id = world.open_incident()
            action_id = suggest(slack)
            crash(world, action_id, status="approved", decided_at=world.bot.clock() - timedelta(minutes=5))
            world.bot.incidents.set_status(incident_id, "resolved", LEAD)
            world.bot.tick()
            state = world.bot.actions.state(action_id)
    assert receiver.calls == {}, "an action of a resolved incident was executed"
    assert state.status == "expired"
