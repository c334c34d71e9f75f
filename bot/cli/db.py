"""``lanekeeper db upgrade|check|backup``: the store's schema, its health, and a backup that
cannot lose data.

A copy of an SQLite file taken while the bot runs loses what sits in its write-ahead log;
``backup`` uses SQLite's online backup API instead, which copies a consistent snapshot
however busy the writer is. PostgreSQL has its own tool for that (``pg_dump``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.config import SettingsError, load_settings
from bot.store.engine import (
    StoreError,
    driver_said,
    head_revision,
    known_revision,
    make_engine,
    normalise_url,
    open_existing,
    revision,
    upgrade,
)
from bot.store.tables import metadata


def add_parser(sub: Any) -> None:
    db = sub.add_parser("db", help="the store: migrate, check, back up")
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = actions.add_parser("upgrade", help="apply migrations (serve also does this at start-up)")
    up.add_argument("--revision", default="head")
    up.set_defaults(run=_upgrade)
    check = actions.add_parser("check", help="migrations current, integrity (SQLite), rows per table")
    check.set_defaults(run=_check)
    backup = actions.add_parser("backup", help="a consistent copy of an SQLite store, safe while the bot runs")
    backup.add_argument("file", type=Path, metavar="FILE", help="where to write it (must not exist)")
    backup.set_defaults(run=_backup)


def _fail(args: argparse.Namespace, message: str) -> int:
    print(f"lanekeeper db {args.db_command}: {message}", file=sys.stderr)
    return 2


def _upgrade(args: argparse.Namespace) -> int:
    try:
        engine = make_engine(load_settings().database_url)
        upgrade(engine, args.revision)
    except (SettingsError, StoreError, ValueError) as exc:
        return _fail(args, str(exc))
    print(f"store at {engine.url.render_as_string(hide_password=True)} is at revision {revision(engine)}")
    engine.dispose()
    return 0


def _check(args: argparse.Namespace) -> int:
    """Exit 0 when the store is current and whole; 1 when a check failed (each said); 2 when
    it cannot be read at all. A store behind this version's schema is checked too: that is
    the moment before an upgrade, when an operator most wants to know."""
    try:
        engine = open_existing(load_settings().database_url, any_schema=True)
    except (SettingsError, StoreError, ValueError) as exc:
        return _fail(args, str(exc))
    try:
        print(f"store: {engine.url.render_as_string(hide_password=True)}")
        at, head = revision(engine), head_revision()
        print(f"schema: revision {at} (this version's: {head})" + ("" if at == head else f"; {_schema_advice(at)}"))
        problems = _integrity(engine)
        print(f"integrity: {'; '.join(problems) if problems else 'ok'}")
        try:
            _rows(engine)
        except SQLAlchemyError as exc:  # a damaged file: integrity said so already, or says it here
            print(f"rows: cannot be counted: {driver_said(exc)}")
            problems.append("rows cannot be counted")
    finally:
        engine.dispose()
    return 1 if problems or at != head else 0


def _schema_advice(at: str | None) -> str:
    """What to do about a store at another revision: upgrade is the answer only when this
    version knows the revision (otherwise a newer version migrated it: a rolled-back binary)."""
    if at is not None and not known_revision(at):  # never None here: open_existing refuses a never-migrated store
        return "a newer lanekeeper migrated it: run that version (migrations only move forward)"
    return "behind: take a backup (`lanekeeper db backup FILE`), then run `lanekeeper db upgrade`"


def _rows(engine: Engine) -> None:
    """Rows per table of this version's schema; a table a later migration adds is said missing."""
    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        for table in metadata.sorted_tables:
            count = (
                f"{conn.scalar(select(func.count()).select_from(table)):>12,} rows" if table.name in present else "     missing"
            )
            print(f"  {table.name:<20} {count}")


def _integrity(engine: Engine) -> list[str]:
    """What SQLite finds wrong; a file too damaged to be checked at all is one such finding."""
    if engine.dialect.name != "sqlite":
        return []  # PostgreSQL keeps its own pages whole; pg_amcheck is its tool
    try:
        with engine.connect() as conn:
            found = [str(row[0]) for row in conn.exec_driver_sql("PRAGMA integrity_check")]
            found += [f"orphan row in {row[0]}" for row in conn.exec_driver_sql("PRAGMA foreign_key_check")]
    except SQLAlchemyError as exc:
        return [f"{driver_said(exc)}: restore the last good backup (docs/operations.md, Backup and restore)"]
    return [] if found == ["ok"] else [f for f in found if f != "ok"]


def _backup(args: argparse.Namespace) -> int:
    """A copy written beside the target under a temporary name and renamed into place only
    once it is whole and checked: a failure (a full disk, a damaged store) leaves nothing
    that could later be mistaken for a backup."""
    try:
        url = normalise_url(load_settings().database_url)
        if make_url(url).get_backend_name() != "sqlite":
            return _fail(
                args,
                "the store is PostgreSQL: back it up with its own tool, `pg_dump -Fc DB > FILE.dump` "
                "(restore with `pg_restore`); see docs/operations.md",
            )
        target: Path = args.file
        refused = _refuse_target(target)
        if refused:
            return _fail(args, refused)
        engine = open_existing(url, any_schema=True)  # a backup is what is taken before an upgrade
    except (SettingsError, StoreError, ValueError) as exc:
        return _fail(args, str(exc))
    partial = None
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
        os.close(fd)
        partial = Path(name)
        # mkstemp makes it 0600; a backup holds what the store holds, so the store's readers may read it
        shutil.copymode(Path(str(engine.url.database)).expanduser(), partial)
        damage = _copy(engine, partial)
        if damage:
            return _fail(args, f"the store is damaged ({damage}); no backup was written; run `lanekeeper db check`")
        partial.rename(target)
    except (sqlite3.Error, SQLAlchemyError, OSError) as exc:
        return _fail(
            args,
            f"the backup to {target} failed: {driver_said(exc)}; nothing was left behind; check the space and permissions "
            f"of {target.parent.resolve()}, then try again",
        )
    finally:
        engine.dispose()
        for suffix in ("", "-journal", "-wal", "-shm") if partial else ():
            Path(f"{partial}{suffix}").unlink(missing_ok=True)
    print(
        f"backed up {engine.url.database} to {target} ({target.stat().st_size:,} bytes); restore: stop the bot, "
        f"put it in place of the store's file (and remove its -wal and -shm files), start the bot"
    )
    return 0


def _refuse_target(target: Path) -> str | None:
    """Why ``target`` cannot take a backup, if it cannot: a backup goes to a new file and never
    writes through a link (a dangling one would land the copy wherever it points)."""
    if str(target) == ":memory:":
        return "':memory:' is no file: name the file to write the backup to"
    if target.is_symlink():
        return f"{target} is a symbolic link; name a new file (a backup never writes through a link)"
    if target.exists():
        return f"{target} exists already; name a new file (a backup never overwrites one)"
    if not target.parent.is_dir():
        return f"the directory {target.parent} does not exist"
    return None


def _copy(engine: Engine, partial: Path) -> str | None:
    """SQLite's online backup into ``partial`` (one consistent snapshot, writers go on), then
    ``PRAGMA quick_check`` on the copy: its findings, or None when it is whole."""
    source = engine.raw_connection()
    try:
        raw = source.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        copy = sqlite3.connect(partial)
        try:
            raw.backup(copy)
            found = [str(row[0]) for row in copy.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):
                raise  # the copy could not be written (disk full, I/O): not the store's fault
            found = [driver_said(exc)]
        finally:
            copy.close()
    finally:
        source.close()
    return None if found == ["ok"] else "; ".join(found[:5])
