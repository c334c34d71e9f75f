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
    """The instants it can denote, each ``[from, to)`` at the precision written."""
    problem: str | None = None
    """Why it cannot be placed at all (``25:61``, ``14:05 EST``)."""

    def within(self, window: Window) -> bool:
        """True when any reading overlaps the window, its end included (``as of 14:30Z``)."""
        return any(lo <= window.end and hi > window.start for lo, hi in self.spans)


_BARE = ((Unit.COUNT, 1.0), (Unit.RATIO, 1.0))
"""A number with no unit is a count or a fraction; durations, money and basis points are
written with their unit, so a bare ``36`` can never be grounded by a p50 of 35.7 s."""
_SCALES = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mm": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9}
_DURATIONS = {"ms": 1000.0, "s": 1.0, "min": 1 / 60, "h": 1 / 3600, "d": 1 / 86400}

_NUMBER = re.compile(
    r"""
    (?P<cur>US\$|\$|USD\s?)?
    (?P<num>[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
    (?:
        \s?(?P<pct>%|percent\b|per\s?cent\b|pct\b)
      | \s?(?P<bps>bps|bp|basis\s+points?)\b
      | [\s-]?(?P<ms>ms|msecs?|milliseconds?)\b
      | [\s-]?(?P<s>s|secs?|seconds?)\b
      | [\s-]?(?P<min>mins?|minutes?)\b
      | [\s-]?(?P<h>h|hrs?|hours?)\b
      | [\s-]?(?P<d>d|days?)\b
      | \s?(?P<scale>MM|[KkMB]|(?i:bn|mn|thousand|million|billion))\b
      | \s?(?P<m>m)\b
      | (?P<times>x)\b
    )?
    (?P<usd>\s?USD\b)?
    """,
    re.VERBOSE,
)

_ZONE = r"(?:\s?(?P<zone>Z|UTC|GMT|[+-][0-9]{2}:?[0-9]{2})\b)?"
_OTHER_ZONES = (
    "EST|EDT|CST|CDT|MST|MDT|PST|PDT|AKST|AKDT|HST|CET|CEST|EET|EEST|WET|WEST|BST|IST|JST|KST|HKT|SGT|"
    "AEST|AEDT|ACST|AWST|NZST|NZDT|MSK|ET|PT|CT|MT"
)
# A time of day takes no numeric offset: in ``14:05-14:20`` the second time is not a zone.
_DAY_ZONE = rf"(?:\s?(?:(?P<zone>Z|UTC|GMT)|(?P<other>{_OTHER_ZONES}))\b)?"
_CLOCK = r"(?P<hh>[0-9]{1,2}):(?P<mm>[0-9]{2})(?::(?P<ss>[0-9]{2})(?:\.[0-9]+)?)?"
_ISO = re.compile(
    r"(?<![\w-])(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})"
    r"(?:[T ](?P<hh>[0-9]{2}):(?P<mm>[0-9]{2})(?::(?P<ss>[0-9]{2})(?:\.[0-9]+)?)?" + _ZONE + r")?(?![\w:])"
)
_TIME = re.compile(r"(?<![\w:.])T?" + _CLOCK + r"(?:\s?(?P<ampm>[AaPp])\.?[Mm]\.?)?" + _DAY_ZONE + r"(?![\w:])")
_HOUR_AMPM = re.compile(r"(?<![\w:.])(?P<hh>[0-9]{1,2})\s?(?P<ampm>[AaPp])\.?[Mm]\.?(?!\w)" + _DAY_ZONE)
_MILITARY = re.compile(r"(?<![\w:.])(?P<hh>[0-2][0-9])(?P<mm>[0-5][0-9])(?:(?P<zone>Z)|\s(?P<zone2>UTC))\b")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = r"(?P<mon>(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*)\.?"
_DAY = r"(?P<day>[0-9]{1,2})(?:st|nd|rd|th)?"
_MONTH_YEAR = re.compile(rf"\b{_MONTH}\s(?P<year>[0-9]{{4}})\b")
_QUARTER = re.compile(r"\b(?:Q(?P<q>[1-4])|H(?P<half>[12]))\s?(?P<year>[0-9]{4})\b")
_MONTH_DATE = re.compile(
    rf"\b(?:{_MONTH}\s{_DAY}|{_DAY.replace('day>', 'day2>')}\s{_MONTH.replace('mon>', 'mon2>')})"
    r"(?:,?\s(?P<year>[0-9]{4}))?\b"
)


def _zone_offset(zone: str | None) -> timezone:
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
    groups["zone"] = groups.get("zone") or groups.get("zone2")
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


def _month_year_spans(m: re.Match[str]) -> tuple[tuple[datetime, datetime], ...]:
    year, month = int(m["year"]), _MONTHS.index(m["mon"][:3].lower()) + 1
    first = datetime(year, month, 1, tzinfo=UTC)
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return ((first, following),)


def _quarter_spans(m: re.Match[str]) -> tuple[tuple[datetime, datetime], ...]:
    year = int(m["year"])
    months = 3 if m["q"] else 6
    first_month = (int(m["q"] or m["half"]) - 1) * months + 1
    last = first_month + months
    return (
        (
            datetime(year, first_month, 1, tzinfo=UTC),
            datetime(year + (last > 12), (last - 1) % 12 + 1, 1, tzinfo=UTC),
        ),
    )


def find_times(text: str, window: Window) -> list[TimeMention]:
    """Every date or time written in the text, with the instants it can denote."""
    found: list[TimeMention] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match[str], spans: tuple[tuple[datetime, datetime], ...]) -> None:
        if any(m.start() < hi and lo < m.end() for lo, hi in taken):
            return
        taken.append((m.start(), m.end()))
        groups = m.groupdict()
        problem = None
        if groups.get("other"):
            problem = f"is not in UTC: write times in UTC ({m['hh']}:{m['mm'] or '00'}Z) so they can be checked"
        elif not spans:
            problem = "is not a valid date or time"
        found.append(TimeMention(m.group(), m.start(), m.end(), spans, problem))

    for m in _ISO.finditer(text):
        add(m, _iso_spans(m))
    days = _days(window)
    for pattern in (_TIME, _HOUR_AMPM, _MILITARY):
        for m in pattern.finditer(text):
            add(m, _clock_spans(m, days))
    for m in _MONTH_DATE.finditer(text):
        add(m, _month_spans(m, window))
    for m in _MONTH_YEAR.finditer(text):
        add(m, _month_year_spans(m))
    for m in _QUARTER.finditer(text):
        add(m, _quarter_spans(m))
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
    return _BARE


def _is_part_of_word(text: str, start: int, end: int) -> bool:
    """``p99``, ``sev2``, ``l2-arb``, ``evt-0001190``, ``5xx``, ``0x1f``, ``1.2.3``."""
    before = text[start - 1] if start > 0 else " "
    if before.isalnum() or before == "_":
        return True
    if before in "-_":  # inc-20260302-0007 is an id; 3-5 is a range
        head = start - 1
        while head > 0 and (text[head - 1].isalnum() or text[head - 1] in "-_"):
            head -= 1
        if any(c.isalpha() for c in text[head:start]):
            return True
    after = text[end] if end < len(text) else " "
    if after.isalnum() or after == "_":
        return True
    return after == "." and end + 1 < len(text) and text[end + 1].isdigit()


_H = r"(?P<h>[0-9]+)\s?(?:h|hrs?|hours?)"
_M = r"(?P<m>[0-9]+)\s?(?:m|mins?|minutes?)"
_S = r"(?P<s>[0-9]+(?:\.[0-9]+)?)\s?(?:s|secs?|seconds?)"
_AND = r"(?:,?\s(?:and\s)?|)"
_COMPOUND = re.compile(rf"(?<![\w.])(?:{_H}{_AND})?(?:{_M}{_AND})?(?:{_S})?(?!\w)")


def _compound_durations(text: str) -> list[NumberMention]:
    """``2h 15m``, ``9m59s``, ``2 hours 2 minutes``: one duration, precise to its last part."""
    found = []
    for m in _COMPOUND.finditer(text):
        parts = [p for p in ("h", "m", "s") if m[p] is not None]
        if len(parts) < 2:
            continue
        seconds = int(m["h"] or 0) * 3600 + int(m["m"] or 0) * 60 + float(m["s"] or 0)
        if m["s"] is not None:
            value, decimals, factor = seconds, len(m["s"].partition(".")[2]), 1.0
        else:
            value, decimals, factor = seconds / 60, 0, 1 / 60
        found.append(NumberMention(m.group().rstrip(" ,"), m.start(), value, decimals, ((Unit.SECONDS, factor),)))
    return found


def _decimals(number: str) -> int:
    """Digits of precision after the point; negative for ``5e6`` (precise to millions)."""
    mantissa, _, exponent = number.lower().partition("e")
    return len(mantissa.partition(".")[2]) - int(exponent or 0)


def find_numbers(text: str) -> list[NumberMention]:
    """Every figure in the text (``text`` should already have times, links and ids masked)."""
    mentions = _compound_durations(text)
    text = mask(text, [(c.start, c.start + len(c.text)) for c in mentions])
    for m in _NUMBER.finditer(text):
        start = m.start("cur") if m["cur"] else m.start("num")
        end = m.end()
        while end > start and text[end - 1].isspace():
            end -= 1
        if not m["cur"] and _is_part_of_word(text, start, end):
            continue  # a money figure is never an id, whatever follows it
        digits = m["num"].replace(",", "")
        mentions.append(NumberMention(text[start:end], start, float(digits), _decimals(digits), _readings(m)))
    return sorted(mentions, key=lambda n: n.start)


def mask(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """Blank out spans (times, links, ids) so their digits are not read as figures."""
    chars = list(text)
    for lo, hi in spans:
        chars[lo:hi] = " " * (hi - lo)
    return "".join(chars)


def ungrounded_numbers(text: str, quantities: Iterable[Quantity]) -> list[NumberMention]:
    known = list(quantities)
    return [m for m in find_numbers(text) if not any(m.matches(q) for q in known)]
