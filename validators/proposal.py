"""The summary proposal (contract §4): a strict pydantic model for the bot, and a lenient
view for the rule checks.

The rules must report every problem, so they cannot stop at the first schema error: the
view keeps each part of a proposal that is well-typed (a claim with a bad ``value`` still
has its text checked) and drops only what cannot be read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from validators.facts import Window

UTC_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$"
STATUSES = ("investigating", "mitigated", "resolved")
HEADLINE_MAX = 150
TEXT_MAX = 500

_Id = Annotated[str, StringConstraints(min_length=1)]
_UtcStamp = Annotated[str, StringConstraints(pattern=UTC_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ProposalWindow(_Strict):
    start: _UtcStamp
    end: _UtcStamp

    @model_validator(mode="after")
    def _real_and_ordered(self) -> ProposalWindow:
        start, end = parse_utc(self.start), parse_utc(self.end)
        if start is None or end is None:
            raise ValueError("window times must be real RFC 3339 UTC times")
        if end <= start:
            raise ValueError("the window's end must be after its start")
        return self


class Claim(_Strict):
    text: Annotated[str, StringConstraints(min_length=1, max_length=TEXT_MAX)]
    lane: _Id
    fact: _Id
    value: Annotated[float, Field(allow_inf_nan=False)]
    evidence: list[_Id]


class Action(_Strict):
    kind: _Id
    lane: _Id
    reason: Annotated[str, StringConstraints(min_length=1, max_length=TEXT_MAX)]
    evidence: list[_Id]


class Proposal(_Strict):
    """What the LLM must produce; mirrors ``prompts/proposal.schema.json``."""

    schema_version: Literal[1]
    incident_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    headline: Annotated[str, StringConstraints(min_length=1, max_length=HEADLINE_MAX)]
    severity: Annotated[str, StringConstraints(pattern=r"^sev[1-9]$")]
    status: Literal["investigating", "mitigated", "resolved"]
    lanes: list[_Id] = Field(min_length=1)
    window: ProposalWindow
    claims: list[Claim]
    actions: list[Action]

    @field_validator("schema_version", mode="before")
    @classmethod
    def _not_a_bool(cls, version: Any) -> Any:
        if isinstance(version, bool):  # True == 1 in Python, not in JSON Schema
            raise ValueError("schema_version must be the number 1")
        return version

    @field_validator("lanes")
    @classmethod
    def _unique(cls, lanes: list[str]) -> list[str]:
        if len(set(lanes)) != len(lanes):
            raise ValueError("lanes must be unique")
        return lanes


# -- the lenient view ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimView:
    index: int
    text: str | None
    lane: str | None
    fact: str | None
    value: float | None
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ActionView:
    index: int
    kind: str | None
    lane: str | None
    reason: str | None
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProposalView:
    headline: str | None
    severity: str | None
    status: str | None
    lanes: tuple[str, ...]
    window: Window | None
    claims: tuple[ClaimView, ...]
    actions: tuple[ActionView, ...]

    def texts(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every free text with its location: headline, claim texts, action reasons."""
        found: list[tuple[tuple[str | int, ...], str]] = []
        if self.headline is not None:
            found.append((("headline",), self.headline))
        found += [(("claims", c.index, "text"), c.text) for c in self.claims if c.text is not None]
        found += [(("actions", a.index, "reason"), a.reason) for a in self.actions if a.reason is not None]
        return found

    def cited_ids(self) -> set[str]:
        return {i for c in self.claims for i in c.evidence} | {i for a in self.actions for i in a.evidence}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def finite_number(value: Any) -> float | None:
    """A JSON number as a finite float, or None (booleans, NaN, infinities, 400-digit ints)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _ids(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _items(doc: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    items = doc.get(key)
    if not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]


def parse_utc(text: Any) -> datetime | None:
    """An RFC 3339 UTC stamp as the schema allows it, or None."""
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def window_of(doc: Any) -> Window | None:
    raw = doc.get("window") if isinstance(doc, dict) else None
    if not isinstance(raw, dict):
        return None
    start, end = parse_utc(raw.get("start")), parse_utc(raw.get("end"))
    if start is None or end is None or end <= start:
        return None
    return Window(start, end)


def view_of(doc: Any) -> ProposalView:
    """What the rules can read of ``doc``, however broken the rest is."""
    if not isinstance(doc, dict):
        return ProposalView(None, None, None, (), None, (), ())
    lanes = doc.get("lanes")
    return ProposalView(
        headline=_str(doc.get("headline")),
        severity=_str(doc.get("severity")),
        status=_str(doc.get("status")),
        lanes=tuple(x for x in lanes if isinstance(x, str)) if isinstance(lanes, list) else (),
        window=window_of(doc),
        claims=tuple(
            ClaimView(
                i,
                _str(c.get("text")),
                _str(c.get("lane")),
                _str(c.get("fact")),
                finite_number(c.get("value")),
                _ids(c.get("evidence")),
            )
            for i, c in _items(doc, "claims")
        ),
        actions=tuple(
            ActionView(i, _str(a.get("kind")), _str(a.get("lane")), _str(a.get("reason")), _ids(a.get("evidence")))
            for i, a in _items(doc, "actions")
        ),
    )
