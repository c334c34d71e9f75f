"""Figures: digits or number words, with the unit and the precision they are written in.

A careful writer rounds (``3.5%`` for 0.0351, ``14 min`` for 842 s, ``$536K``), so a figure
keeps its written precision and every way its unit can be read. Number words from two up
(``fourteen``, ``forty-two``, ``three hundred``) are figures like their digits (contract
v1.1); ``one``, ``half`` and other fractions are not checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from validators.facts import Unit

Reading = tuple[Unit, float]
"""A quantity in ``unit`` is written as ``value * factor``."""

_ALL_UNITS = tuple(Unit)
_ONE_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEEN_WORDS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TEN_WORDS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_VALUES = (
    {w: i + 1 for i, w in enumerate(_ONE_WORDS)}
    | {w: i + 10 for i, w in enumerate(_TEEN_WORDS)}
    | {w: 10 * (i + 2) for i, w in enumerate(_TEN_WORDS)}
)
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9}
_B = "(?![A-Za-z0-9])"
_AT_START = "(?<![A-Za-z0-9])"
"""Word edges that, unlike ``\\b``, let Slack's ``_italics_`` end a word."""
_TENS, _TEENS, _ONES = ("|".join(words) for words in (_TEN_WORDS, _TEEN_WORDS, _ONE_WORDS))
_HYPHEN = "[-\u2010\u2011\\s]"
"""Between ``forty`` and ``two``: a hyphen (also Unicode's and the no-break one) or a space."""
_ORDINAL = "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth"
_SMALL = rf"(?:(?:{_TENS})(?:{_HYPHEN}(?:{_ONES}){_B})?(?![-\u2010\u2011](?:{_ORDINAL}){_B})|{_TEENS}|{_ONES}){_B}"
_GROUP = rf"(?:(?:{_SMALL}\s+)?hundred{_B}(?:\s+(?:and\s+)?{_SMALL})?|{_SMALL})"
_SCALE = rf"(?:thousand|million|billion){_B}"
WORDS = rf"(?i:{_AT_START}(?:(?:{_GROUP}\s+)?{_SCALE}\s+(?:and\s+)?)*(?:(?:{_GROUP}\s+)?(?:{_SCALE}|dozen{_B})|{_GROUP}))"
"""A cardinal in words: ``fourteen``, ``forty-two``, ``three hundred and five``, ``two
million``, ``a dozen`` (the ``a`` is not needed: ``dozen`` alone is twelve)."""
_FRACTION_WORD = rf"(?:half|halves|thirds?|quarters?|fifths?|sixths?|sevenths?|eighths?|ninths?|tenths?){_B}"
FRACTION = (
    rf"(?i:{_AT_START}(?:(?:{WORDS}|an?){_HYPHEN}+(?:and\s+an?\s+)?)?{_FRACTION_WORD}"
    rf"(?:\s+(?:of\s+)?(?:an?\s+)?(?:{_SCALE}|dozen{_B}))?)"
)
"""``half``, ``two thirds``, ``one and a half``, ``half a million``: not checked."""

_DIGITS = r"[0-9]{1,3}(?:[,\u00a0\u202f\u2009][0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+"
_UNIT = (
    rf"(?:\s?(?P<pct>%|percent{_B}|per\s?cent{_B}|pct{_B})"
    rf"|\s?(?P<bps>bps|bp|basis\s+points?){_B}"
    rf"|[\s-]?(?P<ms>ms|msecs?|milliseconds?){_B}"
    rf"|[\s-]?(?P<s>s|secs?|seconds?){_B}"
    rf"|[\s-]?(?P<min>mins?|minutes?){_B}"
    rf"|[\s-]?(?P<h>h|hrs?|hours?){_B}"
    rf"|[\s-]?(?P<d>d|days?){_B}"
    rf"|\s?(?P<scale>MM|[KkMB]|(?i:bn|mn|thousand|million|billion)){_B}"
    rf"|\s?(?P<m>m){_B}"
    rf"|\s?(?P<times>[x×])(?![A-Za-z0-9]))?"
    rf"(?P<usd>\s?(?:USD|(?i:dollars?)){_B})?"
)
_START = r"(?<![A-Za-z0-9.])"
_END = r"(?![A-Za-z0-9])(?!\.[0-9])"
_H = r"(?P<h>[0-9]+)\s?(?:h|hrs?|hours?)"
_M = r"(?P<m>[0-9]+)\s?(?:m|mins?|minutes?)"
_S = r"(?P<s>[0-9]+(?:\.[0-9]+)?)\s?(?:s|secs?|seconds?)"
_AND = r"(?:,?\s(?:and\s)?|)"
_TWO_PARTS = (
    rf"(?=[0-9]+\s?(?:h|hrs?|hours?|m|mins?|minutes?){_AND}"
    r"[0-9]+(?:\.[0-9]+)?\s?(?:m|mins?|minutes?|s|secs?|seconds?)(?![A-Za-z0-9]))"
)
"""A duration in parts (``2h 15m``) has at least two: ``5m`` alone may be five million."""

FORMS: dict[str, str] = {
    "duration": rf"{_START}{_TWO_PARTS}(?:{_H}{_AND})?(?:{_M}{_AND})?(?:{_S})?{_END}",
    "fraction": FRACTION,
    "money": rf"{_START}(?P<cur>US\$|\$|USD\s?)(?:(?P<num>{_DIGITS})|(?P<words>{WORDS})){_UNIT}",
    "number": rf"{_START}(?:(?P<num>{_DIGITS})|(?P<words>{WORDS})){_UNIT}{_END}",
}
"""Each form of a figure, in the order tried at one place: ``2h 15m`` is one duration; a
fraction is not a number; a figure with a currency sign is money whatever follows it."""
_NAMED = {kind: re.compile(pattern) for kind, pattern in FORMS.items()}
_DURATIONS = {"ms": 1000.0, "s": 1.0, "min": 1 / 60, "h": 1 / 3600, "d": 1 / 86400}
_SCALE_UNITS = {"k": 1e3, "m": 1e6, "mm": 1e6, "mn": 1e6, "b": 1e9, "bn": 1e9, **_SCALES}


@dataclass(frozen=True, slots=True)
class Figure:
    """A figure's written value and precision, and every unit it can be read in."""

    value: float
    decimals: int
    """Digits after the point; negative for ``5e6`` (precise to millions)."""
    readings: tuple[Reading, ...]
    spelled: bool = False


def parse_figure(kind: str, text: str) -> Figure | None:
    """The figure ``text`` (matched by the form ``kind``) writes; None when it is not one
    to check (a fraction, ``one``)."""
    if kind == "fraction":
        return None
    m = _NAMED[kind].fullmatch(text)
    if m is None:  # the lexer matched it with the same pattern
        raise AssertionError(f"{kind} does not match {text!r}")
    if kind == "duration":
        return _duration(m)
    if m["words"] is not None:
        value, scale = words_value(m["words"])
        if value * scale < 2:
            return None
        return Figure(value, 0, _readings(m, scale), spelled=True)
    digits = re.sub(r"[,\u00a0\u202f\u2009]", "", m["num"])
    scale = _SCALE_UNITS[m["scale"].lower()] if m["scale"] else 1.0
    return Figure(float(digits), _decimals(digits), _readings(m, scale))


def words_value(words: str) -> tuple[float, float]:
    """A cardinal in words as (value, scale): ``two million`` is (2, 1e6), precise to
    millions like ``2 million``; ``three hundred`` is (300, 1), exact like ``300``."""
    total, current = 0.0, 0.0
    parts = [w for w in re.split(f"{_HYPHEN}+", words.lower()) if w and w != "and"]
    for word in parts:
        if word in _VALUES:
            current += _VALUES[word]
        elif word == "hundred":
            current = (current or 1) * 100
        elif word == "dozen":
            current = (current or 1) * 12
        else:
            total += (current or 1) * _SCALES[word]
            current = 0
    value = total + current
    scale = _SCALES.get(parts[-1], 1.0)
    return value / scale, scale


def _readings(m: re.Match[str], scale: float) -> tuple[Reading, ...]:
    return tuple((unit, factor / scale) for unit, factor in _unit_readings(m))


def _unit_readings(m: re.Match[str]) -> tuple[Reading, ...]:
    """How the written unit reads a quantity; a figure with no unit reads a fact in the
    fact's own unit, whatever it is (contract v1.1)."""
    if m["pct"]:
        return ((Unit.RATIO, 100.0), (Unit.BPS, 0.01))
    if m["bps"]:
        return ((Unit.RATIO, 10000.0), (Unit.BPS, 1.0))
    for name, factor in _DURATIONS.items():
        if m[name]:
            return ((Unit.SECONDS, factor),)
    if m.groupdict().get("cur") or m["usd"]:
        return ((Unit.USD, 1.0),)
    if m["m"]:  # 5m: five minutes, or five million
        return ((Unit.SECONDS, 1 / 60), *((unit, 1e-6) for unit in _ALL_UNITS))
    return tuple((unit, 1.0) for unit in _ALL_UNITS)


def _decimals(number: str) -> int:
    mantissa, _, exponent = number.lower().partition("e")
    return len(mantissa.partition(".")[2]) - int(exponent or 0)


def _duration(m: re.Match[str]) -> Figure:
    """``2h 15m``, ``9m59s``, ``2 hours 2 minutes``: one duration, precise to its last part."""
    seconds = int(m["h"] or 0) * 3600 + int(m["m"] or 0) * 60 + float(m["s"] or 0)
    if m["s"] is not None:
        return Figure(seconds, len(m["s"].partition(".")[2]), ((Unit.SECONDS, 1.0),))
    return Figure(seconds / 60, 0, ((Unit.SECONDS, 1 / 60),))
