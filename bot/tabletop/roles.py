"""Who plays which role in a drill: ``/tabletop start SCENARIO [SPEED] [@role=@user ...]``.

Slack sends a mention in a command's text as ``<@U0123ABC|name>`` (the command escapes
them, see manifest.yml), so a person is known by id, never by a display name that may be
anyone's. Parsing is pure; which roles exist is the scenario's to say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ROLE = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,30})(?:\|[^<>]{0,100})?>")
_ASSIGNMENT = re.compile(r"@?([^=\s]*)=(\S*)")


class RolesError(ValueError):
    """A start line that cannot be read; the message says which word and how to write it."""


@dataclass(frozen=True, slots=True)
class StartLine:
    scenario: str
    speed: float | None
    people: dict[str, str] = field(default_factory=dict)
    """role -> Slack user id."""


def parse_start(words: list[str]) -> StartLine:
    """``SCENARIO [SPEED] [@role=<@U…> ...]``, the words after ``start``."""
    if not words:
        raise RolesError("`/tabletop start` needs a scenario")
    scenario, rest = words[0], words[1:]
    speed = None
    if rest and "=" not in rest[0]:
        try:
            speed = float(rest[0])
        except ValueError:
            raise RolesError(f"Speed `{rest[0][:40]}` is not a number") from None
        rest = rest[1:]
    people: dict[str, str] = {}
    for word in rest:
        role, user = _assignment(word)
        if role in people:
            raise RolesError(f"The role `{role}` is given twice")
        people[role] = user
    return StartLine(scenario, speed, people)


def _assignment(word: str) -> tuple[str, str]:
    found = _ASSIGNMENT.fullmatch(word)
    if found is None:
        raise RolesError(f"`{word[:60]}` is not a role assignment: write `@role=@person`")
    role, person = found.group(1), found.group(2)
    if not ROLE.fullmatch(role):
        raise RolesError(f"`{role[:60]}` is not a role name (lower case letters, digits, `_` and `-`)")
    mention = _MENTION.fullmatch(person)
    if mention is None:
        raise RolesError(f"`{person[:60]}` is not a person: mention them (`@name`, which Slack sends as their user id)")
    return role, mention.group(1)


def assignment_text(people: dict[str, str]) -> str:
    """As a start line writes them (the inverse of ``parse_start``'s assignments)."""
    return " ".join(f"@{role}=<@{user}>" for role, user in people.items())
