"""Times and dates in every form the contract names, read at the precision written.

``14:05Z`` denotes a minute, ``14:05:07Z`` a second, ``2026-03-02T14:05:07.123456Z`` a
microsecond, ``Mar 2`` a day, ``Q1 2026`` a quarter. Each form is one pattern with named
groups (parsed here) that the lexer also uses, unnamed, inside its one alternation. A time
of day with no zone is UTC; one in another named zone cannot be checked and says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from validators.facts import Window
from validators.tokens.patterns import anon

Span = tuple[datetime, datetime]
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Fixed:
    """A time that names its own date: an ISO date or date-time, a month, a quarter."""

    lo: datetime
    hi: datetime

    def spans(self, window: Window) -> tuple[Span, ...]:
        return ((self.lo, self.hi),)


@dataclass(frozen=True, slots=True)
class DayTime:
    """A time of day (``14:05Z``), which may fall on any day the window spans."""

    hour: int
    minute: int
    second: int
    microsecond: int
    step: timedelta

    def spans(self, window: Window) -> tuple[Span, ...]:
        first, last = window.start.date(), window.end.date()
        found = []
        for i in range((last - first).days + 1):
            day = first + timedelta(days=i)
            at = datetime(day.year, day.month, day.day, self.hour, self.minute, self.second, self.microsecond, UTC)
            found.append((at, at + self.step))
        return tuple(found)


@dataclass(frozen=True, slots=True)
class MonthDay:
    """A day of a month without a year (``Mar 2``): any year of the window."""

    month: int
    day: int

    def spans(self, window: Window) -> tuple[Span, ...]:
        found = []
        for year in range(window.start.year, window.end.year + 1):
            try:
                at = datetime(year, self.month, self.day, tzinfo=UTC)
            except ValueError:
                continue
            found.append((at, at + timedelta(days=1)))
        return tuple(found)


Moment = Fixed | DayTime | MonthDay


def inside(moment: Moment, window: Window) -> bool:
    """True when what the moment denotes, at its precision, overlaps ``[start, end)``.

    A time written to the second or coarser may also name the window's end itself (``as of
    14:30Z``, ``14:00-14:30Z``): that is the summary's "now". A time written below the
    second is an event's stamp, and an event at the end is outside.
    """
    for lo, hi in moment.spans(window):
        if lo < window.end and hi > window.start:
            return True
        if lo == window.end and hi - lo >= _SECOND:
            return True
    return False


class TimeError(ValueError):
    """A written time that cannot be placed: ``25:61``, ``Feb 30``, ``14:05 EST``."""


_OTHER_ZONES = (
    "EST|EDT|CST|CDT|MST|MDT|PST|PDT|AKST|AKDT|HST|CET|CEST|EET|EEST|WET|WEST|BST|IST|JST|KST|HKT|SGT|"
    "AEST|AEDT|ACST|AWST|NZST|NZDT|MSK|ET|PT|CT|MT"
)
_UTC = r"(?:Z|(?i:UTC|GMT)|\((?i:UTC|GMT)\))"
_ZONE = rf"(?:\s?(?:(?P<utc>{_UTC})|(?P<other>{_OTHER_ZONES}))(?![A-Za-z0-9]))?"
_END = r"(?![A-Za-z0-9])(?!:[0-9])(?!\.[0-9])"
_START = r"(?<![A-Za-z0-9:.])"
_WORD_START = r"(?<![A-Za-z0-9])"
"""Where a time may begin and end: not inside a word or a longer figure (``_14:05Z_`` is
Slack's italics; ``14:05Z:`` ends a clause)."""
_CLOCK = r"(?P<hh>[0-9]{1,2}):(?P<mm>[0-9]{2})(?::(?P<ss>[0-9]{2})(?P<frac>\.[0-9]{1,9})?)?"
_AMPM = r"(?:\s?(?P<ampm>[AaPp])(?:[Mm]|\.[Mm]\.)(?![A-Za-z]))"
_TIME = rf"{_START}T?{_CLOCK}{_AMPM}?{_ZONE}{_END}"
_RANGE_SEP = r"(?:\s?[-–—~]\s?|\s(?:to|until|till|through|and)\s)"
_MONTH_NAMES = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
)
_MONTH = rf"(?P<mon>{_MONTH_NAMES})\.?"
_DAY = r"(?P<day>[0-9]{1,2})(?:st|nd|rd|th)?(?![0-9])(?!:[0-9])"

_SECONDS = r"(?P<ss>[0-9]{2})(?P<frac>\.[0-9]{1,9})?"
_HH_MM = r"(?P<hh>[0-9]{2}):(?P<mm>[0-9]{2})"
_ISO_CLOCK = rf"{_HH_MM}(?::{_SECONDS})?"
_DATE = r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})"
_OFFSET = r"[+-][0-9]{2}:?[0-9]{2}"
"""A numeric offset, only where it cannot be a range's end: after ``T``, or after seconds."""

FORMS: dict[str, str] = {
    "range": anon(rf"{_START}T?{_CLOCK}{_AMPM}?{_ZONE}{_RANGE_SEP}{_TIME}"),
    "iso_space": rf"(?<![A-Za-z0-9-]){_DATE}\s{_HH_MM}(?::{_SECONDS}(?P<offset>{_OFFSET})?)?{_ZONE}{_END}",
    "iso": rf"(?<![A-Za-z0-9-]){_DATE}(?:T{_ISO_CLOCK}(?P<offset>Z|{_OFFSET}|\s?(?i:UTC|GMT))?)?{_END}",
    "clock": _TIME,
    "hour_ampm": rf"{_START}(?P<hh>[0-9]{{1,2}}){_AMPM}{_ZONE}{_END}",
    "military": rf"{_START}(?P<hh>[0-2][0-9])(?P<mm>[0-5][0-9])\s?(?P<utc>Z|(?i:UTC)){_END}",
    "month_date": (
        rf"{_WORD_START}(?:{_MONTH}\s{_DAY}|{_DAY.replace('day>', 'day2>')}\s{_MONTH.replace('mon>', 'mon2>')})"
        r"(?:,?\s(?P<year>[0-9]{4}))?(?![A-Za-z0-9])"
    ),
    "month_year": rf"{_WORD_START}{_MONTH}\s(?P<year>[0-9]{{4}}){_END}",
    "quarter": rf"{_WORD_START}(?:Q(?P<q>[1-4])|H(?P<half>[12]))\s?(?P<year>[0-9]{{4}}){_END}",
}
"""Each form of a written time, in the order they are tried at one place (a range before the
time it starts with)."""
_NAMED = {kind: re.compile(pattern) for kind, pattern in FORMS.items() if kind != "range"}
_SEPARATOR = re.compile(_RANGE_SEP)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def parse_time(kind: str, text: str) -> tuple[Moment, ...]:
    """The moments ``text`` (matched by the form ``kind``) denotes; ``TimeError`` if none."""
    if kind == "range":
        return _range(text)
    m = _NAMED[kind].fullmatch(text)
    if m is None:  # the lexer matched it with the same pattern
        raise AssertionError(f"{kind} does not match {text!r}")
    if kind in ("iso", "iso_space"):
        return (_iso(m),)
    if kind in ("clock", "hour_ampm", "military"):
        return (_day_time(m),)
    if kind == "month_date":
        return (_month_date(m),)
    if kind == "month_year":
        year, month = int(m["year"]), _month(m["mon"])
        return (Fixed(datetime(year, month, 1, tzinfo=UTC), _add_months(year, month, 1)),)
    year, months = int(m["year"]), 3 if m["q"] else 6
    first = (int(m["q"] or m["half"]) - 1) * months + 1
    return (Fixed(datetime(year, first, 1, tzinfo=UTC), _add_months(year, first, months)),)


def _range(text: str) -> tuple[Moment, ...]:
    """``14:04-14:19Z``: both ends, the zone written once at the end applying to both."""
    first_text, second_text = _split_range(text)
    second = _NAMED["clock"].fullmatch(second_text)
    first = _NAMED["clock"].fullmatch(first_text)
    if first is None or second is None:
        raise AssertionError(f"range {text!r} does not split into two times")
    shared = None if first["utc"] or first["other"] else second
    return _day_time(first, shared), _day_time(second)


def _split_range(text: str) -> tuple[str, str]:
    for sep in _SEPARATOR.finditer(text):
        head, tail = text[: sep.start()], text[sep.end() :]
        if _NAMED["clock"].fullmatch(head) and _NAMED["clock"].fullmatch(tail):
            return head, tail
    raise AssertionError(f"range {text!r} does not split into two times")


def _precision(m: re.Match[str]) -> tuple[int, int, timedelta]:
    """Seconds, microseconds and the step the written digits give."""
    if m["ss"] is None:
        return 0, 0, timedelta(minutes=1)
    fraction = (m["frac"] or ".")[1:]
    if not fraction:
        return int(m["ss"]), 0, _SECOND
    digits = min(len(fraction), 6)
    return int(m["ss"]), int(fraction[:6].ljust(6, "0")), timedelta(microseconds=10 ** (6 - digits))


def _day_time(m: re.Match[str], zone_from: re.Match[str] | None = None) -> DayTime:
    groups = m.groupdict()
    other = (zone_from or m).groupdict().get("other")
    if other:
        raise TimeError(f"is not in UTC: write times in UTC ({m['hh']}:{groups.get('mm') or '00'}Z) so they can be checked")
    hour, minute = int(m["hh"]), int(groups.get("mm") or 0)
    if groups.get("ampm"):
        if not 1 <= hour <= 12:
            raise TimeError("is not a valid time")
        hour = hour % 12 + (12 if m["ampm"].lower() == "p" else 0)
    if "ss" in groups:
        second, micro, step = _precision(m)
    else:
        second, micro, step = 0, 0, timedelta(minutes=1) if groups.get("mm") else timedelta(hours=1)
    if hour > 23 or minute > 59 or second > 59:
        raise TimeError("is not a valid time")
    return DayTime(hour, minute, second, micro, step)


def _iso(m: re.Match[str]) -> Fixed:
    if m.groupdict().get("other"):
        raise TimeError(f"is not in UTC: write times in UTC ({m['hh']}:{m['mm']}Z) so they can be checked")
    try:
        day = date(int(m["y"]), int(m["mo"]), int(m["d"]))
    except ValueError:
        raise TimeError("is not a valid date") from None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if m["hh"] is None:
        return Fixed(start, start + timedelta(days=1))
    hour, minute = int(m["hh"]), int(m["mm"])
    second, micro, step = _precision(m)
    if hour > 23 or minute > 59 or second > 59:
        raise TimeError("is not a valid time")
    at = start.replace(hour=hour, minute=minute, second=second, microsecond=micro) - _offset(m["offset"])
    return Fixed(at, at + step)


def _offset(zone: str | None) -> timedelta:
    if zone is None or zone[0] not in "+-":
        return timedelta(0)
    digits = zone[1:].replace(":", "")
    sign = -1 if zone[0] == "-" else 1
    return sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))


def _month_date(m: re.Match[str]) -> Moment:
    month, day = _month(m["mon"] or m["mon2"]), int(m["day"] or m["day2"])
    if m["year"]:
        try:
            at = datetime(int(m["year"]), month, day, tzinfo=UTC)
        except ValueError:
            raise TimeError("is not a valid date") from None
        return Fixed(at, at + timedelta(days=1))
    try:
        datetime(2028, month, day)  # a leap year: Feb 29 exists in some year
    except ValueError:
        raise TimeError("is not a valid date") from None
    return MonthDay(month, day)


def _month(name: str) -> int:
    return _MONTHS.index(name[:3].lower()) + 1


def _add_months(year: int, month: int, months: int) -> datetime:
    index = year * 12 + month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
