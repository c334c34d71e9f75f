"""One tokenizer for the free texts of a proposal: what each stretch of text is, before any
of it is grounded.

Read in this order, each kind claiming its stretch so the later ones never see it:
credentials (anywhere, even inside a link), links (every form Slack renders; a labelled
link's label stays text), mentions, lanes, then one left-to-right pass where, at each
place, the first form that matches wins: times (ranges, ISO date-times, times of day,
dates), durations, fractions, money and numbers (digits or words), and ids and words
(``l2-arb``, ``evt-0001190``, ``p99``, ``5xx``), whose digits are not figures. A digit
that no form reads is a figure nothing can ground, so it is never silently skipped.

Pure and linear: every pattern is anchored on what precedes and follows it, so none
rescans the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from validators.content import find_mentions, find_secrets
from validators.tokens import numbers, times
from validators.tokens.links import find_links, link_host
from validators.tokens.numbers import Figure
from validators.tokens.patterns import anon
from validators.tokens.times import Moment, TimeError


class Kind(Enum):
    SECRET = "secret"
    LINK = "link"
    MENTION = "mention"
    LANE = "lane"
    TIME = "time"
    DATE = "date"
    RANGE = "range"
    DURATION = "duration"
    NUMBER = "number"
    NUMBER_WORD = "number word"
    ID = "id"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Labelled(Token):
    """A credential or a mention, with what it is (``Slack token``, ``broadcast``)."""

    label: str


@dataclass(frozen=True, slots=True)
class Link(Token):
    target: str
    host: str
    """The host its target opens (``""`` when it has none, such as ``/path``)."""


@dataclass(frozen=True, slots=True)
class Time(Token):
    moments: tuple[Moment, ...]
    """What it denotes: one moment, or a range's two ends."""
    problem: str | None = None
    """Why it cannot be placed at all (``25:61``, ``14:05 EST``)."""


@dataclass(frozen=True, slots=True)
class Number(Token):
    figure: Figure | None
    """None for a digit no form reads: nothing can ground it."""


_TIME_KINDS = {"range": Kind.RANGE, "month_date": Kind.DATE, "month_year": Kind.DATE, "quarter": Kind.DATE}
_OTHER = {
    "ref": r"[#§]\s?[0-9]+(?:\.[0-9]+)*(?![A-Za-z0-9])",
    "dotted": r"(?<![A-Za-z0-9.])[0-9]+(?:\.[0-9]+){2,}(?![A-Za-z0-9])",
    "digit_id": r"(?<![A-Za-z0-9])[0-9]+[A-Za-z_]\w*(?:[-.]\w+)*",
    "word": r"[^\W\d_]\w*(?:[-.]\w+)*",
    "stray": r"\d+",
}
"""After times and figures: references (``#42``, ``§4.2``), versions and addresses
(``1.2.3``), ids that start with a digit (``5xx``, ``0x1f``), words, and a lone digit."""
_FORMS = {**times.FORMS, **numbers.FORMS, **_OTHER}
_PROSE = re.compile("|".join(f"(?P<{kind}>{anon(pattern)})" for kind, pattern in _FORMS.items()))


def tokenize(text: str, lanes: re.Pattern[str] | None = None) -> list[Token]:
    """Every token of ``text`` worth checking, kind by kind in the order above (each kind
    left to right). ``lanes`` finds lane ids (the policy's ``lane_pattern``, bounded)."""
    found: list[Token] = [Labelled(Kind.SECRET, s.start, s.end, s.text, s.label) for s in find_secrets(text)]
    prose = _mask(text, [(t.start, t.end) for t in found])
    prose = _mask(prose, _links(prose, 0, found))
    mentions = [Labelled(Kind.MENTION, s.start, s.end, s.text, s.label) for s in find_mentions(prose)]
    prose = _mask(prose, [(s.start, s.end) for s in mentions])
    found += mentions
    if lanes is not None:
        named = [Token(Kind.LANE, m.start(), m.end(), m.group()) for m in lanes.finditer(prose)]
        prose = _mask(prose, [(t.start, t.end) for t in named])
        found += named
    found += _prose(prose)
    return found


def _links(text: str, offset: int, found: list[Token]) -> list[tuple[int, int]]:
    """Links into ``found``; returns the stretches they claim (a label is left as text, and
    the URLs it shows are links of their own)."""
    claimed = []
    for link in find_links(text):
        start, end = offset + link.start, offset + link.end
        found.append(Link(Kind.LINK, start, end, text[link.start : link.end], link.target, link_host(link.target)))
        if link.label is None:
            claimed.append((start, end))
            continue
        lo, hi = link.label
        claimed += [(start, offset + lo), (offset + hi, end), *_links(text[lo:hi], offset + lo, found)]
    return claimed


def _prose(text: str) -> list[Token]:
    found: list[Token] = []
    for m in _PROSE.finditer(text):
        kind, start, end, written = m.lastgroup or "", m.start(), m.end(), m.group()
        if kind in times.FORMS:
            found.append(_time(kind, start, end, written))
        elif kind in numbers.FORMS:
            figure = numbers.parse_figure(kind, written)
            if figure is not None:
                what = Kind.DURATION if kind == "duration" else Kind.NUMBER_WORD if figure.spelled else Kind.NUMBER
                found.append(Number(what, start, end, written, figure))
        elif kind == "stray":
            found.append(Number(Kind.NUMBER, start, end, written, None))
        elif kind != "word" or any(c.isdigit() for c in written):
            found.append(Token(Kind.ID, start, end, written))
    return found


def _time(kind: str, start: int, end: int, written: str) -> Time:
    what = _TIME_KINDS.get(kind, Kind.DATE if kind == "iso" and "T" not in written else Kind.TIME)
    try:
        return Time(what, start, end, written, times.parse_time(kind, written))
    except TimeError as exc:
        return Time(what, start, end, written, (), str(exc))


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    """Blank out claimed stretches so no later kind reads their characters."""
    chars = list(text)
    for lo, hi in spans:
        chars[lo:hi] = " " * (hi - lo)
    return "".join(chars)
