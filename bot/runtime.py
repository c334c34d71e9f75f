"""The running bot: settings, store, live status, ingestion and incidents wired together.

Start-up order matters for "nothing lost": migrate, rebuild live lane status from the
store, and only then take traffic. The background loop hands out due notifications and
persists lane status for other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot.actions import Actions, ActionState, is_page, records
from bot.alerts import Alert
from bot.clock import Clock, utcnow
from bot.config import Settings
from bot.health import Health, StoreProbe, store_reachable
from bot.incidents import IncidentEngine, Notification, Received, Routing
from bot.incidents.desk import Desk
from bot.incidents.escalation import Escalator
from bot.incidents.flaps import Damping
from bot.incidents.silences import Silences
from bot.incidents.views import newest_open_incident, open_count
from bot.ingest.events import EventIngestor
from bot.ingest.nats import BatchOutcome, NatsConsumer, NatsSource
from bot.lanes import snapshot
from bot.lanes.live import LaneStatus
from bot.lanes.worker import LiveStatusError, LiveWorker
from bot.metrics import Metrics
from bot.slack import thread
from bot.slack.blocks import CARD, action_message, action_purpose
from bot.slack.outbox import Outbox, Pace
from bot.slack.poster import Poster, posted
from bot.slack.queue import depth, enqueue
from bot.store.engine import make_engine, reading, upgrade
from bot.store.events import EventStore
from bot.summarize.service import Reporter
from bot.wiring import load_policy, make_approvers, make_executor, make_llm, make_poster
from validators.events import FeedPrice, kind_of
from validators.trust import scored

if TYPE_CHECKING:
    from bot.postmortem import Drafter

log = logging.getLogger(__name__)
TICK_S = 0.5
SNAPSHOT_EVERY_S = 1.0


class Bot:
    def __init__(
        self, settings: Settings, clock: Clock = utcnow, *, poster: Poster | None = None, pace: Pace | None = None
    ) -> None:
        """``poster`` and ``pace`` replace Slack and its pacing (replays, drills offline)."""
        self.settings = settings
        self.clock = clock
        self.policy = load_policy(settings.policy)
        self.engine = make_engine(settings.database_url)
        self.metrics = Metrics()
        self.events = EventStore(self.engine)
        self.live = LiveWorker(settings.status_window, now=clock)
        self.ingestor = EventIngestor(self.events, self.live, self.metrics)
        routing = Routing.from_settings(
            group_by=settings.group_by,
            group_wait=settings.group_wait,
            group_interval=settings.group_interval,
            repeat_interval=settings.repeat_interval,
            inhibit_source=settings.inhibit_source,
            inhibit_equal=settings.inhibit_equal,
        )
        self.damping = Damping.of(self.policy)
        self.incidents = IncidentEngine(self.engine, routing, clock, self.damping)
        self.silences = Silences(self.engine, clock)
        self.on_notify: list[Callable[[Notification], None]] = []
        poster = poster or make_poster(settings, self.engine, clock)
        self.outbox = Outbox(poster, self.engine, pace, metrics=self.metrics) if poster is not None else None
        self.actions = Actions(
            self.engine,
            self.policy,
            lane_status=self.lane_status,
            clock=clock,
            executor=make_executor(settings),
            approvers=make_approvers(settings, self.policy),
            home=self._home,
            announce=self.post_action,
        )
        self.escalator = Escalator(self.engine, self.policy, self.actions)
        self.reporter = Reporter(
            settings,
            self.engine,
            self.policy,
            self.outbox,
            lane_status=self.lane_status,
            debounce=settings.summary_debounce,
            clock=clock,
        )
        self.on_notify.append(self.reporter.notify)
        self.desk = Desk(self.engine, self.incidents, self.events, self.policy, clock, changed=self.reporter.redraw)
        self._last_snapshot = datetime.min.replace(tzinfo=clock().tzinfo)
        self._flapping: set[str] = set()
        """Incidents flapping at the last tick (in memory: after a restart, a card that said
        "flapping" is drawn again at its next change)."""
        self.store_probe = StoreProbe(self.engine)
        self.nats = self.nats_consumer()

    def start(self) -> None:
        """Migrate and rebuild live status; call before taking traffic."""
        upgrade(self.engine)
        if self.engine.dialect.name == "postgresql":
            with self.engine.begin() as conn:  # fresh planner statistics: the rebuild's anti-join needs them
                conn.execute(text("ANALYZE events"))
        self._rebuild_live()
        self.store_probe.probe()
        self._export_lane_gauges(self.lane_status())  # before traffic: a restart must not end a LaneSilent alert
        self.metrics.incidents_open.set(open_count(self.engine))
        if self.outbox is not None:
            self.outbox.start()  # sends what a crash left queued, too
        self.reporter.resume()  # summaries a crash cut short
        for action in self.actions.sweep():  # webhook calls a crash cut short
            self.post_action(action)

    def _rebuild_live(self) -> None:
        watermarks = self.events.watermarks()
        if not watermarks:
            return
        window: timedelta = self.settings.status_window
        now = self.clock()
        start = min(min(wm, now) for wm in watermarks.values()) - window
        # Reference prices pair with lane prices at or after them: one window more of them
        # covers any reference feed that still ticks (a staler one is not a price).
        references = self.events.between(start - window, start, kinds=[kind_of(FeedPrice)])
        older = self.events.open_before(start)
        recent = self.events.between(start, max(watermarks.values()) + timedelta(microseconds=1))
        for part in (references, older, recent):
            self.live.add(part)
        log.info("live lane status rebuilt from %d events since %s", len(recent), start.isoformat())

    def lane_status(self, lane: str | None = None) -> dict[str, LaneStatus]:
        """Live lane status including every event committed so far, each lane's trust scored."""
        return {name: replace(s, facts=scored(s.facts, self.policy.trust, name)) for name, s in self.live.status(lane).items()}

    def health(self) -> Health:
        """Each part that can die on its own, and why it did (``bot.health``)."""
        parts = {
            "store": store_reachable(self.engine),
            "store_writable": self.store_probe.problem(),
            "live_status": self.live.problem(),
        }
        if self.nats is not None:
            parts["nats"] = self.nats.problem()
        if self.outbox is not None:
            parts["outbox"] = self.outbox.problem()
        return Health(parts)

    def receive_alerts(self, batch: Sequence[Alert]) -> Received:
        """File a delivery's alerts; what is due goes out now, not at the next tick, and a
        reopened incident's card shows its flap at once."""
        received = self.incidents.receive(batch)
        if received.new or received.resolved:
            self.notify_due()
        for incident_id in sorted(received.reopened):
            self.reporter.redraw(incident_id)
        return received

    def notify_due(self) -> list[Notification]:
        """Hand out due notifications (facts cards, summaries); also right after a webhook
        filed alerts, so a card does not wait for the next tick."""
        due = self.incidents.due()
        for note in due:
            self.metrics.notifications.labels(note.reason).inc()
            log.info("incident notification due", extra={"incident_id": note.incident_id, "reason": note.reason})
            for hook in self.on_notify:
                hook(note)
        return due

    def tick(self) -> list[Notification]:
        """One round of background work: alerts a silence no longer mutes, due notifications,
        escalations, the thread, lane status snapshot, gauges."""
        for incident_id in sorted(self.incidents.unmuted().reopened):
            self.reporter.redraw(incident_id)
        due = self.notify_due()
        for action in self.actions.sweep():
            self.post_action(action)
        for step in self.escalator.sweep():  # after the actions' sweep: a page just made is not "stalled"
            self.reporter.redraw(step.incident_id)
        flapping = self.incidents.flapping()
        for incident_id in sorted(self._flapping - flapping):  # quiet again: its card stops saying it flaps
            self.reporter.redraw(incident_id)
        self._flapping = flapping
        if self.outbox is not None and thread.tell(self.engine, self.clock(), self.damping):
            self.outbox.wake()
        now = self.clock()
        if self.ingestor.dirty.is_set() and (now - self._last_snapshot).total_seconds() >= SNAPSHOT_EVERY_S:
            self.ingestor.dirty.clear()
            try:
                self.save_snapshot(now)
            except LiveStatusError:  # /healthz says so; notifications must go on without it
                self._last_snapshot = now
        self.metrics.incidents_open.set(open_count(self.engine))
        if self.outbox is not None:
            with reading(self.engine) as conn:
                self.metrics.outbox_depth.set(depth(conn))
        return due

    def save_snapshot(self, now: datetime | None = None) -> None:
        now = now or self.clock()
        statuses = self.lane_status()
        snapshot.save(self.engine, statuses.values(), now)
        self._export_lane_gauges(statuses)
        self._last_snapshot = now

    def _export_lane_gauges(self, statuses: dict[str, LaneStatus]) -> None:
        for lane, status in statuses.items():
            self.metrics.lane_watermark.labels(lane).set(status.watermark.timestamp())
            self.metrics.lane_trust.labels(lane).set(status.facts.trust_score or 0)

    async def _commit_nats(self, payloads: list[bytes]) -> BatchOutcome:
        try:
            rejected = await asyncio.to_thread(self.ingestor.commit_messages, payloads, "nats")
        except OperationalError as exc:
            log.warning("store unavailable, NATS batch handed back: %s", exc.orig)
            return BatchOutcome(committed=False)
        return BatchOutcome(committed=True, rejected=rejected)

    def nats_consumer(self) -> NatsConsumer | None:
        """The JetStream consumer when LANEKEEPER_NATS_URL is set."""
        s = self.settings
        if s.nats_url is None:
            return None
        source = NatsSource(url=s.nats_url, stream=s.nats_stream, subject=s.nats_subject, durable=s.nats_durable)
        return NatsConsumer(source, self._commit_nats)

    async def background(self, stop: asyncio.Event) -> None:
        """Tick until ``stop``; a store outage is logged and retried, never fatal."""
        tasks = [asyncio.create_task(self._consume(self.nats, stop))] if self.nats is not None else []
        await self._tick_until(stop)
        await asyncio.gather(*tasks)

    async def _consume(self, consumer: NatsConsumer, stop: asyncio.Event) -> None:
        try:
            await consumer.run(stop)
        except Exception:  # a bug: /healthz reports the consumer stopped; HTTP ingestion goes on
            log.exception("NATS consumer stopped by an error")

    async def _tick_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.tick)
            except OperationalError as exc:
                log.warning("background tick failed, retrying: %s", exc.orig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_S)

    def _home(self, action: ActionState) -> str | None:
        """The channel id where an action's message was posted: votes count only there."""
        found = posted(self.engine, action.incident_id, action_purpose(action.action_id))
        return found[0] if found else None

    def card_of(self, lanes: tuple[str, ...]) -> tuple[str, str] | None:
        """(channel id, ts) of the card of the newest open incident on any of ``lanes``: the
        thread where what concerns those lanes belongs."""
        for lane in lanes:
            incident_id = newest_open_incident(self.engine, lane)
            found = posted(self.engine, incident_id, CARD) if incident_id else None
            if found is not None:
                return found
        return None

    def drafter(self) -> Drafter:
        """What drafts a postmortem (read only): built per draft, so the LLM client loads only then."""
        from bot.postmortem import Drafter  # noqa: PLC0415
        from bot.summarize.redact import Redactor  # noqa: PLC0415

        s = self.settings
        return Drafter(self.engine, self.policy, make_llm(s), s.llm_reasks, s.lookback, self.clock, Redactor.from_settings(s))

    def post_action(self, action: ActionState) -> None:
        """A suggested action's message (with its buttons), posted or brought up to date. It
        is rendered from the store with the action's row locked, never from ``action`` as its
        caller read it: a state read before another thread's step (a refused click reading
        "executing") could otherwise be queued after that step's message and stay for good."""
        if self.outbox is None or is_page(action.action_id):  # a page is told in the thread, line by line
            return
        with self.engine.begin() as conn:
            latest = records.load(conn, action.action_id, lock=True)
            message = action_message(latest, self.policy.runbook(latest.lane, latest.kind))
            enqueue(conn, latest.incident_id, action_purpose(latest.action_id), message, utcnow())
        self.outbox.wake()

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every scheduled summary ran and every Slack message went out (tests,
        replay)."""
        self.reporter.drain(timeout)
        if self.outbox is not None:
            self.outbox.drain(timeout)

    def close(self) -> None:
        self.reporter.close()
        if self.outbox is not None:
            self.outbox.close()
        if self.ingestor.dirty.is_set():
            self.save_snapshot()
        self.live.close()
        self.engine.dispose()
