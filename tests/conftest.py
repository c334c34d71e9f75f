"""Shared fixtures: the contract example's policy, checker and events."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import EXAMPLE, Stream, load_example
from sqlalchemy import Engine
from stores import empty, migrated, postgres_database, running, sqlite_url

from bot import logs
from bot.http.app import create_app
from bot.runtime import Bot
from prompts import proposal_schema
from validators import Checker, Policy, parse_policy
from validators.events import Event
from validators.ndjson import parse_events


@pytest.fixture(autouse=True)
def _serve_logging_undone() -> Iterator[None]:
    """``lanekeeper serve`` run in process (the CLI tests) points the root logger at that
    test's captured stderr; a later test's threads must not log into it once it is closed."""
    yield
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if h.get_name() != logs.HANDLER]


@pytest.fixture
def stream() -> Stream:
    return Stream()


@pytest.fixture(scope="session")
def policy() -> Policy:
    return parse_policy((EXAMPLE / "policy.yaml").read_text())


@pytest.fixture(scope="session")
def checker(policy: Policy) -> Checker:
    return Checker(policy, proposal_schema())


@pytest.fixture(scope="session")
def example_events() -> list[Event]:
    events, _ = parse_events([(EXAMPLE / "events.ndjson").read_bytes()])
    return events


@pytest.fixture
def valid_doc() -> dict[str, Any]:
    return load_example("summary-valid.json")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    yield from postgres_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and on the real PostgreSQL."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    engine = migrated(url)
    empty(engine)
    engine.dispose()
    return url


@pytest.fixture
def store_engine(database_url: str) -> Iterator[Engine]:
    engine = migrated(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def bot(database_url: str) -> Iterator[Bot]:
    """The bot as ``lanekeeper serve`` runs it, on each store."""
    started = running(database_url)
    yield started
    started.close()


@pytest.fixture
def client(bot: Bot) -> Iterator[TestClient]:
    """Its HTTP app, without the background loop: tests call ``bot.tick()`` themselves."""
    with TestClient(create_app(bot, background=False)) as test_client:
        yield test_client
