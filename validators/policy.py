"""The policy (contract §3): lanes, severity levels, health, actions and who may approve.

Loaded from YAML text and checked strictly: an unknown key is refused (a typo such as
``trigger_all`` would otherwise silently disable a safety rule), and every error names
the key and the problem on one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator, model_validator

from validators.facts import FACT_NAMES, LaneFacts

DEFAULT_LANE_PATTERN = r"l[0-9]+-[a-z0-9]+"

Threshold = Annotated[float, Field(strict=True, ge=0)]


class PolicyError(ValueError):
    """A policy that cannot be used; the message is one line naming the key."""


def _check_fact_names(thresholds: dict[str, float]) -> dict[str, float]:
    unknown = [name for name in thresholds if name not in FACT_NAMES]
    if unknown:
        raise ValueError(f"unknown fact {unknown[0]!r} (known facts: {', '.join(FACT_NAMES)})")
    return thresholds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LaneSpec(_Strict):
    kind: str
    chain: str
    fallback: str | None = None


class ActionSpec(_Strict):
    trigger_any: dict[str, Threshold] = {}
    needs_healthy_fallback: bool = False
    approvals: Annotated[int, Field(strict=True, ge=1)] = 1

    _facts = field_validator("trigger_any")(_check_fact_names)


@dataclass(frozen=True, slots=True)
class Breach:
    """A threshold met (or, for health, not stayed below) on a lane."""

    lane: str
    fact: str
    value: float
    threshold: float

    def __str__(self) -> str:
        return f"{self.fact} {_num(self.value)} >= {_num(self.threshold)} on {self.lane}"


def _num(value: float) -> str:
    return f"{value:.6g}"


class Policy(_Strict):
    lanes: dict[str, LaneSpec] = Field(min_length=1)
    severity: dict[str, dict[str, Threshold]]
    healthy: dict[str, Threshold] = {}
    resolved_quiet_s: Threshold = 300
    actions: dict[str, ActionSpec] = {}
    approvers: list[str] = []
    links_allowed: list[str] = []
    lane_pattern: str = DEFAULT_LANE_PATTERN
    pagerduty_services: dict[str, StrictStr] = {}
    """PagerDuty service id -> lane: a V3 webhook names the incident's service, never a lane."""

    _healthy_facts = field_validator("healthy")(_check_fact_names)

    @field_validator("severity")
    @classmethod
    def _levels(cls, levels: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        if not levels:
            raise ValueError("at least one level, sev1, is required")
        expected = [f"sev{i}" for i in range(1, len(levels) + 1)]
        if list(levels) != expected:
            raise ValueError(f"levels must be {', '.join(expected)} in that order, most severe first")
        for level, thresholds in levels.items():
            try:
                _check_fact_names(thresholds)
            except ValueError as exc:
                raise ValueError(f"{level}: {exc}") from None
        return levels

    @field_validator("approvers", mode="before")
    @classmethod
    def _one_group(cls, approvers: Any) -> Any:
        """``approvers: S0123GROUP`` names one user group; lists name users or groups."""
        return [approvers] if isinstance(approvers, str) else approvers

    @field_validator("approvers")
    @classmethod
    def _slack_ids(cls, approvers: list[str]) -> list[str]:
        """A name (``alice``, ``@alice``) would match no click: nobody could ever approve."""
        for entry in approvers:
            if not re.fullmatch(r"[UWS][A-Z0-9]{2,}", entry):
                raise ValueError(f"{entry!r} is not a Slack user id (U…, W…) or user group id (S…)")
        return approvers

    @field_validator("links_allowed")
    @classmethod
    def _bare_hosts(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?", host):
                raise ValueError(f"{host!r} must be a bare host name such as grafana.example.com (no scheme, port or path)")
        return [h.lower() for h in hosts]

    @field_validator("lane_pattern")
    @classmethod
    def _pattern(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return pattern

    @model_validator(mode="after")
    def _lanes_consistent(self) -> Policy:
        lane_re = re.compile(self.lane_pattern)
        for lane, spec in self.lanes.items():
            if not lane_re.fullmatch(lane):
                raise ValueError(f"lanes.{lane}: lane id does not match lane_pattern {self.lane_pattern!r}")
            if spec.fallback is not None and spec.fallback not in self.lanes:
                raise ValueError(f"lanes.{lane}.fallback: {spec.fallback!r} is not a lane of this policy")
            if spec.fallback == lane:
                raise ValueError(f"lanes.{lane}.fallback: a lane cannot be its own fallback")
        return self

    @model_validator(mode="after")
    def _services_on_lanes(self) -> Policy:
        for service, lane in self.pagerduty_services.items():
            if not re.fullmatch(r"[A-Z0-9]{5,}", service):  # a service's name would match no webhook, silently
                raise ValueError(
                    f"pagerduty_services.{service}: not a PagerDuty service id (like PIJ90N7, from the service's URL)"
                )
            if lane not in self.lanes:
                raise ValueError(f"pagerduty_services.{service}: {lane!r} is not a lane of this policy ({', '.join(self.lanes)})")
        return self

    @property
    def lane_token_pattern(self) -> str:
        """``lane_pattern`` for finding lanes inside text: anchors meant for whole ids dropped."""
        return re.sub(r"(?:\$|\\Z)$", "", re.sub(r"^(?:\^|\\A)", "", self.lane_pattern))

    # -- evaluation -------------------------------------------------------------------

    @property
    def default_severity(self) -> str:
        """The level when no listed level is met (``sev4`` for sev1..sev3)."""
        return f"sev{len(self.severity) + 1}"

    def severity_of(self, lanes: Iterable[tuple[str, LaneFacts]]) -> tuple[str, list[Breach]]:
        """The most severe level met on any lane, with the thresholds that met it."""
        lanes = list(lanes)
        for level, thresholds in self.severity.items():
            breaches = [b for lane, facts in lanes for b in _breaches(lane, facts, thresholds)]
            if breaches:
                return level, breaches
        return self.default_severity, []

    def unhealthy_because(self, lane: str, facts: LaneFacts) -> list[Breach]:
        """Why a lane is not healthy; empty when every listed fact is below its threshold."""
        return _breaches(lane, facts, self.healthy)

    def triggers_met(self, action: str, lane: str, facts: LaneFacts) -> list[Breach]:
        return _breaches(lane, facts, self.actions[action].trigger_any)


def _breaches(lane: str, facts: LaneFacts, thresholds: dict[str, float]) -> list[Breach]:
    found = []
    for fact, threshold in thresholds.items():
        value = facts.value(fact)
        if value is not None and value >= threshold:
            found.append(Breach(lane, fact, value, threshold))
    return found


def _describe(error: Any) -> str:
    path = ".".join(str(part) for part in error["loc"] if part != "[key]")
    message = str(error["msg"]).removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "required key is missing"
    return f"{path}: {message}" if path else message


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice (plain YAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_policy(text: str) -> Policy:
    """Policy from YAML text, or ``PolicyError`` with one line naming the key and problem."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise PolicyError(f"{where}not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise PolicyError("the policy must be a YAML mapping with at least 'lanes' and 'severity'")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PolicyError(_describe(errors[0]) + more) from None
