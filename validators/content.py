"""What must never be posted from free text: pings and credentials (links: ``validators.tokens.links``).

The same patterns serve two sides: the validators reject a proposal that contains them,
and the bot redacts credentials from untrusted text before it reaches an LLM.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """A finding in a text: what it is, where, and the matched text."""

    label: str
    start: int
    end: int
    text: str


_MENTIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("broadcast", re.compile(r"<!(?:channel|here|everyone)(?:\|[^>]*)?>")),
    ("group mention", re.compile(r"<!subteam\^[A-Za-z0-9]+(?:\|[^>]*)?>")),
    ("user mention", re.compile(r"<@[A-Za-z0-9]+(?:\|[^>]*)?>")),
    ("broadcast", re.compile(r"(?<![\w.@])@(?:channel|here|everyone)\b", re.IGNORECASE)),
    ("user or group mention", re.compile(r"(?<![\w.@])@(?!(?:channel|here|everyone)\b)[A-Za-z][\w.-]*")),
)

_SECRETS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Slack token", re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{8,}")),
    ("Slack app token", re.compile(r"\bxapp-[0-9]+-[A-Za-z0-9-]{8,}")),
    ("API key", re.compile(r"(?<![\w-])sk-[A-Za-z0-9_-]{16,}")),
    ("AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("PEM block", re.compile(r"-----BEGIN [A-Z0-9 ]+-----(?:(?:(?!-----BEGIN ).)*?-----END [A-Z0-9 ]+-----)?", re.DOTALL)),
    ("bearer token", re.compile(r"\bBearer\s+[A-Za-z0-9._~+/-]{16,}=*", re.IGNORECASE)),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b")),
)


def _scan(patterns: Iterable[tuple[str, re.Pattern[str]]], text: str) -> list[Span]:
    spans = [Span(label, m.start(), m.end(), m.group()) for label, pattern in patterns for m in pattern.finditer(text)]
    return _without_overlaps(spans)


def _without_overlaps(spans: list[Span]) -> list[Span]:
    """Keep the earliest (then longest) of overlapping spans."""
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if not kept or span.start >= kept[-1].end:
            kept.append(span)
    return kept


def find_mentions(text: str) -> list[Span]:
    return _scan(_MENTIONS, text)


def find_secrets(text: str) -> list[Span]:
    return _scan(_SECRETS, text)


def redact(text: str, placeholder: str = "[REDACTED {label}]") -> str:
    """Replace every credential-looking string (for text bound to an LLM or a log)."""
    for span in reversed(find_secrets(text)):
        text = text[: span.start] + placeholder.format(label=span.label) + text[span.end :]
    return text
