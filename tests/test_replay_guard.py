"""The Slack replay guard lives in the store: a request one replica took is refused by
every other replica on the same PostgreSQL (issue 20: it was per process, so a replay sent
to another replica within bolt's five-minute tolerance ran again)."""

from __future__ import annotations

import logging

import pytest
from fakes import signed, slash_command
from sqlalchemy import func, select
from stores import empty, migrated
from test_slack_app import ONCALL, SECRET, slack_world

from bot.chatops import seen
from bot.chatops.seen import KEEP_S, Seen, SeenInStore, replay_guard
from bot.store.engine import make_engine
from bot.store.tables import slack_seen


class Wall:
    """A wall clock the test moves."""

    def __init__(self) -> None:
        self.t = 1_796_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    engine = migrated(postgres_url)
    empty(engine)
    engine.dispose()
    return postgres_url


def test_a_key_one_replica_took_is_refused_by_another_on_both_stores(database_url: str) -> None:
    engine = migrated(database_url)
    try:
        first, second = SeenInStore(engine, 100), SeenInStore(engine, 100)  # two replicas' guards
        assert first.first_time("sig:v0=aa")
        assert not second.first_time("sig:v0=aa")
        assert not first.first_time("sig:v0=aa")  # and the one that took it, from its memory
        assert second.first_time("sig:v0=bb")
        huge = "event:" + "x" * 10_000  # longer than the column: stored as its digest, still one key
        assert first.first_time(huge)
        assert not second.first_time(huge)
    finally:
        engine.dispose()


def test_keys_older_than_the_tolerance_are_pruned(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seen, "PRUNE_EVERY", 2)
    engine = migrated(database_url)
    wall = Wall()
    try:
        guard = SeenInStore(engine, 100, now=wall)
        assert guard.first_time("sig:old")  # the first insert prunes (nothing yet)
        wall.t += KEEP_S + 1
        assert guard.first_time("sig:new")
        assert guard.first_time("sig:newer")  # the third prunes what is older than KEEP_S
        with engine.connect() as conn:
            assert sorted(conn.scalars(select(slack_seen.c.key))) == ["sig:new", "sig:newer"]
            assert conn.scalar(select(func.count()).select_from(slack_seen)) == 2
    finally:
        engine.dispose()


def test_a_store_that_cannot_be_written_leaves_the_replica_its_own_memory(caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    guard = SeenInStore(engine, 100)
    with caplog.at_level(logging.WARNING):
        assert guard.first_time("sig:v0=cc")
    assert not guard.first_time("sig:v0=cc")
    assert "the replay guard cannot use the store" in caplog.text


def test_only_postgresql_shares_the_guard(postgres_url: str, tmp_path: object) -> None:
    pg = make_engine(postgres_url)
    lite = make_engine("sqlite://")
    assert isinstance(replay_guard(pg, 10), SeenInStore)
    assert isinstance(replay_guard(lite, 10), Seen)  # one server per SQLite store: no slash command waits on its lock
    pg.dispose()
    lite.dispose()


def test_a_request_replayed_to_another_replica_is_refused(pg_url: str) -> None:
    for one in slack_world(pg_url):
        for other in slack_world(pg_url):
            body = slash_command("/incident", "list", user=ONCALL, response_url=one.slack.url + "respond/hook")
            headers = signed(body, SECRET)
            assert one.client.post("/slack/events", content=body, headers=headers).status_code == 200
            replay = other.client.post("/slack/events", content=body, headers=headers)
            assert (replay.status_code, replay.json()) == (401, {"error": "replayed request"})
            retried = other.client.post("/slack/events", content=body, headers={**headers, "x-slack-retry-num": "1"})
            assert (retried.status_code, retried.text) == (200, "")  # Slack retrying: acknowledged, not run again
            assert other.slack.of("hook") == []  # the other replica answered nothing
