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
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from bot.clock import Clock
from bot.config import Settings
from bot.incidents import Notification
from bot.incidents.card import CardData, figures
from bot.incidents.card import store as store_card
from bot.lanes.live import LaneStatus
from bot.lanes.worker import LiveStatusError
from bot.processes import CONTEXT
from bot.slack.blocks import CARD
from bot.slack.cards import queue_card
from bot.slack.outbox import Outbox
from bot.store.engine import reading
from bot.store.tables import incidents
from bot.summarize import child
from bot.wiring import llm_configured
from validators.facts import LaneFacts, Window
from validators.policy import Policy

log = logging.getLogger(__name__)
LIVE_DOWN = "Live status is unavailable (see /healthz): the figures follow from the incident's own events."


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
        clock: Clock,
    ) -> None:
        self.settings, self.engine, self.policy, self.outbox, self.clock = settings, engine, policy, outbox, clock
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
            if self.outbox is not None and not self.outbox.has(incident_id, CARD):
                self._post_card(incident_id)
            self._schedule(incident_id, 0.0)

    def notify(self, note: Notification) -> None:
        """A notification from the incident engine (``Bot.on_notify``)."""
        if note.reason == "opened":
            self._post_card(note.incident_id)
            self._schedule(note.incident_id, 0.0)
        elif note.reason in ("updated", "resolved"):
            if note.reason == "resolved":
                self.redraw(note.incident_id)  # the channel hears of it now; the summary follows
            self._schedule(note.incident_id, self.debounce)

    def redraw(self, incident_id: str) -> None:
        """Queue the card again as the store has it (after an acknowledgement, a resolution,
        an escalation): its figures stay, its state is drawn anew."""
        if self.outbox is None:
            return
        with self.engine.begin() as conn:
            queue_card(conn, incident_id, self.policy, self.clock())
        self.outbox.wake()

    def _post_card(self, incident_id: str) -> None:
        """The card from live status, at once: no scan of events, no LLM."""
        started = time.perf_counter()
        data = self._live_data(incident_id)
        now = self.clock()
        with self.engine.begin() as conn:
            store_card(conn, incident_id, data, now)
            if self.outbox is not None:
                queue_card(conn, incident_id, self.policy, now)
        if self.outbox is not None:
            self.outbox.wake()
        log.info("facts card queued in %.1f ms", (time.perf_counter() - started) * 1000, extra={"incident_id": incident_id})

    def _live_data(self, incident_id: str) -> CardData:
        with reading(self.engine) as conn:
            lanes = sorted(conn.scalar(select(incidents.c.lanes).where(incidents.c.incident_id == incident_id)) or [])
        now = self.clock()
        try:
            statuses = self.lane_status()
        except LiveStatusError:  # the card goes out without figures (the summary reads the store); /healthz says why
            window = Window(now - self.settings.status_window, now)
            down = figures("live", window, 0, [], self.policy).model_copy(update={"note": LIVE_DOWN})
            return CardData(figures=down, ai="pending" if self.ai else "off")
        known = [statuses[lane] for lane in lanes if lane in statuses]
        window = (
            Window(min(s.window.start for s in known), max(s.window.end for s in known))
            if known
            else Window(now - self.settings.status_window, now)
        )
        figures_of: list[tuple[str, LaneFacts, datetime | None]] = [
            (lane, statuses[lane].facts, statuses[lane].watermark) if lane in statuses else (lane, LaneFacts(), None)
            for lane in lanes
        ]
        events = sum(s.events_in_window for s in known)
        return CardData(figures=figures("live", window, events, figures_of, self.policy), ai="pending" if self.ai else "off")

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
            job = self._pool.submit(child.run, incident_id, queue=self.outbox is not None, now=self.clock())
            outcome = job.result()
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
