"""Lanes silenced from Slack (``/lane silence LANE DURATION REASON``).

A silence mutes new incidents on its lane: the alerts are still stored, filed into an
incident already open, and counted on the silence; only a new incident (a card in the
channel) is held back. It ends by itself at ``ends_at``, or when someone ends it. Rows are
never deleted: who silenced which lane, why, and who ended it is the audit trail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, insert, select, text, update

from bot.clock import Clock
from bot.store.engine import reading
from bot.store.tables import lane_silences

log = logging.getLogger(__name__)
MAX_SILENCE = timedelta(days=7)
"""Longer, and the lane would be forgotten: a week is renewed on purpose or not at all."""
REASON_MAX = 500


class SilenceError(ValueError):
    """A silence that cannot be set or ended; the message says why."""


@dataclass(frozen=True, slots=True)
class Silence:
    silence_id: int
    lane: str
    starts_at: datetime
    ends_at: datetime
    created_by: str
    reason: str
    alerts_muted: int
    ended_at: datetime | None = None
    ended_by: str | None = None


def _of(row: Any) -> Silence:
    return Silence(
        row.silence_id,
        row.lane,
        row.starts_at,
        row.ends_at,
        row.created_by,
        row.reason,
        row.alerts_muted,
        row.ended_at,
        row.ended_by,
    )


def _live(now: datetime) -> ColumnElement[bool]:
    return (lane_silences.c.ends_at > now) & lane_silences.c.ended_at.is_(None)


def muting(conn: Connection, lane: str | None, now: datetime) -> int | None:
    """The id of the silence muting ``lane`` at ``now`` (the latest to end), or None."""
    if not lane:
        return None
    query = select(lane_silences.c.silence_id).where(lane_silences.c.lane == lane, _live(now))
    found = conn.scalar(query.order_by(lane_silences.c.ends_at.desc()).limit(1))
    return None if found is None else int(found)


def silenced_lanes(conn: Connection, now: datetime) -> set[str]:
    return set(conn.scalars(select(lane_silences.c.lane).where(_live(now))))


def count_muted(conn: Connection, silence_id: int) -> None:
    conn.execute(
        update(lane_silences)
        .where(lane_silences.c.silence_id == silence_id)
        .values(alerts_muted=lane_silences.c.alerts_muted + 1)
    )


@dataclass(frozen=True, slots=True)
class Silences:
    engine: Engine
    clock: Clock

    def silence(self, lane: str, duration: timedelta, reason: str, user_id: str) -> Silence:
        """A new silence; one already on the lane ends (replaced), so a lane has one at a time."""
        if not timedelta(minutes=1) <= duration <= MAX_SILENCE:
            raise SilenceError("a silence lasts from 1m to 168h (a week)")
        if not reason.strip():
            raise SilenceError("a silence needs a reason, for the people who wonder why the lane is quiet")
        now = self.clock()
        with self.engine.begin() as conn:
            _one_at_a_time(conn, lane)
            replaced = conn.execute(
                update(lane_silences).where(lane_silences.c.lane == lane, _live(now)).values(ended_at=now, ended_by=user_id)
            ).rowcount
            values = {"lane": lane, "starts_at": now, "ends_at": now + duration, "created_by": user_id}
            silence_id = conn.execute(
                insert(lane_silences).values(**values, reason=reason.strip()[:REASON_MAX]).returning(lane_silences.c.silence_id)
            ).scalar_one()
        log.info("lane %s silenced until %s by %s (replacing %d): %s", lane, values["ends_at"], user_id, replaced, reason)
        return self.get(int(silence_id))

    def unsilence(self, lane: str, user_id: str) -> Silence:
        now = self.clock()
        with self.engine.begin() as conn:
            _one_at_a_time(conn, lane)
            found = muting(conn, lane, now)
            if found is None:
                raise SilenceError(f"{lane} is not silenced")
            live = (lane_silences.c.lane == lane, _live(now))  # every live one: the lane is heard again, whatever raced
            conn.execute(update(lane_silences).where(*live).values(ended_at=now, ended_by=user_id))
        log.info("lane %s unsilenced by %s", lane, user_id)
        return self.get(found)

    def get(self, silence_id: int) -> Silence:
        with reading(self.engine) as conn:
            return _of(conn.execute(select(lane_silences).where(lane_silences.c.silence_id == silence_id)).one())

    def active(self) -> dict[str, Silence]:
        """Each silenced lane's silence now (an expired one is simply no longer here)."""
        now = self.clock()
        with reading(self.engine) as conn:
            rows = conn.execute(select(lane_silences).where(_live(now)).order_by(lane_silences.c.ends_at)).all()
        return {row.lane: _of(row) for row in rows}

    def history(self, lane: str | None = None, limit: int = 50) -> list[Silence]:
        """The audit trail, newest first."""
        query = select(lane_silences).order_by(lane_silences.c.silence_id.desc()).limit(limit)
        if lane is not None:
            query = query.where(lane_silences.c.lane == lane)
        with reading(self.engine) as conn:
            return [_of(row) for row in conn.execute(query).all()]


def _one_at_a_time(conn: Connection, lane: str) -> None:
    """Silencing and unsilencing a lane take turns: two at once under PostgreSQL's READ
    COMMITTED each ended what they saw and inserted their own, leaving two live silences
    (SQLite's BEGIN IMMEDIATE already serialises writers)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"lanekeeper.silence:{lane}"})
