"""Live status in its own process answers as the in-process fold does, under the parent's
clock, and a dead or failed child is reported to readers instead of going stale."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from helpers import T0, Stream

from bot.lanes.live import LiveLanes
from bot.lanes.worker import LiveStatusError, LiveWorker

WINDOW = timedelta(minutes=30)


@pytest.fixture
def clock() -> list:
    return [T0 + timedelta(hours=1)]


@pytest.fixture
def worker(clock: list) -> Iterator[LiveWorker]:
    live = LiveWorker(WINDOW, now=lambda: clock[0])
    yield live
    live.close()


def busy_stream() -> Stream:
    stream = Stream()
    for i in range(40):
        stream.settle(f"s{i}", i * 10, i * 10 + 5 if i % 3 else None, ok=i % 7 != 0, lane=("l2-arb", "l1-eth")[i % 2])
    stream.add("canary.result", 100, ok=False)
    stream.add("feed.price", 110, symbol="ETH-USD", source="reference", price=3000.0)
    stream.add("feed.price", 120, symbol="ETH-USD", source="lane", price=3030.0)
    stream.add("custom.thing", 130, lane="l2-arb")  # a kind this version does not know still counts
    return stream


def test_the_child_reports_what_the_in_process_fold_reports(worker: LiveWorker, clock: list) -> None:
    events = busy_stream().events()
    worker.add(events[:50])
    worker.add(events[50:])
    local = LiveLanes(WINDOW, now=lambda: clock[0])
    local.add(events)
    assert worker.status() == local.status()
    assert worker.status("l1-eth") == local.status("l1-eth")
    assert worker.status()["l2-arb"].facts.canary_failures == 1


def test_the_parents_clock_holds_back_events_from_the_future(worker: LiveWorker, clock: list) -> None:
    clock[0] = T0 + timedelta(seconds=60)
    stream = Stream()
    stream.add("canary.result", 30)
    stream.add("canary.result", 90, ok=False)  # beyond the clock: waits for it
    worker.add(stream.events())
    assert worker.status()["l2-arb"].facts.canary_failures == 0
    clock[0] = T0 + timedelta(seconds=120)
    assert worker.status()["l2-arb"].facts.canary_failures == 1


def test_a_dead_child_is_reported_not_stale(worker: LiveWorker) -> None:
    worker.add(busy_stream().events())
    worker._process.kill()
    worker._process.join()
    with pytest.raises(LiveStatusError, match=r"exited \(code -9\); restart to rebuild it from the store"):
        worker.status()
    with pytest.raises(LiveStatusError):
        worker.add(busy_stream().events())


def test_an_unknown_lane_has_no_status(worker: LiveWorker) -> None:
    worker.add(busy_stream().events())
    assert worker.status("l9-none") == {}


def test_a_failed_child_is_reported_to_health_without_any_status_request(worker: LiveWorker) -> None:
    """Before, only a status request found out: /healthz asked whether the process was
    alive, and answered 200 for a child that had failed (OverflowError) and answered nothing."""
    from datetime import UTC, datetime

    from helpers import wait_for

    from validators.events import QueueDepth

    worker.add(busy_stream().events())
    assert worker.problem() is None
    poison = QueueDepth(event_id="p", ts=datetime(1, 1, 1, tzinfo=UTC), lane="l9-new", seq=1, value=1)  # past the parser
    worker.add([poison])
    problem = wait_for(worker.problem, what="the failure reported")
    assert "OverflowError" in problem
    assert problem.endswith("restart to rebuild it from the store")
    with pytest.raises(LiveStatusError, match="OverflowError"):
        worker.status()
