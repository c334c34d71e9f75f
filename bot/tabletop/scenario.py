"""The tabletop scenario format (YAML), documented in docs/tabletop.md.

A scenario names its lanes and the anomalies the simulator injects, a timeline of injects
(alerts, messages to the room, planted wrong AI proposals), what the team is expected to
decide and by when, the roles, and optional scripted responders for offline runs. Times
are offsets from the scenario's start (``90s``, ``10m``, ``1h``). A bad file is refused with
every problem's place and reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from bot.config import parse_duration
from bot.tabletop.simulator import AnomalyKind

Offset = Annotated[timedelta, BeforeValidator(parse_duration)]
Decision = Literal["ack", "approve", "reject", "decide", "resolve", "escalate"]
"""``decide`` is met by an approval or a rejection of the action: a considered call either way."""


class ScenarioError(ValueError):
    """A scenario that cannot be run; the message names each problem's place."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Lane(_Strict):
    chain: str
    settlements_per_s: float = Field(2.0, gt=0, le=200)
    finality_s: float = Field(30.0, gt=0)
    fallback: str | None = None


class AnomalySpec(_Strict):
    kind: AnomalyKind
    lane: str
    at: Offset
    for_: Offset = Field(timedelta(0), alias="for")
    rate: float = Field(0.2, ge=0, le=1)
    factor: float = Field(10.0, gt=0)
    size: int = Field(3, ge=1)
    bps: float = Field(120.0, ge=0)


class AlertInject(_Strict):
    name: str
    lane: str
    severity: str = "warning"
    summary: str = ""


class ClaimFault(_Strict):
    fact: str
    value: float
    text: str


class AiFault(_Strict):
    """A planted wrong AI proposal: the validators must stop it."""

    headline: str
    claim: ClaimFault | None = None
    action: str | None = None
    action_lane: str | None = None
    """The lane the planted action targets (default: ``lane``)."""
    lane: str
    why: str = Field(description="what is wrong with it, for the report")


class Inject(_Strict):
    at: Offset
    alert: AlertInject | None = None
    message: str | None = None
    ai_fault: AiFault | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Inject:
        given = [k for k in ("alert", "message", "ai_fault") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"an inject is exactly one of alert, message, ai_fault (got {', '.join(given) or 'none'})")
        return self


class Expectation(_Strict):
    decision: Decision
    action: str | None = None
    action_lane: str | None = None
    """The lane the planted action targets (default: ``lane``)."""
    lane: str | None = None
    within: Offset
    """After the first alert."""

    def label(self) -> str:
        return " ".join(p for p in (self.decision, self.action, self.lane) if p)


class Baseline(_Strict):
    """The real incident a scenario was made from, and how its team responded, for the
    after-action report to compare with (times from the first alert)."""

    incident: str
    severity: str | None = None
    acknowledged: Offset | None = None
    resolved: Offset | None = None
    decisions: dict[str, Offset] = {}
    """``approve rollback l2-arb`` (or reject) -> when the real action was decided."""
    actions: list[str] = []
    """What was done: ``rollback l2-arb: executed``."""


class ResponderStep(_Strict):
    at: Offset
    user: str
    do: str
    """``ack``, ``resolve``, ``escalate``, ``suggest KIND LANE``, ``approve KIND LANE`` or ``reject KIND LANE``."""
    role: str | None = None
    """The role this step plays: when a person holds it, the step is theirs and never scripted."""


class Scenario(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    description: str = Field(max_length=200)
    start: datetime = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    duration: Offset
    seed: int = 7
    lanes: dict[str, Lane] = Field(min_length=1)
    reference_lane: str | None = None
    anomalies: list[AnomalySpec] = []
    injects: list[Inject] = []
    expect: list[Expectation] = []
    roles: dict[str, str] = {}
    responders: list[ResponderStep] = []
    events: str | None = None
    """A recorded world instead of the simulated one: an NDJSON file of settlement events
    (a path relative to the scenario file), as ``tabletop from-incident`` writes it."""
    baseline: Baseline | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        problems = []
        for where, lane in self._lane_mentions():
            if lane not in self.lanes:
                problems.append(f"{where}: lane {lane!r} is not among the scenario's lanes ({', '.join(self.lanes)})")
        for i, step in enumerate(self.responders):
            if step.role is not None and step.role not in self.roles:
                known = ", ".join(self.roles) or "none"
                problems.append(f"responders[{i}]: role {step.role!r} is not one of the scenario's roles ({known})")
        for where, at in self._times():
            if at > self.duration:
                problems.append(f"{where}: at {at} is after the scenario ends ({self.duration})")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _lane_mentions(self) -> list[tuple[str, str]]:
        found = [(f"anomalies[{i}]", a.lane) for i, a in enumerate(self.anomalies)]
        for i, inject in enumerate(self.injects):
            for part in (inject.alert, inject.ai_fault):
                if part is not None:
                    found.append((f"injects[{i}]", part.lane))
            if inject.ai_fault is not None and inject.ai_fault.action_lane:
                found.append((f"injects[{i}].ai_fault.action_lane", inject.ai_fault.action_lane))
        found += [(f"expect[{i}]", e.lane) for i, e in enumerate(self.expect) if e.lane]
        if self.reference_lane:
            found.append(("reference_lane", self.reference_lane))
        return found

    def _times(self) -> list[tuple[str, timedelta]]:
        return [(f"injects[{i}]", x.at) for i, x in enumerate(self.injects)] + [
            (f"responders[{i}]", r.at) for i, r in enumerate(self.responders)
        ]


def parse_scenario(text: str, source: str = "scenario") -> Scenario:
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(f"{source}: not YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{source}: a scenario is a mapping of keys (name, title, lanes, …)")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        ]
        raise ScenarioError(f"{source}: " + "; ".join(problems)) from None


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    return f"{'.'.join(str(p) for p in loc) or '(top)'}: {message.removeprefix('Value error, ')}"


def bundled() -> dict[str, Scenario]:
    """The scenarios shipped with Lanekeeper, by name."""
    folder = resources.files("bot.tabletop").joinpath("scenarios")
    found = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            scenario = parse_scenario(entry.read_text(encoding="utf-8"), entry.name)
            found[scenario.name] = scenario
    return found


def load(name_or_path: str) -> Scenario:
    """A bundled scenario by name, or a scenario file."""
    scenarios = bundled()
    if name_or_path in scenarios:
        return scenarios[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        raise ScenarioError(f"{name_or_path}: neither a bundled scenario ({', '.join(scenarios)}) nor a file")
    scenario = parse_scenario(path.read_text(encoding="utf-8"), str(path))
    if scenario.events is None:
        return scenario
    events = path.parent / scenario.events
    if not events.is_file():
        raise ScenarioError(f"{path}: events: no file {events}")
    return scenario.model_copy(update={"events": str(events)})
