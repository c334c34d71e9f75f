"""Facts first, AI second: the card is posted the moment an incident opens, from live lane
status (no scan of events, no LLM); the summary runs in the summary process (one at a time,
handed over by a thread here) and replaces the card when the validators passed it. New
alerts or a status change re-run the summary, debounced per incident, and update the same
message. An LLM that takes 30 s or is down delays only the summary, never the card.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import timedelta

from sqlalchemy import Engine, select, update

from bot.config import Settings
from bot.incidents import Notification
from bot.lanes.live import LaneStatus
from bot.lanes.worker import LiveStatusError
from bot.processes import CONTEXT
from bot.slack.outbox import Outbox
from bot.store.engine import reading
from bot.store.tables import alerts, incidents
from bot.summarize import child
from bot.summarize.render import Card, facts_card
from bot.wiring import llm_configured
from validators.policy import Policy

log = logging.getLogger(__name__)


class Reporter:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        policy: Policy,
        outbox: Outbox | None,
        *,
        lane_status: Callable[[], dict[str, LaneStatus]],
        debounce: timedelta,
    ) -> None:
        self.settings, self.engine, self.policy, self.outbox = settings, engine, policy, outbox
        self.lane_status = lane_status
        self.debounce = debounce.total_seconds()
        self.ai = llm_configured(settings)
        self._pool: ProcessPoolExecutor | None = None  # started on the first summary
        self._due: dict[str, float] = {}  # incident -> monotonic time its summary runs
        self._busy = 0
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._work, name="summaries", daemon=True)
        self._thread.start()

    def resume(self) -> None:
        """At start-up: run again every summary a crash cut short (wanted, never finished),
        and post the facts card of an incident that opened just before the crash and has none."""
        with reading(self.engine) as conn:
            wanted = conn.scalars(
                select(incidents.c.incident_id).where(incidents.c.summary_wanted_at.is_not(None)).order_by(incidents.c.opened_at)
            ).all()
        for incident_id in wanted:
            log.info("resuming the summary a restart interrupted", extra={"incident_id": incident_id})
            if self.outbox is not None and not self.outbox.has(incident_id, child.CARD):
                self._post_card(incident_id)
            self._schedule(incident_id, 0.0)

    def notify(self, note: Notification) -> None:
        """A notification from the incident engine (``Bot.on_notify``)."""
        if note.reason == "opened":
            self._post_card(note.incident_id)
            self._schedule(note.incident_id, 0.0)
        elif note.reason in ("updated", "resolved"):
            self._schedule(note.incident_id, self.debounce)

    def _post_card(self, incident_id: str) -> None:
        started = time.perf_counter()
        card = self._live_card(incident_id)
        note = "AI summary: validating…" if self.ai else "Facts only: no LLM is configured for this bot."
        if self.outbox is not None:
            self.outbox.send(incident_id, child.CARD, facts_card(card, self.policy, note))
        log.info("facts card queued in %.1f ms", (time.perf_counter() - started) * 1000, extra={"incident_id": incident_id})
        with self.engine.begin() as conn:  # the incident carries the severity its card shows (after the card: a commit waits)
            conn.execute(update(incidents).where(incidents.c.incident_id == incident_id).values(severity=card.severity))

    def _live_card(self, incident_id: str) -> Card:
        with reading(self.engine) as conn:
            row = conn.execute(select(incidents.c.title, incidents.c.lanes).where(incidents.c.incident_id == incident_id)).one()
            firing = conn.scalars(
                select(alerts.c.name)
                .where(alerts.c.incident_id == incident_id, alerts.c.status == "firing")
                .order_by(alerts.c.starts_at)
            ).all()
        try:
            statuses, basis = self.lane_status(), "no events yet"
        except LiveStatusError:  # the card goes out without figures (the summary reads the store); /healthz says why
            statuses, basis = {}, "live status unavailable"
        lanes = {lane: statuses[lane].facts for lane in sorted(row.lanes) if lane in statuses}
        severity, _ = self.policy.severity_of(list(lanes.items()))
        marks = [statuses[lane].watermark for lane in lanes]
        minutes = max((statuses[lane].window.length_s for lane in lanes), default=0) / 60
        if marks:
            basis = f"live status, last {minutes:.0f} min to {max(marks):%H:%M:%S} UTC"
        return Card(incident_id, row.title, severity, lanes, list(firing), basis)

    def _schedule(self, incident_id: str, delay: float) -> None:
        with self._cond:
            at = time.monotonic() + delay
            self._due[incident_id] = min(self._due.get(incident_id, at), at)  # a pending run is not pushed back
            self._cond.notify_all()  # the worker and any drain() waiting

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and not self._ready():
                    self._cond.wait(timeout=self._wait())
                if self._stopped:
                    return
                incident_id = min(self._due, key=self._due.__getitem__)
                del self._due[incident_id]
                self._busy += 1
            try:
                self._summarize(incident_id)
            except Exception:  # the worker outlives one incident's bug; the card stays as posted
                log.exception("summary failed", extra={"incident_id": incident_id})
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _ready(self) -> bool:
        return bool(self._due) and min(self._due.values()) <= time.monotonic()

    def _wait(self) -> float | None:
        return max(0.0, min(self._due.values()) - time.monotonic()) if self._due else None

    def _summarize(self, incident_id: str) -> None:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, mp_context=CONTEXT, initializer=child.init, initargs=(self.settings,))
        try:
            outcome = self._pool.submit(child.run, incident_id, queue=self.outbox is not None).result()
        except BrokenProcessPool:
            log.error("the summary process died; starting a new one", extra={"incident_id": incident_id})
            self._pool = None
            raise
        verdict = "validated" if outcome.validated else f"withheld: {outcome.withheld}" if outcome.withheld else "facts-only"
        log.info(
            "summary %s after %d attempts, %d actions suggested",
            verdict, outcome.attempts, outcome.actions, extra={"incident_id": incident_id},
        )  # fmt: skip
        if self.outbox is not None:
            self.outbox.wake()  # the child queued the card and the actions' messages

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every scheduled summary ran (tests, replay, shutdown)."""
        with self._cond:
            if not self._cond.wait_for(lambda: not (self._due or self._busy), timeout):
                raise TimeoutError(f"summaries still pending after {timeout}s: {sorted(self._due)}")

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
