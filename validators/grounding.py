"""Grounding of numbers and times written in free text (contract §5).

A careful writer rounds: ``3.5%`` for a rate of 0.0351, ``14 min`` for 842 s, ``$536K``
for 535,740.29. So a written number is read with its unit and its precision, and it is
grounded when some known quantity, converted to that unit, rounds to it at that
precision. Numbers that are part of an id or a word (``l2-arb``, ``p99``, ``sev2``,
``evt-0001190``, ``0x1f``) are not figures and are skipped; times and dates are checked
against the window instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from validators.facts import Unit, Window


@dataclass(frozen=True, slots=True)
class Quantity:
    """A value a number in the text may express, and where it comes from."""

    value: float
    unit: Unit
    source: str


@dataclass(frozen=True, slots=True)
class NumberMention:
    text: str
    start: int
    value: float
    decimals: int
    readings: tuple[tuple[Unit, float], ...]
    """Each way to read it: a quantity in ``unit`` is written as ``value * factor``."""

    def matches(self, quantity: Quantity) -> Quantity | None:
        half_step = 0.5 * 10.0**-self.decimals
        for unit, factor in self.readings:
            if unit is quantity.unit:
                written = quantity.value * factor
                if abs(written - self.value) <= half_step + 1e-9 * max(1.0, abs(written)):
                    return quantity
        return None


@dataclass(frozen=True, slots=True)
class TimeMention:
    text: str
    start: int
    end: int
    spans: tuple[tuple[datetime, datetime], ...]
    """The instants it can denote, each ``[from, to)`` at the precision written; empty when
    it is not a real time (``25:61``)."""

    def within(self, window: Window) -> bool:
        """True when any reading overlaps the window, its end included (``as of 14:30Z``)."""
        return any(lo <= window.end and hi > window.start for lo, hi in self.spans)


_ALL_UNITS = tuple((u, 1.0) for u in Unit)
_SCALES = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9}
_DURATIONS = {"ms": 1000.0, "s": 1.0, "min": 1 / 60, "h": 1 / 3600, "d": 1 / 86400}

_NUMBER = re.compile(
    r"""
    (?P<cur>US\$|\$|USD\s?)?
    (?P<num>[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?|\.[0-9]+)
    (?:
        \s?(?P<pct>%|percent\b|per\s?cent\b|pct\b)
      | \s?(?P<bps>bps|bp|basis\s+points?)\b
      | [\s-]?(?P<ms>ms|msecs?|milliseconds?)\b
      | [\s-]?(?P<s>s|secs?|seconds?)\b
      | [\s-]?(?P<min>mins?|minutes?)\b
      | [\s-]?(?P<h>h|hrs?|hours?)\b
      | [\s-]?(?P<d>d|days?)\b
      | \s?(?P<scale>[KkMB]|bn|mn|thousand|million|billion)\b
      | \s?(?P<m>m)\b
    )?
    (?P<usd>\s?USD\b)?
    """,
    re.VERBOSE,
)

_ZONE = r"(?:\s?(?P<zone>Z|UTC|GMT|[+-][0-9]{2}:?[0-9]{2})\b)?"
_CLOCK = r"(?P<hh>[0-9]{1,2}):(?P<mm>[0-9]{2})(?::(?P<ss>[0-9]{2})(?:\.[0-9]+)?)?"
_ISO = re.compile(
    r"(?<![\w-])(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})"
    r"(?:[T ](?P<hh>[0-9]{2}):(?P<mm>[0-9]{2})(?::(?P<ss>[0-9]{2})(?:\.[0-9]+)?)?" + _ZONE + r")?(?![\w:])"
)
_TIME = re.compile(r"(?<![\w:.])" + _CLOCK + r"(?:\s?(?P<ampm>[AaPp])\.?[Mm]\.?)?" + _ZONE + r"(?![\w:])")
_HOUR_AMPM = re.compile(r"(?<![\w:.])(?P<hh>[0-9]{1,2})\s?(?P<ampm>[AaPp])\.?[Mm]\.?(?!\w)" + _ZONE)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = r"(?P<mon>(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*)\.?"
_DAY = r"(?P<day>[0-9]{1,2})(?:st|nd|rd|th)?"
_MONTH_DATE = re.compile(
    rf"\b(?:{_MONTH}\s{_DAY}|{_DAY.replace('day>', 'day2>')}\s{_MONTH.replace('mon>', 'mon2>')})"
    r"(?:,?\s(?P<year>[0-9]{4}))?\b"
)


def _zone_offset(zone: str | None) -> timezone | None:
    if zone is None or zone in ("Z", "UTC", "GMT"):
        return UTC
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _days(window: Window) -> list[date]:
    first, last = window.start.date(), window.end.date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _clock_spans(m: re.Match[str], days: Iterable[date]) -> tuple[tuple[datetime, datetime], ...]:
    groups = m.groupdict()
    hour, minute = int(groups["hh"]), int(groups.get("mm") or 0)
    second = int(groups["ss"]) if groups.get("ss") else None
    if groups.get("ampm"):
        if not 1 <= hour <= 12:
            return ()
        hour = hour % 12 + (12 if groups["ampm"].lower() == "p" else 0)
    if hour > 23 or minute > 59 or (second is not None and second > 59):
        return ()
    step = timedelta(seconds=1) if second is not None else timedelta(minutes=1) if groups.get("mm") else timedelta(hours=1)
    tz = _zone_offset(groups.get("zone"))
    spans = []
    for day in days:
        at = datetime(day.year, day.month, day.day, hour, minute, second or 0, tzinfo=tz)
        spans.append((at, at + step))
    return tuple(spans)


def _iso_spans(m: re.Match[str]) -> tuple[tuple[datetime, datetime], ...]:
    try:
        day = date(int(m["y"]), int(m["mo"]), int(m["d"]))
    except ValueError:
        return ()
    if m["hh"] is None:
        at = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return ((at, at + timedelta(days=1)),)
    return _clock_spans(m, [day])


def _month_spans(m: re.Match[str], window: Window) -> tuple[tuple[datetime, datetime], ...]:
    month = _MONTHS.index((m["mon"] or m["mon2"])[:3].lower()) + 1
    day_of_month = int(m["day"] or m["day2"])
    years = [int(m["year"])] if m["year"] else sorted({window.start.year, window.end.year})
    spans = []
    for year in years:
        try:
            at = datetime(year, month, day_of_month, tzinfo=UTC)
        except ValueError:
            continue
        spans.append((at, at + timedelta(days=1)))
    return tuple(spans)


def find_times(text: str, window: Window) -> list[TimeMention]:
    """Every date or time written in the text, with the instants it can denote."""
    found: list[TimeMention] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match[str], spans: tuple[tuple[datetime, datetime], ...]) -> None:
        if any(m.start() < hi and lo < m.end() for lo, hi in taken):
            return
        taken.append((m.start(), m.end()))
        found.append(TimeMention(m.group(), m.start(), m.end(), spans))

    for m in _ISO.finditer(text):
        add(m, _iso_spans(m))
    days = _days(window)
    for m in _TIME.finditer(text):
        add(m, _clock_spans(m, days))
    for m in _HOUR_AMPM.finditer(text):
        add(m, _clock_spans(m, days))
    for m in _MONTH_DATE.finditer(text):
        add(m, _month_spans(m, window))
    return sorted(found, key=lambda t: t.start)


def _readings(m: re.Match[str]) -> tuple[tuple[Unit, float], ...]:
    if m["pct"]:
        return ((Unit.RATIO, 100.0), (Unit.BPS, 0.01))
    if m["bps"]:
        return ((Unit.RATIO, 10000.0), (Unit.BPS, 1.0))
    for name, factor in _DURATIONS.items():
        if m[name]:
            return ((Unit.SECONDS, factor),)
    currency = bool(m["cur"] or m["usd"])
    if m["m"]:
        million = ((Unit.USD, 1e-6),) if currency else ((Unit.USD, 1e-6), (Unit.COUNT, 1e-6))
        return million if currency else ((Unit.SECONDS, 1 / 60), *million)
    scale = _SCALES[m["scale"].lower()] if m["scale"] else 1.0
    if currency:
        return ((Unit.USD, 1 / scale),)
    if scale != 1.0:
        return ((Unit.USD, 1 / scale), (Unit.COUNT, 1 / scale))
    return _ALL_UNITS


def _is_part_of_word(text: str, start: int, end: int) -> bool:
    """``p99``, ``sev2``, ``l2-arb``, ``evt-0001190``, ``5xx``, ``0x1f``, ``1.2.3``."""
    before = text[start - 1] if start > 0 else " "
    if before.isalnum() or before == "_":
        return True
    if before in "-_" and start > 1 and text[start - 2].isalpha():
        return True
    after = text[end] if end < len(text) else " "
    if after.isalnum() or after == "_":
        return True
    return after == "." and end + 1 < len(text) and text[end + 1].isdigit()


def find_numbers(text: str) -> list[NumberMention]:
    """Every figure in the text (``text`` should already have times, links and ids masked)."""
    mentions = []
    for m in _NUMBER.finditer(text):
        start = m.start("cur") if m["cur"] else m.start("num")
        end = m.end()
        while end > start and text[end - 1].isspace():
            end -= 1
        if _is_part_of_word(text, start, end):
            continue
        digits = m["num"].replace(",", "")
        decimals = len(digits.partition(".")[2])
        mentions.append(NumberMention(text[start:end], start, float(digits), decimals, _readings(m)))
    return mentions


def mask(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """Blank out spans (times, links, ids) so their digits are not read as figures."""
    chars = list(text)
    for lo, hi in spans:
        chars[lo:hi] = " " * (hi - lo)
    return "".join(chars)


def ungrounded_numbers(text: str, quantities: Iterable[Quantity]) -> list[NumberMention]:
    known = list(quantities)
    return [m for m in find_numbers(text) if not any(m.matches(q) for q in known)]
