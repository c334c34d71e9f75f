"""``lanekeeper settlement ID [--json] [--export FILE.ndjson]``: one settlement's trace
from the store, for a dispute. It reads the store and never creates one."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.config import SettingsError, load_settings
from bot.settlements import SettlementError, StoredTrace, export, flag_lines, load, summary, table
from bot.store.engine import StoreError, open_existing, unreadable
from bot.store.events import EventStore


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("settlement", help="one settlement's events in order, with what is missing or inconsistent")
    parser.add_argument("settlement_id", metavar="ID", help="a settlement_id, as the events carry it")
    parser.add_argument("--json", action="store_true", help="one JSON document")
    parser.add_argument(
        "--export", type=Path, metavar="FILE.ndjson", help="write the stored lines, and FILE.ndjson.sha256 beside them"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """0: shown; 1: no such settlement; 2: the store or the export file cannot be used."""
    try:
        engine = open_existing(load_settings().database_url)
    except (SettingsError, StoreError) as exc:
        return _fail(exc, 2)
    try:
        stored = load(EventStore(engine), args.settlement_id)
    except SettlementError as exc:
        return _fail(exc, 1)
    except SQLAlchemyError as exc:
        return _fail(unreadable(exc), 2)
    finally:
        engine.dispose()
    digest = None
    if args.export is not None:
        try:
            digest = export(stored, args.export)
        except OSError as exc:
            return _fail(f"cannot write {args.export}: {exc.strerror or exc}", 2)
    _show(stored, args, digest)
    return 0


def _show(stored: StoredTrace, args: argparse.Namespace, digest: str | None) -> None:
    if args.json:
        doc = stored.trace.as_json()
        if digest is not None:
            doc["export"] = {"path": str(args.export), "sha256": digest, "lines": len(stored.lines)}
        print(json.dumps(doc, indent=2))
        return
    print(summary(stored.trace))
    print("\n".join(table(stored.trace)))
    print("\n".join(flag_lines(stored.trace)))
    if digest is not None:
        print(f"exported {len(stored.lines)} stored lines to {args.export}")
        print(f"sha256 {digest}  (check: sha256sum -c {args.export}.sha256)")


def _fail(reason: object, code: int) -> int:
    print(f"lanekeeper settlement: {reason}", file=sys.stderr)
    return code
