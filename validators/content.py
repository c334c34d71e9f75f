"""What must never be posted from free text: pings, credentials and foreign links.

The same patterns serve two sides: the validators reject a proposal that contains them,
and the bot redacts credentials from untrusted text before it reaches an LLM.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit


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
    ("PEM block", re.compile(r"-----BEGIN [A-Z0-9 ]+-----(?:.*?-----END [A-Z0-9 ]+-----)?", re.DOTALL)),
    ("bearer token", re.compile(r"\bBearer\s+[A-Za-z0-9._~+/-]{16,}=*", re.IGNORECASE)),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b")),
)

_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
_TLDS = "com|net|org|io|co|dev|app|ai|xyz|info|biz|me|us|uk|de|ru|cn|link|site|online|top|gg|sh|tv|cc|so|to|ly|ws"
_LINKS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s<>|\"'`]+"),
    re.compile(r"\bmailto:[^\s<>|\"'`]+", re.IGNORECASE),
    re.compile(rf"(?<![\w:/])//{_HOST}[^\s<>|\"'`]*"),
    re.compile(rf"(?<![\w./@:-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?:{_TLDS})\b(?![.-]?\w)", re.IGNORECASE),
    re.compile(r"(?<![\w./@-])www\.[^\s<>|\"'`]+", re.IGNORECASE),
    re.compile(rf"(?<![\w./@:-]){_HOST}(?::[0-9]+)?/[^\s<>|\"'`]*"),
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


def find_links(text: str) -> list[Span]:
    spans = [Span("link", m.start(), m.end(), m.group().rstrip(".,;:!?)")) for p in _LINKS for m in p.finditer(text)]
    return _without_overlaps(spans)


def link_host(url: str) -> str:
    """The host a link would open, as a browser sees it (userinfo and port stripped)."""
    if url.lower().startswith("mailto:"):
        return url.rpartition("@")[2].split("?")[0].lower()
    target = url if "://" in url or url.startswith("//") else "//" + url
    try:
        return (urlsplit(target).hostname or "").lower()
    except ValueError:
        return ""


def redact(text: str, placeholder: str = "[REDACTED {label}]") -> str:
    """Replace every credential-looking string (for text bound to an LLM or a log)."""
    for span in reversed(find_secrets(text)):
        text = text[: span.start] + placeholder.format(label=span.label) + text[span.end :]
    return text
