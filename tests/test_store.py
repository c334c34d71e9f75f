"""The store: migrations, exactly-once event insertion, reads by time, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from helpers import T0, Stream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, inspect

from bot.store.engine import make_engine, normalise_url, upgrade
from bot.store.events import EventStore, from_us, to_us
from bot.store.tables import lane_status, metadata

_EXAMPLES = itertools.count()


def test_migrations_create_exactly_the_tables_the_code_queries(store_engine: Engine) -> None:
    with store_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    # UtcDateTime is a TypeDecorator over DateTime(timezone=True): same column type, so no diff
    assert diff == []
    assert set(inspect(store_engine).get_table_names()) >= {t.name for t in metadata.sorted_tables}


def test_upgrade_twice_is_harmless(store_engine: Engine) -> None:
    upgrade(store_engine)
    upgrade(store_engine)


def test_an_event_sent_twice_is_stored_once_and_reported_new_once(store_engine: Engine) -> None:
    stream = Stream()
    stream.add("settlement.submitted", 0, event_id="e1", settlement_id="s1")
    stream.add("settlement.finalized", 30, event_id="e2", settlement_id="s1")
    stream.add("canary.result", 40, event_id="e3", ok=False)
    events = stream.events()
    store = EventStore(store_engine)
    assert [e.event_id for e in store.insert(events)] == ["e1", "e2", "e3"]
    assert store.insert(events) == []
    again = Stream()
    again.add("canary.result", 40, event_id="e3", ok=False)
    again.add("canary.result", 50, event_id="e4")
    more = again.events()
    assert [e.event_id for e in store.insert(more)] == ["e4"]
    assert store.count() == 4


def test_an_id_repeated_inside_one_batch_is_new_once(store_engine: Engine) -> None:
    stream = Stream()
    stream.add("canary.result", 1, event_id="dup")
    [event] = stream.events()
    assert EventStore(store_engine).insert([event, event]) == [event]  # two NATS messages with one event


def test_stored_events_read_back_equal_to_what_was_sent(store_engine: Engine) -> None:
    stream = Stream()
    stream.add("settlement.submitted", 0, settlement_id="s1")
    stream.add("settlement.finalized", 30, settlement_id="s1")
    stream.add("feed.price", 45, price=3001.5)
    events = stream.events()
    store = EventStore(store_engine)
    store.insert(events)
    assert store.between(T0, T0 + timedelta(minutes=1)) == events
    assert store.between(T0 + timedelta(seconds=1), T0 + timedelta(seconds=45)) == events[1:2]
    assert store.between(T0, T0 + timedelta(minutes=1), lanes=["l1-eth"]) == []
    assert store.between(T0, T0 + timedelta(minutes=1), kinds=["feed.price"]) == events[2:]


def test_open_before_returns_submissions_still_unfinished_at_the_cut(store_engine: Engine) -> None:
    stream = Stream()
    stream.add("settlement.submitted", 0, event_id="a-sub", settlement_id="a")
    stream.add("settlement.finalized", 10, event_id="a-fin", settlement_id="a")  # ended before the cut: not needed
    stream.add("settlement.submitted", 5, event_id="b-sub", settlement_id="b")  # pending at the cut
    stream.add("settlement.submitted", 6, event_id="c-sub", settlement_id="c")
    stream.add("settlement.failed", 100, event_id="c-fail", settlement_id="c")  # ends after the cut: needed after it
    stream.add("settlement.submitted", 70, event_id="d-sub", settlement_id="d")  # after the cut
    store = EventStore(store_engine)
    store.insert(stream.events())
    assert sorted(e.event_id for e in store.open_before(T0 + timedelta(seconds=60))) == ["b-sub", "c-sub"]


def test_watermarks_are_the_newest_event_per_lane(store_engine: Engine) -> None:
    store = EventStore(store_engine)
    stream = Stream()
    stream.add("canary.result", 5)
    stream.add("canary.result", 9)
    stream.add("canary.result", 7, lane="l1-eth")
    store.insert(stream.events())
    assert store.watermarks() == {"l2-arb": T0 + timedelta(seconds=9), "l1-eth": T0 + timedelta(seconds=7)}


def test_event_times_are_exact_to_the_microsecond() -> None:
    ts = T0 + timedelta(microseconds=123_457)
    assert from_us(to_us(ts)) == ts


def test_postgres_urls_use_psycopg_3() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert make_engine("postgresql://u@h/db").dialect.driver == "psycopg"


def test_concurrent_writers_in_one_process_wait_instead_of_failing(tmp_path: Path) -> None:
    # regression: the event insert read the schema (a read transaction) before writing, and
    # when the lane status snapshot committed in between SQLite answered "database is locked"
    # at once (busy_timeout does not cover a read transaction's upgrade to a write)
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    store = EventStore(engine)
    errors: list[BaseException] = []
    done = threading.Event()

    def snapshots() -> None:
        try:
            while not done.is_set():
                with engine.begin() as conn:
                    conn.execute(delete(lane_status))
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    writer = threading.Thread(target=snapshots)
    writer.start()
    try:
        for batch in range(40):
            stream = Stream()
            for i in range(200):
                stream.add("canary.result", i, event_id=f"e{batch}-{i}")
            store.insert(stream.events())
    finally:
        done.set()
        writer.join()
    assert errors == []
    assert store.count() == 40 * 200


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.integers(0, 30), max_size=12), min_size=1, max_size=6))
def test_overlapping_batches_store_each_id_once_and_report_it_new_once(store_engine: Engine, batches: list[list[int]]) -> None:
    """Senders retry whole or partial bodies; the fast path and the re-delivery path
    together report every id new exactly once."""
    prefix = f"p{next(_EXAMPLES)}-"
    store = EventStore(store_engine)
    reported: list[str] = []
    for ids in batches:
        stream = Stream()
        for i in ids:
            stream.add("canary.result", i, event_id=f"{prefix}{i}")
        events = stream.events() if ids else []
        reported += [e.event_id for e in store.insert(events + events[:1])]  # a batch may repeat an id
    distinct = {f"{prefix}{i}" for ids in batches for i in ids}
    assert sorted(reported) == sorted(distinct)
