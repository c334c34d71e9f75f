"""Flap damping per lane (issue 21): an incident that resolves and fires again within the
policy's ``flap_window_s`` is reopened (one thread, one card) with its flaps on the card;
after ``flap_threshold`` flaps the card says the lane is flapping and the channel is not
told of each resolution until the lane was quiet for ``resolved_quiet_s``; past the window a
firing opens a new incident. Every alert and resolution stays on the timeline. Signed
webhooks and the event clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers import T0
from sqlalchemy import select
from test_incident_thread import card, replies, settle, text_of
from test_slack_app import slack_world
from test_summaries import World, alertmanager

from bot.incidents.card import load
from bot.incidents.card import store as store_card
from bot.incidents.flaps import Damping
from bot.slack.cards import queue_card
from bot.store.tables import timeline


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from slack_world(database_url, with_llm=False)


def alert(status: str, starts: float) -> bytes:
    """SettlementFailures on l2-arb, as Alertmanager sends it firing or resolved."""
    payload = json.loads(alertmanager(starts=starts))
    payload["status"] = payload["alerts"][0]["status"] = status
    if status == "resolved":
        payload["alerts"][0]["endsAt"] = (T0 + timedelta(seconds=starts + 30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(payload).encode()


def send(world: World, status: str, starts: float) -> list[str]:
    answer = world.client.post("/webhooks/alertmanager", content=alert(status, starts))
    assert answer.status_code == 200
    settle(world)
    return list(answer.json()["incidents"])


def flap(world: World, fired: float, again: float, *, after: float = 60) -> list[str]:
    """The lane's alert that fired at ``fired`` resolves; ``after`` seconds later it fires
    again (startsAt ``again``)."""
    send(world, "resolved", fired)
    world.clock.advance(after)
    return send(world, "firing", again)


def cards(world: World) -> list[str]:
    return [text_of(c) for c in world.slack.of("chat.postMessage") if not c.args.get("thread_ts")]


def broadcast(world: World) -> list[str]:
    return [str(c.args["text"]) for c in replies(world) if c.args["reply_broadcast"]]


def test_firing_again_within_the_window_reopens_the_same_incident_with_its_flap_on_the_card(world: World) -> None:
    incident_id = world.open_incident()  # SettlementFailures, startsAt 600
    assert flap(world, 600, 700) == [incident_id]
    assert len(cards(world)) == 1  # one card, one thread
    shown = card(world)
    assert "Reopened 1 time after resolving (flaps: 14:1" in shown
    assert "Flapping" not in shown
    assert world.bot.desk.show("#1").as_json()["status"] == "open"
    told = "\n".join(text_of(c) for c in replies(world))
    assert "open again: SettlementFailures fired again 60 s after it resolved (flap 1)" in told
    assert broadcast(world) == ["#1 resolved"]  # not flapping yet: the channel heard of the resolution


def test_firing_again_past_the_window_opens_a_new_incident(world: World) -> None:
    first = world.open_incident()
    send(world, "resolved", 600)
    world.clock.advance(901)  # flap_window_s is 900
    [second] = send(world, "firing", 1600)
    assert second != first
    assert len(cards(world)) == 2
    assert "Reopened" not in card(world)


def test_after_three_flaps_the_lane_is_flapping_the_channel_hears_no_more_until_quiet(world: World) -> None:
    incident_id = world.open_incident()
    for n, (fired, again) in enumerate([(600, 700), (700, 800), (800, 900)], start=1):
        assert flap(world, fired, again) == [incident_id]
        assert len(broadcast(world)) == n  # each resolution so far told to the channel
    shown = card(world)
    assert "*Flapping* · Reopened 3 times after resolving" in shown
    assert "the channel is not told of each change until the lane is quiet for 5 min" in shown
    send(world, "resolved", 900)
    assert len(broadcast(world)) == 3  # flapping: this resolution is in the thread only
    assert sum("resolved: no alert fires any more" in text_of(c) for c in replies(world) if not c.args["reply_broadcast"]) == 1
    world.clock.advance(400)  # quiet for longer than resolved_quiet_s (300 s), still inside the flap window
    [again] = send(world, "firing", 1400)
    assert again == incident_id
    assert "Flapping" not in card(world)
    assert "Reopened 4 times after resolving" in card(world)
    send(world, "resolved", 1400)
    assert len(broadcast(world)) == 4  # the channel hears of it again
    assert len(cards(world)) == 1
    with world.bot.engine.connect() as conn:
        kinds = list(conn.scalars(select(timeline.c.kind).where(timeline.c.incident_id == incident_id)))
    assert kinds.count("alert.firing") == 5  # nothing is lost: every alert and resolution
    assert kinds.count("alert.resolved") == 5
    assert kinds.count("incident.resolved") == 5


def test_a_flapping_card_is_drawn_again_once_the_lane_is_quiet_without_waiting_for_a_change(database_url: str) -> None:
    for world in slack_world(database_url, with_llm=False, group_interval=timedelta(hours=1)):  # no notification meanwhile
        world.bot.desk.ack(world.open_incident(), "U02LEAD")  # no escalation step draws the card either
        for fired, again in [(600, 700), (700, 800), (800, 900)]:
            flap(world, fired, again)
        assert "*Flapping*" in card(world)  # still firing: nothing else would draw the card for an hour
        world.clock.advance(310)
        settle(world)
        assert "Flapping" not in card(world)
        assert "Reopened 3 times after resolving" in card(world)


def test_damping_off_every_firing_after_a_resolution_is_a_new_incident(database_url: str, tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parent.parent / "bot" / "defaults" / "policy.yaml").read_text()
    policy = tmp_path / "policy.yaml"
    policy.write_text(text.replace("flap_window_s: 900", "flap_window_s: 0"))
    for world in slack_world(database_url, with_llm=False, policy=policy):
        first = world.open_incident()
        assert flap(world, 600, 700) != [first]
        assert len(cards(world)) == 2


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_streak_of_flaps_ends_with_a_quiet_time() -> None:
    damping = Damping(timedelta(minutes=15), 3, timedelta(minutes=5))
    flaps = [_at(0), _at(1), _at(2)]
    assert damping.flapping(flaps, _at(2.5))
    assert not damping.flapping(flaps, _at(7))  # quiet for 5 min
    assert not damping.flapping(flaps[:2], _at(2.5))  # two flaps: not yet
    assert not damping.flapping([*flaps, _at(10)], _at(10.5))  # a flap after the quiet starts a new streak
    assert damping.flapping([_at(0), _at(4), _at(8)], _at(8))  # gaps under the quiet time keep the streak
    assert damping.reopens(_at(0), _at(15))
    assert not damping.reopens(_at(0), _at(15.1))
    assert not Damping().reopens(_at(0), _at(0))  # window 0: damping off


def test_a_card_drawn_while_the_summary_draws_it_waits_its_turn_and_never_deadlocks(world: World) -> None:
    """Found with flap damping (a redraw at the tick while a summary drew the same card): on
    PostgreSQL the redraw's new outbox row waited for the incident row the summary held, while
    the summary waited for that outbox row."""
    incident_id = world.open_incident()  # its card is sent: the outbox is empty
    engine = world.bot.engine
    holding, problems = threading.Event(), []

    def summary() -> None:  # what the summary process does when its card is ready
        try:
            with engine.begin() as conn:
                data = load(conn, incident_id)
                assert data is not None
                store_card(conn, incident_id, data, world.clock())  # locks the incident's row
                holding.set()
                time.sleep(0.3)
                queue_card(conn, incident_id, world.bot.policy, world.clock())
        except Exception as exc:
            problems.append(exc)

    drawing = threading.Thread(target=summary)
    drawing.start()
    holding.wait()
    try:
        world.bot.reporter.redraw(incident_id)
    finally:
        drawing.join()
    assert problems == []
