"""Settlement events in the store: insert exactly once, read back by lane and time.

A batch is first written straight into ``events`` (SQLite ``executemany``, PostgreSQL
``COPY``) inside a savepoint: in the steady state every event is new and that is the whole
cost. If any id is already stored (a sender's retry), the savepoint is rolled back and the
batch staged in a temporary table, then moved with one ``INSERT … SELECT … ON CONFLICT DO
NOTHING RETURNING``: that statement is what makes re-delivery safe under concurrent
senders, and its RETURNING tells the caller which events are new, so live lane status
counts each once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import msgspec
from psycopg.errors import UniqueViolation
from sqlalchemy import Connection, Engine, Select, and_, exists, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from bot.store.engine import reading
from bot.store.tables import TERMINAL, events
from validators.events import TS_END, TS_MIN, Event, SettlementSubmitted, kind_of
from validators.ndjson import parse_events

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_COLUMNS = ("event_id", "lane", "ts_us", "seq", "kind", "settlement_id", "body")
_STAGE = "events_stage"
Row = tuple[str, str, int, int, str, str | None, str]


def to_us(ts: datetime) -> int:
    """Exact integer microseconds (a float timestamp would round some of them)."""
    return (ts - EPOCH) // _US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


class EventStore:
    """Events in and out; callers hold no SQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._encode = msgspec.json.Encoder().encode
        self._postgres = engine.dialect.name == "postgresql"

    def _rows(self, batch: Sequence[Event]) -> list[Row]:
        encode = self._encode
        return [
            (
                ev.event_id,
                ev.lane,
                (ev.ts - EPOCH) // _US,
                ev.seq,
                ev.kind,
                getattr(ev, "settlement_id", None),
                encode(ev).decode(),
            )
            for ev in batch
        ]

    def insert(self, batch: Sequence[Event]) -> list[Event]:
        """Store the events of ``batch`` not stored yet, in one transaction; returns those,
        in ``batch`` order. The caller acknowledges only after this returns."""
        if not batch:
            return []
        rows = self._rows(batch)
        with self.engine.begin() as conn:
            try:
                with conn.begin_nested():
                    self._write(conn, "events", rows)
                return list(batch)
            except (IntegrityError, UniqueViolation):
                pass  # a re-delivery (or an id twice in the batch): sort out what is new
            if self._postgres:
                conn.exec_driver_sql(
                    f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                )
            else:
                conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} AS SELECT * FROM events WHERE 0")
            self._write(conn, _STAGE, rows)
            insert = postgresql.insert(events) if self._postgres else sqlite.insert(events)
            moved = insert.from_select(_COLUMNS, select(text("*")).select_from(text(_STAGE)).where(text("true")))
            returning = moved.on_conflict_do_nothing(index_elements=["event_id"]).returning(events.c.event_id)
            new = set(conn.scalars(returning).all())  # one fetch, not a Python call per row
            if not self._postgres:  # PostgreSQL empties it at commit
                conn.exec_driver_sql(f"DELETE FROM {_STAGE}")
        fresh: list[Event] = []
        for ev in batch:  # a batch may repeat an id (two NATS messages): the first copy is the new one
            if ev.event_id in new:
                new.discard(ev.event_id)
                fresh.append(ev)
        return fresh

    def _write(self, conn: Connection, table: str, rows: list[Row]) -> None:
        """Plain inserts of ``rows`` into ``table`` (PostgreSQL: ``COPY``)."""
        if self._postgres:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY {table} ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def count(self) -> int:
        with reading(self.engine) as conn:
            return int(conn.scalar(select(func.count()).select_from(events)) or 0)

    def watermarks(self) -> dict[str, datetime]:
        """The newest event time per lane, among times within the contract's bounds (a store
        written before the bounds may hold a year 9999 or 0001, which no window can reach)."""
        query = (
            select(events.c.lane, func.max(events.c.ts_us))
            .where(events.c.ts_us >= to_us(TS_MIN), events.c.ts_us < to_us(TS_END))
            .group_by(events.c.lane)
        )
        with reading(self.engine) as conn:
            return {lane: from_us(us) for lane, us in conn.execute(query)}

    def between(
        self, start: datetime, end: datetime, lanes: Iterable[str] | None = None, kinds: Iterable[str] | None = None
    ) -> list[Event]:
        """Events with ``start <= ts < end`` (of ``lanes`` and ``kinds`` if given), decoded again."""
        query = select(events.c.body).where(events.c.ts_us >= to_us(start), events.c.ts_us < to_us(end))
        if lanes is not None:
            query = query.where(events.c.lane.in_(list(lanes)))
        if kinds is not None:
            query = query.where(events.c.kind.in_(list(kinds)))
        return self._decode(query)

    def open_before(self, start: datetime) -> list[Event]:
        """Submissions before ``start`` whose settlement had not ended before ``start``: what
        pending and finality at and after ``start`` need from earlier history."""
        ended = events.alias("ended")
        query = select(events.c.body).where(
            events.c.kind == kind_of(SettlementSubmitted),
            events.c.ts_us < to_us(start),
            ~exists().where(
                and_(
                    ended.c.settlement_id == events.c.settlement_id,
                    TERMINAL,
                    ended.c.ts_us < to_us(start),
                )
            ),
        )
        return self._decode(query)

    def settlement(self, settlement_id: str) -> list[tuple[Event, str]]:
        """Every stored event of one settlement, with its stored line, in event time (by the
        settlement index: no scan however many events are stored)."""
        query = (
            select(events.c.body)
            .where(events.c.settlement_id == settlement_id)
            .order_by(events.c.ts_us, events.c.seq, events.c.event_id)
        )
        with reading(self.engine) as conn:
            bodies = list(conn.scalars(query).all())
        decoded, kept = _parse(bodies)
        return list(zip(decoded, kept, strict=True))

    def lines_of(self, event_ids: Iterable[str], chunk: int = 500) -> dict[str, str]:
        """The stored line of each event id (a scenario made from an incident replays them)."""
        wanted = list(dict.fromkeys(event_ids))
        found: dict[str, str] = {}
        with reading(self.engine) as conn:
            for i in range(0, len(wanted), chunk):
                rows = conn.execute(select(events.c.event_id, events.c.body).where(events.c.event_id.in_(wanted[i : i + chunk])))
                found.update({row.event_id: row.body for row in rows})
        return found

    def _decode(self, query: Select[str]) -> list[Event]:
        with reading(self.engine) as conn:
            return _parse(list(conn.scalars(query).all()))[0]


def _parse(bodies: list[str]) -> tuple[list[Event], list[str]]:
    """Stored lines parsed again, with the lines kept. A row the parser refuses now (stored
    by a version before the contract's bounds: a year 0001, a notional of 1e308) is skipped
    with a warning naming it, and left in place: an operator decides, and a restart never
    crash-loops on data it cannot change."""
    if not bodies:
        return [], []
    decoded, stats = parse_events([("\n".join(bodies) + "\n").encode()])
    if not stats.rejected_total:
        return decoded, bodies
    first = stats.rejected[0]
    log.warning(
        "skipped stored events out of contract bounds",
        extra={"skipped": stats.rejected_total, "first": bodies[first.line - 1][:200], "reason": first.reason},
    )
    if stats.rejected_total > len(stats.rejected):  # not every refused line was named: one by one
        pairs = [(parse_events([(body + "\n").encode()])[0], body) for body in bodies]
        return [found[0] for found, _ in pairs if found], [body for found, body in pairs if found]
    refused = {r.line for r in stats.rejected}
    return decoded, [body for line, body in enumerate(bodies, start=1) if line not in refused]
