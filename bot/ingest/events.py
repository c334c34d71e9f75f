"""Settlement events in: parse, commit once, fold into live lane status.

The same path serves ``POST /events`` (one body, any size, streamed in chunks) and NATS
(one batch of messages): valid events are committed in batches as they are parsed, so a
bad line never costs the good ones beside it and memory stays flat on a large body. Only
events the store did not already hold reach the live status, so a re-send counts once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.lanes.worker import LiveWorker
from bot.metrics import Metrics
from bot.store.events import EventStore
from validators.events import Event
from validators.ndjson import EventStream, RejectedLine

BATCH = 20_000


@dataclass(slots=True)
class IngestReport:
    """The answer to a sender: what was valid, what was new, and why lines were bad — the
    first ``KEPT`` with their reason, ``rejected_total`` all of them (a body of a million
    bad lines is answered in kilobytes, not hundreds of megabytes)."""

    accepted: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: list[RejectedLine] = field(default_factory=list)
    rejected_total: int = 0
    unknown_kinds: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": [{"line": r.line, "reason": r.reason} for r in self.rejected],
            "rejected_total": self.rejected_total,
            "unknown_kinds": self.unknown_kinds,
        }


class EventIngestor:
    """Commits events, then hands the new ones to live status (its own process, so the
    fold does not share this process's core). Batches reach live status in commit order
    (the commit lock orders them), each exactly once."""

    def __init__(self, store: EventStore, live: LiveWorker, metrics: Metrics, source: str = "http") -> None:
        self.store = store
        self.live = live
        self.metrics = metrics
        self.source = source
        self._lock = threading.Lock()
        self.dirty = threading.Event()
        """Set after live status changed; the snapshot writer clears it."""

    def commit(self, events: list[Event], source: str | None = None) -> list[Event]:
        """Store what is new; returns the new events. Raises the store's error when the
        commit fails: then nothing of ``events`` is acknowledged."""
        if not events:
            return []
        with self._lock:
            new = self.store.insert(events)
            self.live.add(new)
        if new:
            self.dirty.set()
        counter = self.metrics.events
        counter.labels(source or self.source, "stored").inc(len(new))
        counter.labels(source or self.source, "duplicate").inc(len(events) - len(new))
        return new

    def commit_messages(self, payloads: list[bytes], source: str) -> dict[int, str]:
        """One batch of messages (NATS): each parsed on its own, all valid events committed
        in one transaction. Returns the messages with no valid event and why, so the
        consumer can drop them instead of having them redelivered forever; bad lines beside
        valid ones are counted and the message is kept."""
        events: list[Event] = []
        rejected: dict[int, str] = {}
        bad_lines = 0
        for index, payload in enumerate(payloads):
            stream = EventStream()
            valid = stream.feed(payload) + stream.close()
            events.extend(valid)
            bad_lines += stream.stats.rejected_total
            if not valid and stream.stats.rejected:
                rejected[index] = "; ".join(f"line {r.line}: {r.reason}" for r in stream.stats.rejected[:3])
        self.commit(events, source)
        self.metrics.events.labels(source, "rejected").inc(bad_lines)
        return rejected

    def session(self, batch: int = BATCH) -> IngestSession:
        return IngestSession(self, batch)

    def ingest(self, chunks: Iterable[bytes]) -> IngestReport:
        """A whole body at once (CLI, tests); the HTTP endpoint drives a session itself."""
        session = self.session()
        for chunk in chunks:
            session.feed(chunk)
        return session.close()


class IngestSession:
    """One body: ``feed`` chunks, commits every ``batch`` valid events; ``close`` commits
    the rest and returns the report."""

    def __init__(self, ingestor: EventIngestor, batch: int) -> None:
        self.ingestor = ingestor
        self.batch = batch
        self.stream = EventStream()
        self.pending: list[Event] = []
        self.report = IngestReport()

    def feed(self, chunk: bytes) -> None:
        self.pending.extend(self.stream.feed(chunk))
        if len(self.pending) >= self.batch:
            self._flush()

    def close(self) -> IngestReport:
        self.pending.extend(self.stream.close())
        self._flush()
        stats = self.stream.stats
        report = self.report
        report.accepted = stats.accepted + stats.redelivered_total
        report.duplicates += stats.redelivered_total
        report.rejected, report.rejected_total = stats.rejected, stats.rejected_total
        report.unknown_kinds = dict(stats.unknown_kinds)
        metrics = self.ingestor.metrics.events
        metrics.labels(self.ingestor.source, "rejected").inc(stats.rejected_total)
        metrics.labels(self.ingestor.source, "duplicate").inc(stats.redelivered_total)
        return report

    def _flush(self) -> None:
        batch, self.pending = self.pending, []
        new = self.ingestor.commit(batch)
        self.report.stored += len(new)
        self.report.duplicates += len(batch) - len(new)

    @property
    def lines_read(self) -> int:
        return self.stream.lines_read
