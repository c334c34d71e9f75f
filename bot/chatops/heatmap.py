"""``/lane heatmap``: settlement latency over time per lane and hop, as a PNG.

Rows are a lane's two hops — L2 (submitted to confirmed) and L1 (confirmed to finalized) —
and columns are time buckets over the window; a cell's colour is the median latency of the
hop for settlements that finished it in that bucket (log scale, green fast to red slow,
grey when none did). People read a stall in a picture faster than in a table.
"""

from __future__ import annotations

import io
import math
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from PIL import Image, ImageDraw, ImageFont

from bot.config import parse_duration
from bot.lanes.window import LaneStatus
from bot.slack.blocks import escape, plain_text, quoted
from bot.store.events import EventStore
from validators.events import Event, SettlementConfirmed, SettlementFinalized, SettlementSubmitted, kind_of

COLUMNS = 60
CELL_W, CELL_H, LABEL_W, HEADER_H, FOOTER_H = 12, 22, 150, 28, 22
MAX_WINDOW = timedelta(hours=24)
HOPS = (("L2", "submitted to confirmed"), ("L1", "confirmed to finalized"))
_KINDS = [kind_of(SettlementSubmitted), kind_of(SettlementConfirmed), kind_of(SettlementFinalized)]


class HeatmapError(ValueError):
    """Bad arguments or nothing to draw; the message says which."""


@dataclass(frozen=True, slots=True)
class Grid:
    lanes: list[str]
    start: datetime
    end: datetime
    cells: dict[tuple[str, int, int], float]  # (lane, hop, column) -> median seconds


def parse_args(words: list[str], known: list[str]) -> tuple[list[str], timedelta]:
    lanes, window = known, timedelta(hours=1)
    for word in words:
        if word in known:
            lanes = [word]
        else:
            try:
                window = parse_duration(word)
            except ValueError:
                raise HeatmapError(
                    f"{quoted(word)} is neither a lane with events ({escape(', '.join(known))}) nor a window like 30m or 2h."
                ) from None
    if not timedelta(minutes=1) <= window <= MAX_WINDOW:
        raise HeatmapError("The window must be between 1m and 24h.")
    return lanes, window


@dataclass(frozen=True, slots=True)
class Buckets:
    start: datetime
    width: timedelta

    def add(self, samples: defaultdict[tuple[str, int, int], list[float]], ev: Event, hop: int, seconds: float) -> None:
        column = int((ev.ts - self.start) / self.width)
        if 0 <= column < COLUMNS:
            samples[(ev.lane, hop, column)].append(seconds)


def build_grid(events: list[Event], lanes: list[str], start: datetime, end: datetime) -> Grid:
    bucket = Buckets(start, (end - start) / COLUMNS)
    submitted: dict[str, datetime] = {}
    confirmed: dict[str, datetime] = {}
    samples: defaultdict[tuple[str, int, int], list[float]] = defaultdict(list)
    for ev in sorted(events, key=lambda e: e.ts):
        kind = type(ev)
        sid = getattr(ev, "settlement_id", "")
        if kind is SettlementSubmitted:
            submitted.setdefault(sid, ev.ts)
        elif kind is SettlementConfirmed and sid in submitted and sid not in confirmed:
            confirmed[sid] = ev.ts
            bucket.add(samples, ev, 0, (ev.ts - submitted[sid]).total_seconds())
        elif kind is SettlementFinalized and sid in confirmed:
            bucket.add(samples, ev, 1, (ev.ts - confirmed[sid]).total_seconds())
    cells = {key: statistics.median(values) for key, values in samples.items()}
    return Grid(lanes, start, end, cells)


def _colour(seconds: float, low: float, high: float) -> tuple[int, int, int]:
    """Green (fast) through yellow to red (slow), on a log scale between ``low`` and ``high``."""
    span = math.log(high) - math.log(low) if high > low else 1.0
    x = min(1.0, max(0.0, (math.log(max(seconds, low)) - math.log(low)) / span))
    return (int(255 * min(1.0, 2 * x)), int(255 * min(1.0, 2 * (1 - x))), 40)


def render(grid: Grid) -> bytes:
    rows = [(lane, hop) for lane in grid.lanes for hop in range(len(HOPS))]
    width, height = LABEL_W + COLUMNS * CELL_W + 10, HEADER_H + len(rows) * CELL_H + FOOTER_H
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    values = [v for v in grid.cells.values() if v > 0]
    low, high = (min(values), max(values)) if values else (1.0, 1.0)
    draw.text(
        (8, 8), f"settlement latency by hop, {grid.start:%H:%M}-{grid.end:%H:%M} UTC (median per bucket)", fill="black", font=font
    )
    for r, (lane, hop) in enumerate(rows):
        y = HEADER_H + r * CELL_H
        draw.text((8, y + 5), f"{lane} {HOPS[hop][0]}", fill="black", font=font)
        for column in range(COLUMNS):
            value = grid.cells.get((lane, hop, column))
            fill = (225, 225, 225) if value is None else _colour(value, low, high)
            x = LABEL_W + column * CELL_W
            draw.rectangle((x, y + 1, x + CELL_W - 2, y + CELL_H - 2), fill=fill)
    draw.text((8, height - FOOTER_H + 5), f"green {low:.1f}s  ->  red {high:.1f}s   grey: none", fill="black", font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def size_of(lanes: int) -> tuple[int, int]:
    """The PNG's pixel size for ``lanes`` lanes (what tests check the upload against)."""
    return LABEL_W + COLUMNS * CELL_W + 10, HEADER_H + lanes * len(HOPS) * CELL_H + FOOTER_H


@dataclass(frozen=True, slots=True)
class Picture:
    png: bytes
    title: str


def draw(statuses: Mapping[str, LaneStatus], events: EventStore, words: list[str]) -> Picture:
    """The heatmap ``/lane heatmap WORDS`` asks for; ``HeatmapError`` saying why not."""
    if not statuses:
        raise HeatmapError("No settlement events seen yet: nothing to draw.")
    lanes, window = parse_args(words, sorted(statuses))
    end = max(statuses[lane].watermark for lane in lanes)
    start = end - window
    found = events.between(start - timedelta(hours=1), end + timedelta(microseconds=1), lanes=lanes, kinds=_KINDS)
    png = render(build_grid(found, lanes, start, end))
    return Picture(png, plain_text(f"Settlement latency, {', '.join(lanes)}, {start:%H:%M}-{end:%H:%M} UTC"))
