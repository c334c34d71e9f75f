"""``lanekeeper db upgrade|check|backup``: the store's schema, its health, and a backup that
cannot lose data.

A copy of an SQLite file taken while the bot runs loses what sits in its write-ahead log;
``backup`` uses SQLite's online backup API instead, which copies a consistent snapshot
however busy the writer is. PostgreSQL has its own tool for that (``pg_dump``).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from bot.config import SettingsError, load_settings
from bot.store.engine import StoreError, head_revision, make_engine, open_existing, revision, upgrade
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
    it cannot be read at all."""
    try:
        engine = open_existing(load_settings().database_url)
    except (SettingsError, StoreError, ValueError) as exc:
        return _fail(args, str(exc))
    try:
        problems = _integrity(engine)
        print(f"store: {engine.url.render_as_string(hide_password=True)}")
        print(f"schema: revision {revision(engine)} (this version's: {head_revision()})")
        print(f"integrity: {'; '.join(problems) if problems else 'ok'}")
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                print(f"  {table.name:<20} {conn.scalar(select(func.count()).select_from(table)):>12,} rows")
    finally:
        engine.dispose()
    return 1 if problems else 0


def _integrity(engine: Engine) -> list[str]:
    if engine.dialect.name != "sqlite":
        return []  # PostgreSQL keeps its own pages whole; pg_amcheck is its tool
    with engine.connect() as conn:
        found = [str(row[0]) for row in conn.exec_driver_sql("PRAGMA integrity_check")]
        found += [f"orphan row in {row[0]}" for row in conn.exec_driver_sql("PRAGMA foreign_key_check")]
    return [] if found == ["ok"] else [f for f in found if f != "ok"]


def _backup(args: argparse.Namespace) -> int:
    try:
        engine = open_existing(load_settings().database_url)
    except (SettingsError, StoreError, ValueError) as exc:
        return _fail(args, str(exc))
    try:
        if engine.dialect.name != "sqlite":
            return _fail(
                args,
                "the store is PostgreSQL: back it up with its own tool, `pg_dump -Fc DB > FILE.dump` "
                "(restore with `pg_restore`); see docs/operations.md",
            )
        target: Path = args.file
        if target.exists():
            return _fail(args, f"{target} exists already; name a new file (a backup never overwrites one)")
        if not target.parent.is_dir():
            return _fail(args, f"the directory {target.parent} does not exist")
        source = engine.raw_connection()
        try:
            raw = source.driver_connection
            assert isinstance(raw, sqlite3.Connection)
            with sqlite3.connect(target) as copy:
                raw.backup(copy)  # SQLite's online backup: one consistent snapshot, writers go on
            copy.close()
        finally:
            source.close()
    finally:
        engine.dispose()
    print(
        f"backed up {engine.url.database} to {target} ({target.stat().st_size:,} bytes); restore: stop the bot, "
        f"put it in place of the store's file (and remove its -wal and -shm files), start the bot"
    )
    return 0
