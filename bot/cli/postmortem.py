"""``lanekeeper postmortem INCIDENT [--out FILE.md]``: a postmortem draft from the store. It
reads the store and never creates or migrates one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.clock import utcnow
from bot.config import SettingsError
from bot.incidents import IncidentError
from bot.incidents.desk import incident_ref
from bot.store.engine import StoreError, unreadable
from bot.summarize.redact import Redactor
from bot.wiring import make_llm, open_for_reading


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("postmortem", help="a postmortem draft of an incident (timeline, impact, validated narrative)")
    parser.add_argument("incident", metavar="INCIDENT", help="the incident's id or number (#7)")
    parser.add_argument("--out", type=Path, metavar="FILE.md", help="write the draft here; default stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """0: drafted; 1: no such incident, or not resolved yet; 2: the settings, the store or the file cannot be used."""
    from bot.postmortem import Drafter  # noqa: PLC0415 (the LLM client loads only for a draft)

    try:
        settings, policy, engine = open_for_reading()
    except (SettingsError, StoreError) as exc:
        return _fail(exc, 2)
    try:
        drafter = Drafter(
            engine,
            policy,
            make_llm(settings),
            settings.llm_reasks,
            settings.lookback,
            utcnow,
            Redactor.from_settings(settings),
        )
        made = drafter.draft(incident_ref(engine, args.incident))
    except IncidentError as exc:
        return _fail(exc, 1)
    except SQLAlchemyError as exc:
        return _fail(unreadable(exc), 2)
    finally:
        engine.dispose()
    if args.out is None:
        print(made.markdown, end="")
        return 0
    try:
        args.out.write_text(made.markdown, encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc.strerror or exc}", 2)
    kind = "facts-only draft" if made.facts_only else "draft with a validated narrative"
    print(f"postmortem of #{made.number}: {kind} written to {args.out}", file=sys.stderr)
    return 0


def _fail(reason: object, code: int) -> int:
    print(f"lanekeeper postmortem: {reason}", file=sys.stderr)
    return code
