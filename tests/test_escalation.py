"""Escalation when nobody acknowledges (issue 21): the default policy's sev1 reminds the
on-call approvers in the thread after 300 s, then pages through the escalate action's
webhook (once, with its idempotency key) after 300 s more; each step is on the timeline,
in the thread and on the card; an acknowledgement stops it; a drill's bot pages nobody;
and the state is in the store, so a restarted bot takes it up without repeating a step.
Driven by the event clock and ``tick``, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes import FakeOpenAI, FakeSlack, running
from helpers import wait_for
from races import Receiver, _serving
from sqlalchemy import select
from stores import running as running_bot
from test_incident_thread import card, replies, settle, text_of
from test_slack_app import LEAD, SECRET, Slack
from test_summaries import World, world_for

from bot.actions import EXERCISE
from bot.incidents.escalation import page_id
from bot.store.tables import timeline
from bot.tabletop.runner import run_offline
from bot.tabletop.scenario import bundled

APPROVERS = "<@U01ONCALL>, <@U02LEAD>"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with _serving(Receiver()) as serving:
        yield serving


@pytest.fixture
def world(database_url: str, receiver: Receiver) -> Iterator[World]:
    with running(FakeOpenAI()) as llm, running(FakeSlack()) as slack:
        yield from world_for(
            database_url,
            llm,
            slack,
            with_llm=False,
            slack_signing_secret=SECRET,
            action_webhook=receiver.url,
            action_webhook_secret="hook-secret-for-races",
        )


def steps(world: World, incident_id: str) -> list[str]:
    with world.bot.engine.connect() as conn:
        kinds = conn.scalars(select(timeline.c.kind).where(timeline.c.incident_id == incident_id).order_by(timeline.c.entry_id))
        return [k for k in kinds if k.startswith("escalation.")]


def thread_text(world: World) -> str:
    return "\n".join(text_of(c) for c in replies(world))


def test_nobody_acknowledges_a_sev1_reminds_then_pages_once_each_step_told(world: World, receiver: Receiver) -> None:
    incident_id = world.open_incident()
    assert "*#1 · sev1 · " in card(world)
    world.clock.advance(290)  # not yet 300 s
    settle(world)
    assert steps(world, incident_id) == []
    world.clock.advance(15)
    settle(world)
    assert steps(world, incident_id) == ["escalation.reminded"]
    assert f"not acknowledged for 5 min (sev1): {APPROVERS}, please acknowledge" in thread_text(world)
    assert f"not acknowledged · reminded {APPROVERS} at 14:1" in card(world)
    assert receiver.calls == {}  # a reminder pages nobody
    world.clock.advance(200)  # the page waits another 300 s after the reminder
    settle(world)
    assert steps(world, incident_id) == ["escalation.reminded"]
    world.clock.advance(110)
    settle(world)
    page = page_id(incident_id, 2)
    assert steps(world, incident_id) == ["escalation.reminded", "escalation.paged"]
    assert receiver.calls == {page: 1}
    assert receiver.bad_signatures == 0
    assert world.bot.actions.state(page).status == "executed"
    settle(world)
    told = thread_text(world)
    assert f"not acknowledged: paging the on-call through the escalate action ({page})" in told
    assert "page executed: the action webhook answered 200" in told
    assert "Suggested: escalate" not in told  # a page is nobody's suggestion: no message with buttons of its own
    assert "paged the on-call at 14:" in card(world)
    assert "(executed: the action webhook answered 200)" in card(world)
    world.clock.advance(3600)  # the policy's steps are done: nothing more, ever
    settle(world)
    assert receiver.calls == {page: 1}
    assert steps(world, incident_id) == ["escalation.reminded", "escalation.paged"]


def test_an_acknowledgement_stops_the_escalation(world: World, receiver: Receiver) -> None:
    incident_id = world.open_incident()
    world.clock.advance(305)
    settle(world)
    assert steps(world, incident_id) == ["escalation.reminded"]
    Slack(world).click("lk_ack", incident_id, LEAD)  # answered by a lazy listener, after the click's acknowledgement
    wait_for(lambda: world.bot.desk.show("#1").as_json()["acked_by"] == LEAD, what="the acknowledgement")
    world.clock.advance(3600)
    settle(world)
    assert steps(world, incident_id) == ["escalation.reminded"]
    assert receiver.calls == {}


def test_acknowledged_in_time_nothing_escalates(world: World, receiver: Receiver) -> None:
    incident_id = world.open_incident()
    world.clock.advance(100)
    world.bot.desk.ack("#1", LEAD)
    world.clock.advance(3600)
    settle(world)
    assert steps(world, incident_id) == []
    assert "please acknowledge" not in thread_text(world)


def test_a_drills_bot_runs_the_escalation_but_pages_nobody(world: World, receiver: Receiver) -> None:
    world.bot.actions.executor = EXERCISE  # what bot.tabletop.runner.Drill gives its bot
    incident_id = world.open_incident()
    world.clock.advance(305)
    settle(world)
    world.clock.advance(305)
    settle(world)
    assert steps(world, incident_id) == ["escalation.reminded", "escalation.paged"]
    assert receiver.calls == {}
    page = world.bot.actions.state(page_id(incident_id, 2))
    assert (page.status, page.outcome) == ("approved", "approved: EXERCISE, nothing executes")
    settle(world)
    assert "page approved: EXERCISE, nothing executes" in thread_text(world)


def test_a_restarted_bot_takes_the_escalation_up_where_it_was_and_repeats_no_step(
    world: World, receiver: Receiver, database_url: str
) -> None:
    incident_id = world.open_incident()
    world.clock.advance(305)
    settle(world)
    assert steps(world, incident_id) == ["escalation.reminded"]
    # The first process is gone (it never ticks again); a new one starts on the same store.
    again = running_bot(
        database_url,
        world.clock,
        action_webhook=receiver.url,
        action_webhook_secret="hook-secret-for-races",
        summary_debounce=timedelta(0),
    )
    try:
        again.tick()
        assert steps(world, incident_id) == ["escalation.reminded"]  # no reminder a second time
        world.clock.advance(305)
        again.tick()
        world.bot.tick()  # the old process too, were it still alive: the step is taken once
        assert steps(world, incident_id) == ["escalation.reminded", "escalation.paged"]
        assert receiver.calls == {page_id(incident_id, 2): 1}
    finally:
        again.close()


def test_a_page_whose_call_a_crash_cut_off_before_it_started_is_made_once_by_the_next_sweep(
    world: World, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident_id = world.open_incident()
    world.clock.advance(305)
    settle(world)
    with monkeypatch.context() as crash:  # the step commits, then the process dies before the call
        crash.setattr(world.bot.actions, "execute", lambda action_id: None)
        world.clock.advance(305)
        world.bot.tick()
    page = page_id(incident_id, 2)
    assert world.bot.actions.state(page).status == "approved"
    assert receiver.calls == {}
    world.clock.advance(world.bot.actions.executor.longest_s + 31)  # past the longest a call can take, and the grace
    world.bot.tick()
    world.bot.tick()
    assert receiver.calls == {page: 1}
    assert world.bot.actions.state(page).status == "executed"


def test_a_drill_runs_the_same_escalation_in_its_own_namespace_and_pages_nobody(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver, tmp_path: Path
) -> None:
    """Nobody answers the failure-spike drill (a sev2): its bot reminds and "pages",
    EXERCISE, while production's action webhook (set in the environment, as on a host where
    the bot runs) is never called."""
    policy = tmp_path / "policy.yaml"
    default = (Path(__file__).resolve().parent.parent / "bot" / "defaults" / "policy.yaml").read_text()
    policy.write_text(
        default.replace("sev2: {ack_within_s: 900, then: [remind]}", "sev2: {ack_within_s: 300, then: [remind, page]}")
    )
    monkeypatch.setenv("LANEKEEPER_POLICY", str(policy))
    monkeypatch.setenv("LANEKEEPER_ACTION_WEBHOOK", receiver.url)
    monkeypatch.setenv("LANEKEEPER_ACTION_WEBHOOK_SECRET", "hook-secret-for-races")
    scenario = bundled()["l2-arb-failure-spike"].model_copy(update={"responders": []})
    told = json.dumps(run_offline(scenario).transcript, ensure_ascii=False)
    assert f"14:19 UTC · not acknowledged for 5 min (sev2): {APPROVERS}, please acknowledge" in told
    assert "14:24 UTC · not acknowledged: paging the on-call through the escalate action (page-inc-20260302-0001-2)" in told
    assert "page approved: EXERCISE, nothing executes" in told
    assert receiver.calls == {}
