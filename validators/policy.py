"""The policy (contract §3): lanes, severity levels, health, actions and who may approve.

Loaded from YAML text and checked strictly: an unknown key is refused (a typo such as
``trigger_all`` would otherwise silently disable a safety rule), and every error names
the key and the problem on one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator, model_validator

from validators.facts import FACT_NAMES, LaneFacts
from validators.lane_pattern import UnsafePattern, check_lane_pattern

DEFAULT_LANE_PATTERN = r"l[0-9]+-[a-z0-9]+"

Threshold = Annotated[float, Field(strict=True, ge=0)]


class PolicyError(ValueError):
    """A policy that cannot be used; the message is one line naming the key."""


THRESHOLD_FACTS = tuple(name for name in FACT_NAMES if name != "trust_score")
"""Facts a threshold can name: each is met at or above it, so ``trust_score``, which falls
as a lane degrades, is not one of them."""


def _check_fact_names(thresholds: dict[str, float]) -> dict[str, float]:
    unknown = [name for name in thresholds if name not in THRESHOLD_FACTS]
    if unknown:
        why = "a score, not a threshold: it falls as a lane degrades" if unknown[0] == "trust_score" else "unknown fact"
        raise ValueError(f"{why} {unknown[0]!r} (known facts: {', '.join(THRESHOLD_FACTS)})")
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


class Runbooks(_Strict):
    """Where people read what to do: a page per lane and per action kind."""

    lanes: dict[str, str] = {}
    actions: dict[str, str] = {}


Weight = Annotated[float, Field(strict=True, ge=0, le=1)]
Positive = Annotated[float, Field(strict=True, gt=0)]
YEAR_S = 365 * 24 * 3600
"""The longest wait the policy names: a duration is added to event times, and past about
2.7 million years (or at 1e308, or .inf) that addition overflows at every tick."""
Wait = Annotated[float, Field(strict=True, ge=0, le=YEAR_S)]
PositiveWait = Annotated[float, Field(strict=True, gt=0, le=YEAR_S)]


class TrustWeights(_Strict):
    """The most each part of a lane's trouble can take from its trust on its own, as a fraction."""

    feed_divergence: Weight = 0.8
    canary_failures: Weight = 0.8
    sequence: Weight = 0.6
    reorg_depth: Weight = 0.6
    finality: Weight = 0.6
    failure_rate: Weight = 0.9
    silence: Weight = 0.9


class TrustFullAt(_Strict):
    """Where a part takes its whole weight (it takes in proportion below)."""

    feed_divergence_bps: Positive = 100
    sequence_anomalies: Positive = 10
    reorg_depth: Positive = 4
    failure_rate: Positive = 0.2


class TrustSpec(_Strict):
    """The trust score's knobs (formula in docs/policy.md)."""

    finality_slo_s: Positive = 600
    """p99 finality at or under it takes nothing; at twice it, the whole finality weight."""
    finality_slo_s_by_lane: dict[str, Positive] = {}
    """Lanes whose SLO differs (an L1 finalizes slower than an L2)."""
    silence_s: Positive = 300
    """Silent this long at the window's end takes the whole silence weight."""
    weights: TrustWeights = TrustWeights()
    full_at: TrustFullAt = TrustFullAt()

    def slo_of(self, lane: str) -> float:
        return self.finality_slo_s_by_lane.get(lane, self.finality_slo_s)


EscalationStep = Literal["remind", "page"]
PAGE_ACTION = "escalate"
"""The policy action a page goes through (its webhook, exactly once)."""


class EscalationSpec(_Strict):
    """What happens while nobody acknowledges an incident of one severity: each step of
    ``then`` after another ``ack_within_s`` without an acknowledgement."""

    ack_within_s: PositiveWait
    then: list[EscalationStep] = Field(min_length=1)

    @field_validator("then")
    @classmethod
    def _one_page(cls, steps: list[EscalationStep]) -> list[EscalationStep]:
        """A second page would be refused as the same open action: say so here instead."""
        if steps.count("page") > 1:
            raise ValueError("page at most once: the on-call is paged through one escalate action per incident")
        return steps


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
    resolved_quiet_s: Wait = 300
    silent_after_s: PositiveWait = 300
    """A lane with no event for longer reads "no data since …", never healthy."""
    actions: dict[str, ActionSpec] = {}
    approvers: list[str] = []
    links_allowed: list[str] = []
    lane_pattern: str = DEFAULT_LANE_PATTERN
    runbooks: Runbooks = Runbooks()
    trust: TrustSpec = TrustSpec()
    pagerduty_services: dict[str, StrictStr] = {}
    """PagerDuty service id -> lane: a V3 webhook names the incident's service, never a lane."""
    flap_window_s: Wait = 900
    """An incident that fires again this soon after it resolved is reopened, not opened anew
    (0: never; every firing after a resolution is a new incident)."""
    flap_threshold: Annotated[int, Field(strict=True, ge=1)] = 3
    """Reopenings after which the lane is flapping: the channel is no longer told until quiet."""
    escalation: dict[str, EscalationSpec] = {}
    """Per severity level: reminders and a page while nobody acknowledges."""

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
        try:
            check_lane_pattern(pattern)
        except UnsafePattern as exc:
            raise ValueError(f"refused, it could make validation hang (catastrophic backtracking): {exc}") from None
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
        for lane in self.trust.finality_slo_s_by_lane:
            if lane not in self.lanes:
                raise ValueError(f"trust.finality_slo_s_by_lane.{lane}: not a lane of this policy")
        return self

    @model_validator(mode="after")
    def _approvable(self) -> Policy:
        """An action nobody can approve would be posted with buttons that can never succeed."""
        users = [a for a in self.approvers if not a.startswith("S")]
        groups = len(self.approvers) - len(users)
        for kind, spec in self.actions.items():
            if not self.approvers:
                raise ValueError(f"approvers: none named, so no action ({kind}, …) could ever be approved")
            if not groups and spec.approvals > len(users):
                raise ValueError(
                    f"actions.{kind}.approvals: {spec.approvals} distinct approvers needed, but approvers names "
                    f"{len(users)} and no user group"
                )
        return self

    @model_validator(mode="after")
    def _runbooks_known_and_allowed(self) -> Policy:
        """A runbook link is shown to people in the middle of an incident: it points at a
        host the policy allows, for a lane or action the policy knows."""
        for group, known in (("lanes", self.lanes), ("actions", self.actions)):
            for name, url in getattr(self.runbooks, group).items():
                if name not in known:
                    raise ValueError(f"runbooks.{group}.{name}: not one of the policy's {group} ({', '.join(known)})")
                found = re.fullmatch(r"https?://([^/:?#\s]+)(?::\d+)?(?:[/?#]\S*)?", url)
                if found is None or found.group(1).lower() not in self.links_allowed:
                    raise ValueError(
                        f"runbooks.{group}.{name}: {url!r} must be an http(s) URL on a host in links_allowed "
                        f"({', '.join(self.links_allowed) or 'none listed'})"
                    )
        return self

    def runbook(self, lane: str | None = None, action: str | None = None) -> str | None:
        """The runbook for an action kind, else for a lane, if the policy names one."""
        return (self.runbooks.actions.get(action) if action else None) or (self.runbooks.lanes.get(lane) if lane else None)

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

    @model_validator(mode="after")
    def _escalation_levels(self) -> Policy:
        levels = [*self.severity, self.default_severity]
        for level, spec in self.escalation.items():
            if level not in levels:
                raise ValueError(f"escalation.{level}: not a severity level of this policy ({', '.join(levels)})")
            if "page" in spec.then and PAGE_ACTION not in self.actions:
                raise ValueError(
                    f"escalation.{level}.then: page goes through the {PAGE_ACTION} action, which actions does not list "
                    f"(add `{PAGE_ACTION}: {{}}` to actions)"
                )
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
