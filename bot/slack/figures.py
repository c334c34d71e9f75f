"""Figures as people read them in a hurry: labels, not field names; units they use
(3.5%, $1.02M, 26 min, 48 bps); times marked UTC, with the date unless it is today."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from validators.facts import FACT_UNITS, Unit

LABELS: dict[str, str] = {
    "submitted": "Submitted",
    "finalized": "Finalized",
    "failed": "Failed",
    "failure_rate": "Failure rate",
    "pending": "Pending",
    "pending_notional_usd": "Pending notional",
    "failed_notional_usd": "Failed notional",
    "finality_p50_s": "Finality p50",
    "finality_p99_s": "Finality p99",
    "finality_max_s": "Finality max",
    "seq_gaps": "Sequence gaps",
    "seq_duplicates": "Duplicate seqs",
    "canary_runs": "Canary runs",
    "canary_failures": "Canary failures",
    "feed_divergence_bps_max": "Feed divergence",
    "reorgs": "Reorgs",
    "reorg_max_depth": "Reorg depth",
    "queue_depth_max": "Queue depth",
    "silence_s": "Silent for",
    "trust_score": "Trust score",
}
KEY_FACTS = ("failure_rate", "failed", "pending", "finality_p99_s", "seq_gaps", "canary_failures", "feed_divergence_bps_max")
"""The figures a lane's line shows, in the order people look for them."""


def label(fact: str) -> str:
    return LABELS.get(fact, fact.replace("_", " ").capitalize())


def _trim(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else number


def percent(ratio: float) -> str:
    pct = ratio * 100
    if pct == 0:
        return "0%"
    return _trim(f"{pct:.2f}" if abs(pct) < 1 else f"{pct:.1f}") + "%"


def money(usd: float) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(usd) >= scale:
            scaled = usd / scale
            digits = 2 if abs(scaled) < 10 else 1 if abs(scaled) < 100 else 0  # three significant figures
            return f"${_trim(f'{scaled:.{digits}f}')}{suffix}"
    return f"${usd:,.0f}"


def duration(seconds: float) -> str:
    if seconds < 10:
        return f"{_trim(f'{seconds:.1f}')} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{_trim(f'{seconds / 3600:.1f}')} h"
    return f"{_trim(f'{seconds / 86400:.1f}')} d"


def value(fact: str, number: float | None) -> str:
    """One fact's value with its unit: ``3.5%``, ``$1.02M``, ``26 min``, ``48 bps``, ``42``."""
    if number is None:
        return "n/a"
    unit = FACT_UNITS.get(fact, Unit.COUNT)
    if unit is Unit.RATIO:
        return percent(number)
    if unit is Unit.USD:
        return money(number)
    if unit is Unit.SECONDS:
        return duration(number)
    if unit is Unit.BPS:
        return f"{_trim(f'{number:.1f}')} bps"
    return f"{number:,.0f}"


def figure(fact: str, facts: Mapping[str, float | None]) -> str:
    """``Failure rate 3.5%``; pending reads ``Pending $1.02M in 45 settlements``."""
    if fact == "pending":
        count = int(facts.get("pending") or 0)
        noun = "settlement" if count == 1 else "settlements"
        return f"Pending {money(facts.get('pending_notional_usd') or 0.0)} in {count:,} {noun}"
    return f"{label(fact)} {value(fact, facts.get(fact))}"


def threshold(fact: str, met: float, limit: float) -> str:
    """``failure rate 1.2% ≥ 1%``: a threshold met, in a sentence."""
    return f"{label(fact).lower()} {value(fact, met)} ≥ {value(fact, limit)}"


def plural(count: int, noun: str, many: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


def when(at: datetime, now: datetime) -> str:
    """``14:35 UTC`` today; ``2 Mar 14:35 UTC`` another day (with the year another year)."""
    if at.date() == now.date():
        return f"{at:%H:%M} UTC"
    return f"{_day(at, now)} {at:%H:%M} UTC"


def span(start: datetime, end: datetime, now: datetime) -> str:
    """A window, the same way everywhere: ``14:05–14:35 UTC (30 min)``."""
    length = duration((end - start).total_seconds())
    if start.date() == end.date():
        day = "" if end.date() == now.date() else _day(end, now) + " "
        return f"{day}{start:%H:%M}–{end:%H:%M} UTC ({length})"
    return f"{_day(start, now)} {start:%H:%M} – {_day(end, now)} {end:%H:%M} UTC ({length})"


def _day(at: datetime, now: datetime) -> str:
    return f"{at.day} {at:%b}" + ("" if at.year == now.year else f" {at.year}")
