"""Running a drill offline: the whole bot on the scenario's simulated world, no Slack.

The scenario's own store (a temporary SQLite file) keeps drill data apart from production by
construction. Time is the scenario's: the simulator's events are ingested in event-time
order, 10 seconds at a time, with the injects and the scripted responders' steps at their
offsets, and the bot's clock follows. Slack calls go to a transcript, every one marked
EXERCISE; no approved action executes anything (no webhook is configured in a drill).
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from bot.actions import EXERCISE as EXERCISE_EXECUTOR
from bot.actions import RUNBOOK, ActionError, Ballot
from bot.alerts import Alert, parse_alertmanager
from bot.config import Settings
from bot.incidents import IncidentError
from bot.incidents.views import newest_open_incident
from bot.runtime import Bot
from bot.slack.outbox import Pace
from bot.slack.poster import Marked, Poster
from bot.slack.transcript import Transcript
from bot.store.tables import actions, llm_calls
from bot.summarize.context import load_context
from bot.tabletop.decisions import Made, read_decisions
from bot.tabletop.scenario import AiFault, Inject, ResponderStep, Scenario
from bot.tabletop.simulator import Anomaly, LaneProfile, Simulator
from bot.wiring import DEFAULT_POLICY
from prompts import proposal_schema
from validators.check import Checker, check_proposal
from validators.rules import stamp

log = logging.getLogger(__name__)
STEP = timedelta(seconds=10)
EXERCISE = "EXERCISE"
DRILL_PACE = Pace(post_burst=1000, posts_per_second=1000, update_burst=1000, updates_per_second=1000)


@dataclass
class Entry:
    at: timedelta
    kind: str
    detail: str
    actor: str | None = None


@dataclass
class DrillLog:
    scenario: Scenario
    entries: list[Entry] = field(default_factory=list)
    first_alert: timedelta | None = None
    decisions: dict[str, timedelta] = field(default_factory=dict)
    """label (``ack``, ``approve rollback l2-arb``, ``resolve``) -> when it first happened."""
    approvals: list[tuple[timedelta, str, str, str]] = field(default_factory=list)
    """(when, who, decision, action) for each counted vote."""
    refusals: list[tuple[timedelta, str, str]] = field(default_factory=list)
    faults: list[tuple[AiFault, list[str]]] = field(default_factory=list)
    """Each planted AI proposal and the violation codes that stopped it (empty: it passed)."""
    waiting: list[dict[str, Any]] = field(default_factory=list)
    """Actions still waiting for approvals when the drill ended."""
    transcript: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    """Every LLM call of the run (the audit trail's rows)."""
    people: dict[str, str] = field(default_factory=dict)
    """role -> the Slack user who played it (a person: the bot never plays that role)."""
    made: list[Made] = field(default_factory=list)
    """Every decision, people's and scripted ones, from the drill's store."""
    decided_by: dict[str, Made] = field(default_factory=dict)
    """What timed each decision in ``decisions``: who made it, and whether a script did."""
    skipped: list[tuple[timedelta, str, str, str]] = field(default_factory=list)
    """(when, role, person, step) for each scripted step not played: a person holds its role."""

    def note(self, at: timedelta, kind: str, detail: str, actor: str | None = None) -> None:
        self.entries.append(Entry(at, kind, detail, actor))


@dataclass(frozen=True, slots=True)
class Recorded:
    """One recorded alert delivery (a webhook payload's alerts), at its offset."""

    at: timedelta
    alerts: list[Alert]


class Control:
    """The facilitator's hands on a running drill: its speed, pause, resume and end."""

    def __init__(self, speed: float | None = None) -> None:
        self.speed = speed
        """Simulated seconds per real second; None: as fast as the machine goes (offline)."""
        self._running = threading.Event()
        self._running.set()
        self._ended = threading.Event()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def end(self) -> None:
        self._ended.set()
        self._running.set()

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    def next_step(self, step: timedelta) -> bool:
        """Wait for the step's real time (and while paused); False once ended."""
        if self.speed is not None:
            self._ended.wait(step.total_seconds() / self.speed)
        self._running.wait()
        return not self.ended


class Drill:
    """One drill on a bot of its own: its own store (``work``), live status, metrics and
    outbox, so nothing of it touches production."""

    def __init__(
        self,
        scenario: Scenario,
        work: Path,
        poster: Poster | None = None,
        control: Control | None = None,
        *,
        exercise: bool = True,
        llm: dict[str, Any] | None = None,
        events: Callable[[], Iterator[tuple[datetime, bytes]]] | None = None,
        recorded: list[Recorded] | None = None,
        people: dict[str, str] | None = None,
        tell: Callable[[str], None] | None = None,
    ) -> None:
        """``exercise=False`` is a replay (``lanekeeper replay``): the same run, unmarked;
        ``llm`` holds the LLM settings (model, key, base URL) when summaries should use one.
        ``people``: role -> Slack user for the roles people play (they approve as the policy's
        approvers do, in the drill only); ``tell`` posts each inject where people see it."""
        self.scenario = scenario
        self.people = dict(people or {})
        self.tell = tell
        self.events, self.recorded = events, recorded or []
        """A recorded world instead of the simulated one: its events and its alert deliveries."""
        self.progress: Callable[[timedelta, int], None] | None = None
        """Called every simulated minute with the time and the events ingested so far."""
        self.events_ingested = 0
        self.now = scenario.start
        self.log = DrillLog(scenario, people=self.people)
        self.control = control or Control()
        self.transcript = Transcript(channel="#tabletop" if exercise else "#settlement-incidents", clock=lambda: self.now)
        settings = Settings(_env_file=None, database_url=f"sqlite:///{work / 'drill.db'}", **(llm or {}))
        if self.people:
            policy = drill_policy(work, settings.policy or DEFAULT_POLICY, self.people.values())
            settings = settings.model_copy(update={"policy": policy})
        target = poster or self.transcript
        self.bot = Bot(
            settings,
            clock=lambda: self.now,
            poster=Marked(target, EXERCISE) if exercise else target,
            pace=DRILL_PACE if poster is None else None,
        )
        # Nothing a drill or a replay approves executes: LANEKEEPER_ACTION_WEBHOOK in the
        # environment (a host where the production bot runs) is production's, never theirs.
        self.bot.actions.executor = EXERCISE_EXECUTOR if exercise else RUNBOOK
        self.checker = Checker(self.bot.policy, proposal_schema())
        self.ready = threading.Event()
        """Set once the drill's bot is started (its store migrated): it may take commands."""

    @property
    def offset(self) -> timedelta:
        return self.now - self.scenario.start

    def run(self) -> DrillLog:
        self.bot.start()
        self.ready.set()
        self.bot.on_notify.append(lambda note: self.log.note(self.offset, f"incident.{note.reason}", note.incident_id))
        try:
            timed: list[tuple[timedelta, int, Inject | ResponderStep | Recorded]] = [(i.at, 0, i) for i in self.scenario.injects]
            timed += [(r.at, 0, r) for r in self.recorded] + [(r.at, 1, r) for r in self.scenario.responders]
            steps = sorted(timed, key=lambda x: (x[0], x[1]))  # an inject goes before a response at the same time
            lines = self.events() if self.events is not None else self._lines()
            pending = next(lines, None)
            t = timedelta(0)
            while t <= self.scenario.duration:
                self.now = self.scenario.start + t
                batch: list[bytes] = []
                while pending is not None and pending[0] < self.now:
                    batch.append(pending[1])
                    pending = next(lines, None)
                if batch:
                    self.bot.ingestor.ingest([b"".join(batch)])
                    self.events_ingested += len(batch)
                if self.progress is not None and t.total_seconds() % 60 == 0:
                    self.progress(t, self.events_ingested)
                while steps and steps[0][0] <= t:
                    at, _, step = steps.pop(0)
                    if isinstance(step, ResponderStep):
                        self.now = self.scenario.start + at  # a scripted step is stamped at its own time, not the step's
                        self._respond_or_skip(step)
                        self.now = self.scenario.start + t
                    elif isinstance(step, Recorded):
                        self._alerts(step.alerts)
                    else:
                        self._inject(step)
                self.bot.tick()
                self.bot.drain(timeout=300)  # summaries land in event time, before the world moves on
                t += STEP
                if not self.control.next_step(STEP):
                    self.log.note(self.offset, "drill.ended", "ended by the facilitator")
                    break
            self.bot.drain(timeout=120)
            self._wrap_up()
        finally:
            self.bot.close()
        return self.log

    def _lines(self) -> Iterator[tuple[datetime, bytes]]:
        for line in world_lines(self.scenario):
            yield datetime.fromisoformat(json.loads(line)["ts"].replace("Z", "+00:00")), line.encode()

    def _respond_or_skip(self, step: ResponderStep) -> None:
        """The bot never plays a role a person holds: that step is theirs to take, or not."""
        person = self.people.get(step.role) if step.role else None
        if person is None:
            self._respond(step)
            return
        self.log.skipped.append((self.offset, step.role or "", person, step.do))
        self.log.note(self.offset, "scripted.skipped", f"{step.do}: the role {step.role} is played by a person", person)

    def _say(self, text: str) -> None:
        if self.tell is not None:
            self.tell(f"T+{_mmss(self.offset)} · {text}")

    def _inject(self, inject: Inject) -> None:
        if inject.alert is not None:
            self._say(f"Inject: alert {inject.alert.name} fires on {inject.alert.lane}: {inject.alert.summary}")
            alert = inject.alert
            payload = {
                "version": "4",
                "status": "firing",
                "receiver": "tabletop",
                "groupKey": f"tabletop:{alert.name}",
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {"alertname": alert.name, "lane": alert.lane, "severity": alert.severity, "exercise": "true"},
                        "annotations": {"summary": f"{EXERCISE}: {alert.summary}"},
                        "startsAt": stamp(self.scenario.start + inject.at),  # to the second, whatever the step
                        "endsAt": "0001-01-01T00:00:00Z",
                    }
                ],
            }
            if self.log.first_alert is None:  # the alert's own time (its startsAt), not the step's
                self.log.first_alert = inject.at
            self._alerts(parse_alertmanager(json.dumps(payload).encode()))
        elif inject.message is not None:
            self.log.note(self.offset, "inject.message", inject.message)
            self._say(f"Inject: {inject.message}")
        elif inject.ai_fault is not None:
            self._ai_fault(inject.ai_fault)

    def _alerts(self, batch: list[Alert]) -> None:
        self.bot.receive_alerts(batch)
        self.log.first_alert = self.log.first_alert if self.log.first_alert is not None else self.offset
        for alert in batch:
            self.log.note(self.offset, "inject.alert", f"{alert.name} on {alert.lane or '-'} ({alert.status})")
        self.bot.notify_due()

    def _ai_fault(self, fault: AiFault) -> None:
        """The planted proposal goes through the same validators as the LLM's would."""
        incident_id = newest_open_incident(self.bot.engine, fault.lane)
        if incident_id is None:
            self.log.note(self.offset, "inject.ai_fault", "no open incident to plant the proposal in; skipped")
            return
        context = load_context(self.bot.engine, self.bot.events, self.bot.policy, incident_id, self.bot.settings.lookback)
        doc: dict[str, Any] = {
            "schema_version": 1,
            "incident_id": incident_id,
            "headline": fault.headline,
            "severity": context.severity,
            "status": "investigating",
            "lanes": list(context.lanes),
            "window": {"start": stamp(context.window.start), "end": stamp(context.window.end)},
            "claims": [],
            "actions": [],
        }
        if fault.claim is not None:
            doc["claims"].append(
                {
                    "text": fault.claim.text,
                    "lane": fault.lane,
                    "fact": fault.claim.fact,
                    "value": fault.claim.value,
                    "evidence": [],
                }
            )
        if fault.action is not None:
            target = fault.action_lane or fault.lane
            doc["actions"].append({"kind": fault.action, "lane": target, "reason": fault.headline, "evidence": []})
        report = check_proposal(doc, context.events, self.checker)
        codes = sorted(report.codes)
        self.log.faults.append((fault, codes))
        verdict = f"stopped by {', '.join(codes)}" if codes else "NOT STOPPED: it would have been posted"
        self.log.note(self.offset, "inject.ai_fault", f"planted proposal “{fault.headline}”: {verdict}")
        self._say(f"Inject: a planted AI proposal ({fault.why}): {verdict}")

    def _respond(self, step: ResponderStep) -> None:
        words = step.do.split()
        try:
            if words == ["escalate"]:
                self.bot.desk.escalate(self._open_incident(), step.user)
            elif words in (["ack"], ["resolve"]):
                incident_id = self._open_incident()
                if words == ["ack"]:
                    self.bot.incidents.ack(incident_id, step.user)
                else:
                    self.bot.incidents.set_status(incident_id, "resolved", step.user)
            elif words[0] == "suggest" and len(words) == 3:
                suggestion = self.bot.actions.suggest(words[1], words[2], step.user)
                self.bot.post_action(suggestion)
                self.log.note(self.offset, "action.suggested", f"{words[1]} {words[2]} ({suggestion.action_id})", step.user)
            elif words[0] in ("approve", "reject") and len(words) == 3:
                self._vote(step, words[0], words[1], words[2])
            else:
                raise ValueError(f"unknown responder step {step.do!r}")
        except (ActionError, IncidentError) as exc:
            self.log.refusals.append((self.offset, step.user, f"{step.do}: {exc}"))
            self.log.note(self.offset, "refused", f"{step.do}: {exc}", step.user)

    def _vote(self, step: ResponderStep, decision: str, kind: str, lane: str) -> None:
        with self.bot.engine.connect() as conn:
            action_id = conn.scalar(
                select(actions.c.action_id).where(actions.c.kind == kind, actions.c.lane == lane, actions.c.status == "suggested")
            )
        if action_id is None:
            raise ActionError(f"no suggested {kind} {lane} to {decision}")
        state = self.bot.actions.vote(action_id, Ballot(step.user, "approve" if decision == "approve" else "reject"))
        self.bot.post_action(state)
        self.log.note(self.offset, f"action.{decision}", f"{kind} {lane}: {state.status}", step.user)

    def _open_incident(self) -> str:
        incident_id = newest_open_incident(self.bot.engine)
        if incident_id is None:
            raise IncidentError("no open incident")
        return incident_id

    def _wrap_up(self) -> None:
        scripted = {r.user for r in self.scenario.responders if r.role not in self.people} - set(self.people.values())
        found = read_decisions(self.bot.engine, self.scenario.start, lambda who: who in scripted)
        self.log.made = list(found.made)
        self.log.decided_by = found.reached
        self.log.decisions = {label: made.at for label, made in found.reached.items()}
        votes = [m for m in found.made if m.label.split()[0] in ("approve", "reject") and len(m.label.split()) == 3]
        self.log.approvals = [(m.at, m.who, m.label.split()[0], m.label.split(maxsplit=1)[1]) for m in votes]
        for m in found.made:
            self.log.note(m.at, "decision", f"{m.label} ({'scripted' if m.scripted else 'person'})", m.who)
        self.log.entries.sort(key=lambda e: e.at)
        with self.bot.engine.connect() as conn:
            self.log.waiting = [dict(w) for w in conn.execute(select(actions).where(actions.c.status == "suggested")).mappings()]
            self.log.attempts = [dict(r) for r in conn.execute(select(llm_calls).order_by(llm_calls.c.call_id)).mappings()]
        self.log.transcript = list(self.transcript.calls)


def drill_policy(work: Path, base: Path, people: Iterable[str]) -> Path:
    """The policy a drill with people runs under: ``base`` with the people added to its
    approvers (in the drill only, whose store and policy are its own), so a person playing
    an approving role can approve."""
    doc = yaml.safe_load(base.read_text(encoding="utf-8"))
    doc["approvers"] = list(dict.fromkeys([*doc.get("approvers", []), *people]))
    path = work / "policy.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _mmss(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 60}:{seconds % 60:02d}"


def world_lines(scenario: Scenario) -> Iterator[str]:
    """The scenario's settlement events as NDJSON lines in event time: its recorded events
    (a scenario made from an incident) or the simulator's."""
    if scenario.events is None:
        yield from simulator_for(scenario).lines()
        return
    with open(scenario.events, encoding="utf-8") as recorded:
        lines = [line if line.endswith("\n") else line + "\n" for line in recorded if line.strip()]
    yield from sorted(lines, key=lambda line: datetime.fromisoformat(json.loads(line)["ts"].replace("Z", "+00:00")))


def simulator_for(s: Scenario) -> Simulator:
    """The scenario's world; event ids carry the drill's namespace (``ex-NAME-…``)."""
    lanes = {name: LaneProfile(lane.chain, lane.settlements_per_s, lane.finality_s) for name, lane in s.lanes.items()}
    anomalies = [
        Anomaly(a.kind, a.lane, a.at.total_seconds(), a.for_.total_seconds(), a.rate, a.factor, a.size, a.bps)
        for a in s.anomalies
    ]
    return Simulator(
        lanes,
        start=s.start,
        seconds=int(s.duration.total_seconds()),
        seed=s.seed,
        anomalies=anomalies,
        reference_lane=s.reference_lane,
        id_prefix=f"ex-{s.name}",
    )


def run_offline(scenario: Scenario) -> DrillLog:
    with tempfile.TemporaryDirectory(prefix=f"lanekeeper-drill-{scenario.name}-") as tmp:
        return Drill(scenario, Path(tmp)).run()
