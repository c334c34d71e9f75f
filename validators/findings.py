"""Violations and reports (contract §5): a code, a JSON Pointer into the proposal, and a
message written for a tired on-call engineer, plus whatever detail helps a re-ask."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Code(StrEnum):
    SCHEMA = "schema"
    FACT_UNKNOWN = "fact.unknown"
    FACT_MISMATCH = "fact.mismatch"
    NUMBER_UNGROUNDED = "number.ungrounded"
    EVIDENCE_MISSING = "evidence.missing"
    EVIDENCE_IRRELEVANT = "evidence.irrelevant"
    LANE_UNKNOWN = "lane.unknown"
    LANE_OUTSIDE_INCIDENT = "lane.outside_incident"
    TIME_OUTSIDE_WINDOW = "time.outside_window"
    SEVERITY_MISMATCH = "severity.mismatch"
    STATUS_INCONSISTENT = "status.inconsistent"
    ACTION_NOT_ALLOWED = "action.not_allowed"
    ACTION_PRECONDITION = "action.precondition"
    ACTION_FALLBACK_UNHEALTHY = "action.fallback_unhealthy"
    CONTENT_MENTION = "content.mention"
    CONTENT_SECRET = "content.secret"
    CONTENT_LINK = "content.link"
    CONTENT_TOO_LONG = "content.too_long"
    CONTENT_HIDDEN = "content.hidden"


def pointer(*parts: str | int) -> str:
    """A JSON Pointer (RFC 6901) to ``parts``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass(frozen=True, slots=True)
class Violation:
    code: Code
    path: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"code": str(self.code), "path": self.path, "message": self.message, **self.details}


@dataclass(frozen=True, slots=True)
class Report:
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def codes(self) -> set[str]:
        return {str(v.code) for v in self.violations}

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "violations": [v.as_json() for v in self.violations]}
