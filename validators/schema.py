"""The proposal's JSON Schema check (contract §4), with over-long texts reported as
``content.too_long`` rather than ``schema`` so a re-ask can say "shorten", not "fix"."""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator

from validators.findings import Code, Violation, pointer
from validators.proposal import UTC_PATTERN, finite_number, parse_utc

_MESSAGE_MAX = 300


def _is_free_text(path: tuple[Any, ...]) -> bool:
    return path == ("headline",) or (len(path) == 3 and (path[0], path[2]) in {("claims", "text"), ("actions", "reason")})


class SchemaChecker:
    def __init__(self, schema: dict[str, Any]) -> None:
        Draft202012Validator.check_schema(schema)
        self._validator = Draft202012Validator(schema)

    def check(self, doc: Any) -> list[Violation]:
        found = []
        for error in sorted(self._validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
            path = tuple(error.absolute_path)
            if error.validator == "maxLength" and _is_free_text(path):
                limit = error.validator_value
                found.append(
                    Violation(
                        Code.CONTENT_TOO_LONG,
                        pointer(*path),
                        f"{'/'.join(map(str, path))} is {len(error.instance)} characters; the limit is {limit}",
                        {"length": len(error.instance), "limit": limit},
                    )
                )
            else:
                message = error.message
                if len(message) > _MESSAGE_MAX:
                    message = message[: _MESSAGE_MAX - 1] + "…"
                found.append(Violation(Code.SCHEMA, pointer(*path), message))
        return found + _window_semantics(doc) + _finite_values(doc)


def _window_semantics(doc: Any) -> list[Violation]:
    """What a pattern cannot say: the stamps are real instants and the window is not empty."""
    window = doc.get("window") if isinstance(doc, dict) else None
    if not isinstance(window, dict):
        return []
    found = []
    stamps = {}
    for key in ("start", "end"):
        raw = window.get(key)
        stamps[key] = parse_utc(raw)
        if isinstance(raw, str) and stamps[key] is None and re.fullmatch(UTC_PATTERN, raw):
            found.append(Violation(Code.SCHEMA, pointer("window", key), f"{raw!r} is not a real RFC 3339 UTC time"))
    start, end = stamps["start"], stamps["end"]
    if start is not None and end is not None and end <= start:
        found.append(Violation(Code.SCHEMA, pointer("window"), "the window's end must be after its start"))
    return found


def _finite_values(doc: Any) -> list[Violation]:
    """JSON has no NaN or infinity, but Python's parser accepts them; a value no float
    can hold is no figure either."""
    claims = doc.get("claims") if isinstance(doc, dict) else None
    if not isinstance(claims, list):
        return []
    found = []
    for i, claim in enumerate(claims):
        value = claim.get("value") if isinstance(claim, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and finite_number(value) is None:
            found.append(Violation(Code.SCHEMA, pointer("claims", i, "value"), "value must be a finite number"))
    return found
