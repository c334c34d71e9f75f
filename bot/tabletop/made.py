"""``lanekeeper tabletop from-incident``: the scenario and its events written beside each
other, from the store, read only (``open_existing``: never a new store, never a migration)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import yaml
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.config import SettingsError
from bot.incidents import IncidentError
from bot.incidents.desk import incident_ref
from bot.postmortem.record import load_record
from bot.store.engine import StoreError, unreadable
from bot.store.events import EventStore
from bot.tabletop.from_incident import FromIncidentError, Made, scenario_from
from bot.tabletop.scenario import Scenario
from bot.wiring import open_for_reading
from validators.policy import Policy


def make(
    engine: Engine, policy: Policy, lookback: timedelta, ref: str, events: Path, *, anonymise: bool
) -> tuple[Made, Scenario]:
    """The scenario of incident ``ref`` (its events to be written to ``events``), checked to
    load again; ``IncidentError`` or ``FromIncidentError`` saying why not."""
    incident_id = incident_ref(engine, ref)
    record = load_record(engine, policy, incident_id, lookback)
    stored = EventStore(engine).lines_of(e.event_id for e in record.context.events)
    made = scenario_from(record, policy, stored, events_file=events.name, anonymise=anonymise)
    try:
        scenario = Scenario.model_validate(made.scenario)
    except ValidationError as exc:
        raise FromIncidentError(f"the scenario made from {incident_id} does not validate: {exc}") from None
    return made, scenario


def drill_of_incident(engine: Engine, policy: Policy, lookback: timedelta, ref: str, folder: Path) -> Scenario:
    """``/tabletop start #7``: the scenario of a resolved incident, its events written in the
    drill's own folder (gone with the drill)."""
    events = folder / "incident.events.ndjson"
    made, scenario = make(engine, policy, lookback, ref, events, anonymise=False)
    events.write_text("".join(made.lines), encoding="utf-8")
    return scenario.model_copy(update={"events": str(events)})


def write_from_incident(ref: str, out: Path | None, *, anonymise: bool) -> int:
    try:
        settings, policy, engine = open_for_reading()
    except (SettingsError, StoreError) as exc:
        return _fail(exc, 2)
    path = out or Path(f"from-{'incident' if anonymise else ref.lstrip('#')}.yaml")
    events = path.with_name(path.name.removesuffix(".yaml").removesuffix(".yml") + ".events.ndjson")
    try:
        made, _ = make(engine, policy, settings.lookback, ref, events, anonymise=anonymise)
    except (IncidentError, FromIncidentError) as exc:
        return _fail(exc, 1)
    except SQLAlchemyError as exc:
        return _fail(unreadable(exc), 2)
    finally:
        engine.dispose()
    try:
        events.write_text("".join(made.lines), encoding="utf-8")
        path.write_text(yaml.safe_dump(made.scenario, sort_keys=False, allow_unicode=True), encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror or exc}", 2)
    print(f"scenario {made.scenario['name']} written to {path}, its {len(made.lines):,} events to {events}", file=sys.stderr)
    return 0


def _fail(reason: object, code: int) -> int:
    print(f"lanekeeper tabletop from-incident: {reason}", file=sys.stderr)
    return code
