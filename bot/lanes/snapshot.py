"""Lane status persisted for readers in other processes (``lanekeeper lanes``, replicas
that do not ingest). The server writes the live status after each ingest (at most once a
second); a reader gets one row per lane, never a scan of events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from bot.lanes.live import LaneStatus
from bot.store.engine import reading
from bot.store.tables import lane_status
from validators.facts import LaneFacts, Window
from validators.policy import Policy
from validators.rules import stamp


def save(engine: Engine, statuses: Iterable[LaneStatus], now: datetime) -> None:
    rows = [
        {
            "lane": s.lane,
            "watermark": s.watermark,
            "window_start": s.window.start,
            "window_end": s.window.end,
            "events_in_window": s.events_in_window,
            "facts": s.facts.as_dict(),
            "updated_at": now,
        }
        for s in statuses
    ]
    if not rows:
        return
    with engine.begin() as conn:
        conn.execute(delete(lane_status).where(lane_status.c.lane.in_([r["lane"] for r in rows])))
        conn.execute(insert(lane_status), rows)


@dataclass(frozen=True, slots=True)
class StoredStatus:
    status: LaneStatus
    updated_at: datetime


def load(engine: Engine) -> list[StoredStatus]:
    with reading(engine) as conn:
        rows = conn.execute(select(lane_status).order_by(lane_status.c.lane)).mappings().all()
    return [
        StoredStatus(
            LaneStatus(
                lane=r["lane"],
                watermark=r["watermark"],
                window=Window(r["window_start"], r["window_end"]),
                facts=LaneFacts(**r["facts"]),
                events_in_window=r["events_in_window"],
            ),
            r["updated_at"],
        )
        for r in rows
    ]


def describe(status: LaneStatus, policy: Policy) -> dict[str, Any]:
    """One lane for people and machines: health by the policy's ``healthy`` rule, the
    severity level its facts alone would reach, and every fact."""
    breaches = policy.unhealthy_because(status.lane, status.facts)
    severity, _ = policy.severity_of([(status.lane, status.facts)])
    return {
        "lane": status.lane,
        "known": status.lane in policy.lanes,
        "healthy": not breaches,
        "unhealthy_because": [str(b) for b in breaches],
        "severity": severity,
        "watermark": stamp(status.watermark),
        "window": {"start": stamp(status.window.start), "end": stamp(status.window.end)},
        "events_in_window": status.events_in_window,
        "facts": status.facts.as_dict(),
    }
