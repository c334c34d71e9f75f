"""Connecting to the store and bringing its schema up to date.

SQLite is the zero-setup default: WAL so readers (``lanekeeper lanes``) never block the
server's writer, ``synchronous=FULL`` because an event is acknowledged only after its
commit and a commit must survive a power cut, and a busy timeout so two processes wait for
each other instead of failing. PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from bot.store.diagnose import explain

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 0x4C4B5052  # "LKPR": replicas starting together migrate one at a time


class StoreError(RuntimeError):
    """The store cannot be reached or used; the message says which and why."""


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 here (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def open_existing(url: str, *, any_schema: bool = False) -> Engine:
    """An engine on a store that must already exist and be migrated: a read command never
    creates one (an SQLite file would otherwise appear, empty, wherever it was run, and say
    all is quiet) nor changes one. ``any_schema``: a store at another revision is opened too
    (``db check`` says which; ``db backup`` is what is taken before an upgrade), but never
    one no migration has touched."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        _sqlite_store_file(make_url(url).database)
    engine = make_engine(url)
    shown = engine.url.render_as_string(hide_password=True)
    try:
        at = revision(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(explain(str(getattr(exc, "orig", None) or exc), url)) from None
    problem = None
    if at is None:
        problem = f"the database at {shown} holds no Lanekeeper store (no schema); set LANEKEEPER_DATABASE_URL to the bot's store"
    elif not known_revision(at) and not any_schema:
        problem = newer_than_this(shown, at)
    elif at != head_revision() and not any_schema:
        problem = (
            f"the store at {shown} is at revision {at}, behind this version's {head_revision()}; run `lanekeeper db upgrade` "
            "(or start `lanekeeper serve`, which migrates)"
        )
    if problem is not None:
        engine.dispose()
        raise StoreError(problem)
    return engine


def _sqlite_store_file(database: str | None) -> None:
    """A read command opens only a file that can be a store: opening any other would write
    SQLite's header (an empty file) or a journal into it."""
    if not database or database == ":memory:":
        raise StoreError(
            "LANEKEEPER_DATABASE_URL names an in-memory SQLite store, which holds nothing here; set it to the bot's store "
            "file (sqlite:///PATH)"
        )
    path = Path(database).expanduser().resolve()
    if not path.is_file():
        raise StoreError(
            f"no store at {path}: nothing was created; run this where the bot's store is, or set LANEKEEPER_DATABASE_URL to it"
        )
    if path.stat().st_size == 0:
        raise StoreError(f"{path} is an empty file, not a Lanekeeper store; set LANEKEEPER_DATABASE_URL to the bot's store")


@functools.cache
def _scripts() -> ScriptDirectory:
    """This version's migrations, read once: opening a store asks about them several times."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415 (alembic loads only where used)

    return ScriptDirectory(str(MIGRATIONS))


def known_revision(at: str) -> bool:
    """Whether this version's migrations name ``at`` (a newer version's store: not)."""
    from alembic.util.exc import CommandError  # noqa: PLC0415

    try:
        return _scripts().get_revision(at) is not None
    except CommandError:
        return False


def newer_than_this(shown: str, at: str) -> str:
    return (
        f"the store at {shown} is at revision {at}, which this version ({head_revision()}) does not know: a newer "
        "lanekeeper migrated it; run that version (a store is never migrated backwards)"
    )


def revision(engine: Engine) -> str | None:
    """The store's migration revision (None: never migrated)."""
    from alembic.migration import MigrationContext  # noqa: PLC0415 (alembic loads only where used)

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return _scripts().get_current_head()


def driver_said(exc: BaseException) -> str:
    """What the driver (or alembic) said, on one line: an operator reads one line, not a
    multi-line message with the SQL under it."""
    return " ".join(str(getattr(exc, "orig", None) or exc).split())


def unreadable(exc: SQLAlchemyError) -> str:
    """What a read command says when the store is there but cannot be read as this version
    reads it (most often: not migrated yet), in one line whatever the driver wrote."""
    return f"cannot read the store (run lanekeeper db upgrade?): {driver_said(exc)}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # pysqlite's own transaction handling defers BEGIN past SELECTs; the documented fix is
    # to emit it here so every SQLAlchemy transaction is a real SQLite transaction.
    # IMMEDIATE: a transaction that reads before it writes (every insert here does) would
    # otherwise fail at once with "database is locked" when another writer committed in
    # between; taking the write lock at BEGIN makes it wait (busy_timeout) instead. WAL
    # readers in other processes are not blocked by it.
    # A connection opened with isolation_level=AUTOCOMMIT (``reading``) takes no lock at all:
    # a probe must not queue behind the writers it is meant to watch over.
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def insert_new(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """Insert the row unless a unique key of ``table`` has it already; whether it was
    inserted. One statement (ON CONFLICT DO NOTHING), so that two at once cannot both win;
    the row returned is the answer, psycopg's rowcount being -1 here."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(*table.primary_key.columns)
    return conn.execute(statement).first() is not None


def reading(engine: Engine) -> Connection:
    """A connection for one read that must never wait for a writer (health checks): each
    statement stands alone, and on SQLite none takes the write lock."""
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> list[tuple[Any, ...]]:
    """Straight on the driver's connection, outside any transaction (inside one SQLite
    ignores the pragma); the rows without their parent now, so that the caller can tell
    those a migration left from those that were there before it (``db check`` lists them)."""
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    return [tuple(row) for row in raw.execute("PRAGMA foreign_key_check").fetchall()]


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config  # noqa: PLC0415 (alembic loads only to migrate)

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, target: str = "head") -> None:
    """Apply the migrations up to ``revision``; safe to call at every start-up."""
    from alembic import command  # noqa: PLC0415 (alembic loads only to migrate)
    from alembic.util.exc import CommandError  # noqa: PLC0415

    config = alembic_config(engine)
    shown = engine.url.render_as_string(hide_password=True)
    if target != "head" and not known_revision(target):
        raise StoreError(f"no migration {target} in this version (its newest is {head_revision()})")
    try:
        at = revision(engine)
        if at is not None and not known_revision(at):
            raise StoreError(newer_than_this(shown, at))
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
                connection.commit()
            else:  # a table rebuilt by batch mode would trip its children's foreign keys (SQLite's ALTER recipe)
                before = _sqlite_foreign_keys(connection, on=False)
            try:
                config.attributes["connection"] = connection
                command.upgrade(config, target)
            finally:
                if engine.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_MIGRATION_LOCK})
                    connection.commit()
                else:
                    left = [row for row in _sqlite_foreign_keys(connection, on=True) if row not in before]
                    if left:
                        raise StoreError(f"a migration left rows without their parent: {left[:5]}")
                    if before:
                        log.warning("the store holds %d rows without their parent (see lanekeeper db check)", len(before))
    except OperationalError as exc:  # the store cannot be reached or opened: said as the operator can act on it
        raise StoreError(explain(str(exc.orig or exc), engine.url.render_as_string(hide_password=False))) from exc
    except (SQLAlchemyError, CommandError) as exc:
        raise StoreError(f"cannot migrate the store at {shown}: {driver_said(exc)}") from exc
    log.debug("store schema at %s", target)  # the start-up line names the store; this is detail
