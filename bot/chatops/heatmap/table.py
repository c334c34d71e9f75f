"""The heatmap's figures as text, for when the picture cannot be posted: per lane, each hop's
median/p99 latency and the failed settlements over a few spans of the window, as a code
block that fits one Slack section.

The spans are as many as fit (six, then fewer); when even one span per lane is too long,
the last lanes are left out and the table says how many.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from bot.chatops.heatmap.figures import ROW_NAMES, ROWS, Figures, seconds, window_text

SPANS = (6, 4, 3, 2, 1)
LANE_CHARS = 32


def table(figures: Figures, today: date, fits: Callable[[str], bool]) -> str:
    """The most detailed table of ``figures`` that ``fits``."""
    for spans in SPANS:
        text = _table(figures, today, spans, figures.lanes)
        if fits(text):
            return text
    lanes = figures.lanes[:-1]
    while lanes and not fits(text := _table(figures, today, 1, lanes)):
        lanes = lanes[:-1]
    return text if lanes else _table(figures, today, 1, [])


def _table(figures: Figures, today: date, spans: int, lanes: list[str]) -> str:
    width = figures.columns // spans
    parts = [range(i * width, (i + 1) * width if i < spans - 1 else figures.columns) for i in range(spans)]
    fine = figures.bucket * width < timedelta(minutes=1)
    heads = [f"{figures.start + figures.bucket * part.start:{'%H:%M:%S' if fine else '%H:%M'}}" for part in parts]
    rows = [["", *(f"from {h}" for h in heads)]]
    for lane in lanes:
        name = lane if len(lane) <= LANE_CHARS else lane[: LANE_CHARS - 3] + "..."
        for row in ROWS:
            if row == "failed":
                cells = [str(figures.failures(lane, part)) for part in parts]
            else:
                cells = [_spread(figures.spread(lane, row, part)) for part in parts]
            rows.append([f"{name} {row}", *cells])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    left_out = len(figures.lanes) - len(lanes)
    return "\n".join(
        [
            f"Settlement latency and failures, {window_text(figures.start, figures.end, today)}",
            f"latency median/p99 ({ROW_NAMES['L2']}, {ROW_NAMES['L1']}); failed settlements",
            *lines,
            *([f"{left_out} more lane(s) left out: ask for one with /lane heatmap LANE"] if left_out else []),
        ]
    )


def _spread(found: tuple[float, float] | None) -> str:
    return "-" if found is None else f"{seconds(found[0])}/{seconds(found[1])}"
