"""The stores tests run against: an SQLite file and a real PostgreSQL database.

PostgreSQL is the server on this machine (``scripts/services.sh`` starts it; override with
LANEKEEPER_TEST_PG). Each test session creates its own database and drops it afterwards;
each test starts from empty tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, text

from bot.clock import Clock, utcnow
from bot.config import Settings
from bot.runtime import Bot
from bot.store.engine import make_engine, upgrade
from bot.store.tables import metadata

ADMIN_URL = os.environ.get("LANEKEEPER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL is not reachable at {ADMIN_URL} ({exc}). Start it with scripts/services.sh "
            "(make test does), or point LANEKEEPER_TEST_PG at one."
        ) from exc


def postgres_database() -> Generator[str, None, None]:
    """A fresh database for the session; its URL."""
    name = f"lanekeeper_test_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def store(name: str, folder: Path) -> Iterator[str]:
    """A fresh store by name: an SQLite file in ``folder`` or a new PostgreSQL database."""
    if name == "sqlite":
        yield sqlite_url(folder)
        return
    if name != "postgresql":
        raise ValueError(f"unknown store {name!r}: sqlite or postgresql")
    database = postgres_database()
    try:
        yield next(database)
    finally:
        database.close()


def sqlite_url(folder: Path) -> str:
    """A store in ``folder``, made as an operator makes it: the bot never creates directories."""
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'lanekeeper.db'}"


def migrated(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine


def empty(engine: Engine) -> None:
    """Every table emptied, children first."""
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(text(f"DELETE FROM {table.name}"))


def running(database_url: str, clock: Clock = utcnow, **settings: Any) -> Bot:
    """A started bot on ``database_url``; no ``.env`` is read, only what the test sets."""
    bot = Bot(Settings(_env_file=None, database_url=database_url, **settings), clock)  # type: ignore[call-arg]
    bot.start()
    return bot
