"""The heatmap as a PNG: a row per lane and hop, a failures row per lane, a UTC time axis and
a legend.

Colours are FIXED steps in seconds (and in failures per bucket), never scaled to the
picture: a cell the colour of "1-5m" is a median between one and five minutes in every
heatmap anyone posts, so two pictures can be compared at a glance. ``render`` also returns
where it drew things (``Layout``), so tests read colours at known points.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from PIL import Image, ImageDraw, ImageFont

from bot.chatops.heatmap.figures import COLUMNS, ROW_NAMES, ROWS, Figures, Row, seconds, window_text

RGB = tuple[int, int, int]
Font = ImageFont.ImageFont | ImageFont.FreeTypeFont
EMPTY: RGB = (230, 230, 230)
INK: RGB = (30, 30, 30)
MARGIN, TITLE_H, LABEL_W, LANE_W = 8, 30, 230, 96
CELL_W, CELL_H, LANE_GAP = 12, 18, 8
AXIS_H, LEGEND_ROW_H, SWATCH, RIGHT = 36, 22, 14, 44
TICK_STEPS = [timedelta(seconds=s) for s in (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)]
MAX_TICKS = 8


@dataclass(frozen=True, slots=True)
class Step:
    below: float
    label: str
    colour: RGB


@dataclass(frozen=True, slots=True)
class Scale:
    name: str
    steps: tuple[Step, ...]

    def colour(self, value: float) -> RGB:
        return next(s.colour for s in self.steps if value < s.below)


LATENCY = Scale(
    "latency (median)",
    (
        Step(1, "<1s", (26, 152, 80)),
        Step(10, "1-10s", (102, 189, 99)),
        Step(30, "10-30s", (166, 217, 106)),
        Step(60, "30s-1m", (217, 239, 139)),
        Step(300, "1-5m", (254, 224, 139)),
        Step(900, "5-15m", (253, 174, 97)),
        Step(1800, "15-30m", (244, 109, 67)),
        Step(math.inf, "30m+", (215, 48, 39)),
    ),
)
FAILED = Scale(
    "failed per bucket",
    (
        Step(2, "1", (188, 189, 220)),
        Step(5, "2-4", (158, 154, 200)),
        Step(20, "5-19", (117, 107, 177)),
        Step(math.inf, "20+", (84, 39, 143)),
    ),
)


@dataclass(frozen=True, slots=True)
class Tick:
    x: int
    at: datetime
    label: str
    day: str | None
    """The date under the tick: the first one, and the first of each new day, when dated."""


@dataclass(frozen=True, slots=True)
class Layout:
    size: tuple[int, int]
    lanes: list[str]
    axis_y: int
    ticks: list[Tick]
    legend: dict[tuple[str, str], tuple[int, int]]
    """(scale name, step label) -> a point inside its swatch; ``none`` for no data."""

    def cell(self, lane: str, row: Row, column: int) -> tuple[int, int]:
        """A point inside the cell of ``lane``'s ``row`` at ``column``."""
        y = _row_top(self.lanes.index(lane), ROWS.index(row))
        return LABEL_W + column * CELL_W + CELL_W // 2 - 1, y + CELL_H // 2


def _row_top(lane: int, row: int) -> int:
    return TITLE_H + lane * (len(ROWS) * CELL_H + LANE_GAP) + row * CELL_H


def size_of(lanes: int) -> tuple[int, int]:
    """The PNG's pixel size for ``lanes`` lanes."""
    return LABEL_W + COLUMNS * CELL_W + RIGHT, _row_top(lanes, 0) - LANE_GAP + AXIS_H + 2 * LEGEND_ROW_H + MARGIN


def ticks(start: datetime, end: datetime, dated: bool) -> list[Tick]:
    """Round UTC times across the window, at most ``MAX_TICKS`` of them."""
    span = end - start
    step = next((s for s in TICK_STEPS if span / s <= MAX_TICKS), TICK_STEPS[-1])
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    at = midnight + math.ceil((start - midnight) / step) * step
    found: list[Tick] = []
    while at <= end:
        x = LABEL_W + round((at - start) / span * COLUMNS * CELL_W)
        new_day = not found or found[-1].at.date() != at.date()
        label = f"{at:%H:%M:%S}" if step < timedelta(minutes=1) else f"{at:%H:%M}"
        found.append(Tick(x, at, label, f"{at:%Y-%m-%d}" if dated and new_day else None))
        at += step
    return found


def render(figures: Figures, today: date) -> tuple[bytes, Layout]:
    width, height = size_of(len(figures.lanes))
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    bucket = seconds(figures.bucket.total_seconds())
    title = f"Settlement latency and failures per {bucket} bucket, {window_text(figures.start, figures.end, today)}"
    draw.text((MARGIN, 9), title, fill=INK, font=font)
    for i, lane in enumerate(figures.lanes):
        draw.text((MARGIN, _row_top(i, 0) + 4), _fit(draw, font, lane, LANE_W - 8), fill=INK, font=font)
        for r, row in enumerate(ROWS):
            y = _row_top(i, r)
            draw.text((MARGIN + LANE_W, y + 4), ROW_NAMES[row], fill=INK, font=font)
            for column in range(figures.columns):
                x = LABEL_W + column * CELL_W
                draw.rectangle((x, y + 1, x + CELL_W - 2, y + CELL_H - 2), fill=_fill(figures, lane, row, column))
    axis_y = _row_top(len(figures.lanes), 0) - LANE_GAP + 4
    dated = not figures.start.date() == figures.end.date() == today
    found = ticks(figures.start, figures.end, dated)
    _axis(draw, font, axis_y, found, width)
    legend = _legend(draw, font, axis_y + AXIS_H, bucket)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue(), Layout((width, height), figures.lanes, axis_y, found, legend)


def _fill(figures: Figures, lane: str, row: Row, column: int) -> RGB:
    if row == "failed":
        count = figures.failed.get((lane, column), 0)
        return FAILED.colour(count) if count else EMPTY
    median = figures.median(lane, row, column)
    return EMPTY if median is None else LATENCY.colour(median)


def _axis(draw: ImageDraw.ImageDraw, font: Font, y: int, found: list[Tick], width: int) -> None:
    draw.line((LABEL_W, y, LABEL_W + COLUMNS * CELL_W - 2, y), fill=INK)
    draw.text((MARGIN + LANE_W, y + 6), "time (UTC)", fill=INK, font=font)
    for tick in found:
        draw.line((tick.x, y, tick.x, y + 4), fill=INK)
        for text, dy in ((tick.label, 6), (tick.day, 19)):
            if text is not None:
                half = draw.textlength(text, font=font) / 2
                draw.text((min(max(tick.x - half, LABEL_W), width - 2 * half - 2), y + dy), text, fill=INK, font=font)


def _legend(draw: ImageDraw.ImageDraw, font: Font, top: int, bucket: str) -> dict[tuple[str, str], tuple[int, int]]:
    points: dict[tuple[str, str], tuple[int, int]] = {}
    latency = [(s.label, s.colour) for s in LATENCY.steps] + [("none", EMPTY)]
    failed = [(s.label, s.colour) for s in FAILED.steps]
    for n, (scale, caption, swatches) in enumerate(((LATENCY, LATENCY.name, latency), (FAILED, f"failed per {bucket}", failed))):
        y = top + n * LEGEND_ROW_H
        draw.text((MARGIN, y + 2), caption, fill=INK, font=font)
        x = float(LABEL_W)
        for label, colour in swatches:
            draw.rectangle((x, y, x + SWATCH, y + SWATCH), fill=colour, outline=(150, 150, 150))
            points[(scale.name, label)] = (int(x) + SWATCH // 2, y + SWATCH // 2)
            draw.text((x + SWATCH + 4, y + 2), label, fill=INK, font=font)
            x += SWATCH + 16 + draw.textlength(label, font=font)
    return points


def _fit(draw: ImageDraw.ImageDraw, font: Font, text: str, width: int) -> str:
    """``text``, cut to ``width`` pixels (a lane id may be 200 characters). ASCII dots: the
    bitmap font older Pillows fall back to has no ellipsis."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."
