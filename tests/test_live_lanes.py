"""Live lane status equals the contract's facts over each lane's window, however events arrive."""

from __future__ import annotations

import random
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers import T0, Stream
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.lanes.live import LiveLanes
from validators.events import Event
from validators.facts import Window, compute_facts
from validators.ndjson import parse_events

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from gen_stream import Generator

WALL = datetime(2026, 11, 25, tzinfo=UTC)


def watermark_of(events: list[Event], lane: str, now: datetime = WALL) -> datetime:
    return min(max(e.ts for e in events if e.lane == lane), now)


def expected(events: list[Event], lane: str, window: timedelta, now: datetime = WALL) -> tuple[datetime, dict[str, object]]:
    """The lane's facts over its own window, but silence to the freshest lane's watermark
    (live status measures a lane's silence against the others)."""
    watermark = watermark_of(events, lane, now)
    freshest = max(watermark_of(events, other, now) for other in {e.lane for e in events})
    facts = compute_facts(events, Window(watermark - window, watermark + timedelta(microseconds=1))).lane(lane)
    silence = (freshest + timedelta(microseconds=1) - watermark).total_seconds()
    return watermark, {**facts.as_dict(), "silence_s": silence}


def assert_matches(live: LiveLanes, events: list[Event], window: timedelta, now: datetime = WALL) -> None:
    statuses = live.status()
    assert set(statuses) == {e.lane for e in events}
    for lane, status in statuses.items():
        watermark, facts = expected(events, lane, window, now)
        assert status.watermark == watermark
        assert status.facts.as_dict() == facts, lane


def live_with(events: list[Event], window: timedelta = timedelta(minutes=30), now: datetime = WALL) -> LiveLanes:
    live = LiveLanes(window, now=lambda: now)
    live.add(events)
    return live


def test_old_failures_slide_out_of_the_window() -> None:
    stream = Stream()
    stream.settle("s1", 0, 10, ok=False)
    stream.settle("s2", 2000, 2010)
    live = live_with(stream.events())
    facts = live.status()["l2-arb"].facts
    assert (facts.failed, facts.finalized, facts.failure_rate) == (0, 1, 0.0)


def test_a_submission_older_than_the_window_still_counts_as_pending() -> None:
    stream = Stream()
    stream.settle("old", 0, None, notional=2500.0)
    stream.add("canary.result", 3000)
    facts = live_with(stream.events()).status()["l2-arb"].facts
    assert (facts.pending, facts.pending_notional_usd, facts.submitted) == (1, 2500.0, 0)


def test_an_event_older_than_the_window_ends_a_pending_settlement() -> None:
    stream = Stream()
    stream.add("canary.result", 3000)
    live = live_with(stream.events())
    late = Stream()
    late.settle("s", 0, 20)  # arrives late, both events long before the window
    live.add(late.events())
    facts = live.status()["l2-arb"].facts
    assert (facts.pending, facts.finalized) == (0, 0)


def test_a_late_event_inside_the_window_counts() -> None:
    stream = Stream()
    stream.add("canary.result", 100)
    stream.add("canary.result", 50, ok=False)
    events = stream.events()
    live = LiveLanes(now=lambda: WALL)
    live.add(events[:1])
    live.add(events[1:])
    assert live.status()["l2-arb"].facts.canary_failures == 1


def test_an_event_from_the_future_waits_for_the_wall_clock() -> None:
    stream = Stream()
    stream.add("canary.result", 0)
    stream.add("canary.result", 600, ok=False)  # ten minutes ahead of "now"
    clock = [T0 + timedelta(seconds=10)]
    live = LiveLanes(now=lambda: clock[0])
    live.add(stream.events())
    status = live.status()["l2-arb"]
    assert (status.watermark, status.facts.canary_failures) == (clock[0], 0)
    clock[0] = T0 + timedelta(seconds=700)
    status = live.status()["l2-arb"]
    assert (status.watermark, status.facts.canary_failures) == (T0 + timedelta(seconds=600), 1)


def test_lanes_are_independent_and_unknown_lanes_empty() -> None:
    stream = Stream()
    stream.settle("a", 0, 30, lane="l1-eth")
    stream.settle("b", 5000, 5030, ok=False, lane="l2-arb")
    live = live_with(stream.events())
    assert live.lanes == ["l1-eth", "l2-arb"]
    assert live.status()["l1-eth"].facts.finalized == 1  # l2-arb's later watermark does not move l1-eth's window
    assert live.status("l9-none") == {}


def _stream(draw: st.DrawFn, span_s: int) -> list[Event]:
    stream = Stream()
    lanes = ["l2-arb", "l1-eth"]
    for i in range(draw(st.integers(1, 40))):
        t = draw(st.integers(0, span_s))
        lane = draw(st.sampled_from(lanes))
        kind = draw(st.sampled_from(["settle", "canary", "price", "ref", "queue", "reorg", "seq"]))
        if kind == "settle":
            end = draw(st.one_of(st.none(), st.integers(t, t + 900)))
            stream.settle(
                f"s{i}", t, end, ok=draw(st.booleans()), lane=lane, notional=draw(st.sampled_from([0.1, 1000.0, 2.5e6]))
            )
        elif kind == "canary":
            stream.add("canary.result", t, lane, ok=draw(st.booleans()))
        elif kind in ("price", "ref"):
            source = "lane" if kind == "price" else "reference"
            stream.add("feed.price", t + i / 1000, lane, source=source, price=draw(st.sampled_from([2990.0, 3000.0, 3100.5])))
        elif kind == "queue":
            stream.add("queue.depth", t, lane, value=draw(st.integers(0, 50)))
        elif kind == "reorg":
            stream.add("lane.reorg", t, lane, depth=draw(st.integers(1, 4)))
        else:
            stream.add("canary.result", t, lane, seq=draw(st.integers(1000, 1010)))  # gaps and duplicates
    events, _ = parse_events([stream.ndjson()])
    return events


def add_in_chunks(live: LiveLanes, events: list[Event], chunks: int) -> None:
    size = max(1, len(events) // chunks)
    for i in range(0, len(events), size):
        live.add(events[i : i + size])


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(1, 5))
def test_any_order_within_a_window_gives_the_facts_of_the_window(data: st.DataObject, chunks: int) -> None:
    events = data.draw(st.composite(_stream)(span_s=20 * 60))
    live = LiveLanes(timedelta(minutes=30), now=lambda: WALL)
    add_in_chunks(live, data.draw(st.permutations(events)), chunks)
    assert_matches(live, events, timedelta(minutes=30))


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(1, 5), st.sampled_from([timedelta(minutes=10), timedelta(minutes=30)]))
def test_events_up_to_a_window_late_give_the_facts_of_the_window(data: st.DataObject, chunks: int, window: timedelta) -> None:
    events = data.draw(st.composite(_stream)(span_s=3600))
    delays = data.draw(st.lists(st.floats(0, window.total_seconds()), min_size=len(events), max_size=len(events)))
    arrival = sorted(range(len(events)), key=lambda i: events[i].ts + timedelta(seconds=delays[i]))
    live = LiveLanes(window, now=lambda: WALL)
    add_in_chunks(live, [events[i] for i in arrival], chunks)
    assert_matches(live, events, window)


def test_a_realistic_stream_added_in_batches_matches_the_facts() -> None:
    body = "".join(Generator(minutes=4, scale=0.3, seed=3).lines()).encode()
    events, stats = parse_events([body])
    assert not stats.rejected
    rng = random.Random(5)
    live = LiveLanes(timedelta(minutes=2), now=lambda: WALL)
    batches = [events[i : i + 997] for i in range(0, len(events), 997)]
    rng.shuffle(batches)  # batches out of order, as two senders interleave
    for batch in batches:
        live.add(batch)
    assert_matches(live, events, timedelta(minutes=2))


def test_status_read_while_events_are_added_from_another_thread() -> None:
    # regression: the snapshot writer read status while the ingest thread added, and the
    # unguarded state raised "Set changed size during iteration" mid-ingest
    body = "".join(Generator(minutes=2, scale=0.3, seed=9).lines()).encode()
    events, _ = parse_events([body])
    live = LiveLanes(timedelta(minutes=1), now=lambda: WALL)
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                live.status()
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(0, len(events), 50):
        live.add(events[i : i + 50])
    done.set()
    reader.join()
    assert errors == []
    assert_matches(live, events, timedelta(minutes=1))


def test_a_zero_price_is_taken_and_a_zero_reference_pairs_with_nothing() -> None:
    """Contract v1.1 allows a price of 0: a lane feed reading zero is 10,000 bps off its
    reference; a zero reference has no divergence to give (it would divide by zero), so
    the lane prices it is the latest reference for are unpaired — in the facts and live alike."""
    stream = Stream()
    stream.add("feed.price", 10, "l1-eth", source="reference", price=2000.0)
    stream.add("feed.price", 20, source="lane", price=0.0)  # vs 2000: 10,000 bps
    stream.add("feed.price", 30, "l3-zk", source="reference", symbol="BTC-USD", price=0.0)
    stream.add("feed.price", 40, "l3-zk", source="lane", symbol="BTC-USD", price=5.0)  # vs 0: unpaired
    stream.add("feed.price", 25, "l4-op", source="reference", symbol="SOL-USD", price=10.0)
    stream.add("feed.price", 35, "l4-op", source="reference", symbol="SOL-USD", price=0.0)  # arrives before its lane price
    stream.add("feed.price", 45, "l4-op", source="lane", symbol="SOL-USD", price=12.0)  # latest reference is 0: unpaired
    events = stream.events()
    window = Window(T0, T0 + timedelta(minutes=30))
    facts = compute_facts(events, window)
    assert facts.lane("l2-arb").feed_divergence_bps_max == 10_000
    assert facts.lane("l3-zk").feed_divergence_bps_max is None
    assert facts.lane("l4-op").feed_divergence_bps_max is None
    assert_matches(live_with(events), events, timedelta(minutes=30))
    assert_matches(live_with(list(reversed(events))), events, timedelta(minutes=30))
