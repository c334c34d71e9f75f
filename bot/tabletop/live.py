"""Drills in Slack: ``/tabletop start SCENARIO [speed]`` in a drill channel.

Each drill runs on a bot of its own (``Drill``: its own store, live status, metrics and
outbox) on a thread, at ``speed`` simulated seconds per real second. Commands and buttons
in that channel go to the drill's bot, never production's; every message it posts is
marked EXERCISE; approvals are recorded and nothing executes. The facilitator can pause,
resume and end it; when it ends, the after-action report is posted to the channel and
uploaded as Markdown.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from slack_sdk import WebClient

from bot.runtime import Bot
from bot.slack.blocks import context_block, escape, section
from bot.slack.poster import SlackPoster
from bot.slack.uploads import upload
from bot.store.engine import make_engine
from bot.tabletop.report import expectations, render
from bot.tabletop.runner import EXERCISE, Control, Drill
from bot.tabletop.scenario import Scenario

log = logging.getLogger(__name__)
MAX_SPEED = 3600.0


class DrillError(ValueError):
    """A facilitator's request that cannot be done; the message says why."""


@dataclass
class Session:
    scenario: Scenario
    drill: Drill
    control: Control
    started_by: str
    thread: threading.Thread
    work: tempfile.TemporaryDirectory[str]
    people: dict[str, str]
    report: str = ""
    thread_ts: str | None = None
    """The drill's thread: its opening message, where every inject and the report reply."""


READY_WAIT_S = 2.0
"""Well inside Slack's 3 s for an answer; a drill's bot starts in a fraction of that."""


def _roles_known(scenario: Scenario, people: dict[str, str]) -> None:
    unknown = sorted(set(people) - set(scenario.roles))
    if unknown:
        roles = ", ".join(f"`{r}`" for r in scenario.roles) or "none"
        raise DrillError(f"{scenario.name} has no role {', '.join(unknown)}; its roles: {roles}.")


class LiveDrills:
    def __init__(self, client: WebClient, production_channel: str | None) -> None:
        self.client = client
        self.production = (production_channel or "").lstrip("#")
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def bot_for(self, channel_id: str) -> Bot | None:
        """The drill's bot when a drill runs in ``channel_id``: its commands and buttons go there
        (a command sent the moment the drill starts waits, briefly, for its bot to be ready)."""
        with self._lock:
            session = self._sessions.get(channel_id)
        if session is None or not session.thread.is_alive():
            return None
        session.drill.ready.wait(READY_WAIT_S)
        return session.drill.bot

    def start(
        self,
        channel_id: str,
        channel_name: str,
        scenario: Scenario | Callable[[Path], Scenario],
        speed: float,
        user_id: str,
        *,
        people: dict[str, str] | None = None,
    ) -> str:
        """``scenario``, or what makes it in the drill's own folder (a drill of a real
        incident writes its events there); ``people``: role -> Slack user, the bot plays only
        the roles no one holds."""
        people = dict(people or {})
        if channel_name.lstrip("#") == self.production or channel_id == self.production:
            raise DrillError("Drills run in a channel of their own, never in the production incident channel.")
        if not 0 < speed <= MAX_SPEED:
            raise DrillError(f"Speed is simulated seconds per real second, above 0 and at most {MAX_SPEED:g}.")
        with self._lock:
            running = self._sessions.get(channel_id)
            if running is not None and running.thread.is_alive():
                raise DrillError(f"{running.scenario.name} is already running here; `/tabletop end` it first.")
            work = tempfile.TemporaryDirectory(prefix="lanekeeper-drill-")
            try:
                scenario = scenario(Path(work.name)) if callable(scenario) else scenario
                _roles_known(scenario, people)
            except ValueError:
                work.cleanup()
                raise
            engine = make_engine(f"sqlite:///{Path(work.name) / 'drill.db'}")
            control = Control(speed)
            poster = SlackPoster(self.client, channel_id, engine, lambda: datetime.now(UTC))
            drill = Drill(
                scenario,
                Path(work.name),
                poster=poster,
                control=control,
                people=people,
                tell=lambda text: self._tell(channel_id, text),
            )
            thread = threading.Thread(target=self._run, args=(channel_id,), name=f"drill-{scenario.name}", daemon=True)
            self._sessions[channel_id] = Session(scenario, drill, control, user_id, thread, work, people)
        thread.start()
        minutes = scenario.duration.total_seconds() / speed / 60
        return f"{EXERCISE}: {scenario.title} starts now, at {speed:g}x ({minutes:.1f} min). Started by <@{user_id}>."

    def _open_thread(self, channel_id: str, session: Session) -> None:
        """The drill's opening message: who plays what; every inject and the report reply to it."""
        s = session.scenario
        roles = [f"{escape(r)}: <@{session.people[r]}>" if r in session.people else f"{escape(r)}: scripted" for r in s.roles]
        text = f"[{EXERCISE}] Drill: {s.title}"
        body = escape(text) + ("\nRoles — " + " · ".join(roles) if roles else "")
        blocks = [context_block(f"*{EXERCISE}*"), section(body)]
        session.thread_ts = str(self.client.chat_postMessage(channel=channel_id, text=text, blocks=blocks)["ts"])

    def _tell(self, channel_id: str, text: str) -> None:
        session = self._sessions[channel_id]
        line = f"[{EXERCISE}] {text}"
        self.client.chat_postMessage(channel=channel_id, thread_ts=session.thread_ts, text=line, blocks=[section(escape(line))])

    def _run(self, channel_id: str) -> None:
        session = self._sessions[channel_id]
        try:
            self._open_thread(channel_id, session)
            session.report = render(session.drill.run())
            self._post_report(channel_id, session, session.report)
        except Exception:  # a broken drill must say so in its channel, not vanish
            log.exception("drill %s failed", session.scenario.name)
            self.client.chat_postMessage(
                channel=channel_id, text=f"[{EXERCISE}] {session.scenario.name} failed; see the server log."
            )
        finally:
            session.work.cleanup()

    def _post_report(self, channel_id: str, session: Session, report: str) -> None:
        """In the drill's thread: the verdicts, who made each decision (people apart from the
        script), and the whole report as a Markdown file."""
        log = session.drill.log
        rows = expectations(log)
        lines = [f"{label}: {verdict}" + (f" ({took})" if took is not None else "") for label, _, took, verdict in rows]
        people = sum(1 for m in log.made if not m.scripted)
        lines.append(f"{people} decision(s) by people, {len(log.made) - people} scripted")
        text = f"[{EXERCISE}] After-action report: {session.scenario.title}"
        blocks = [
            context_block(f"*{EXERCISE}*"),
            section(f"*{escape(text)}*"),
            section(escape("\n".join(lines) or "no expectations")),
        ]
        self.client.chat_postMessage(channel=channel_id, thread_ts=session.thread_ts, text=text, blocks=blocks)
        name = f"{session.scenario.name}-after-action.md"
        upload(self.client, channel_id, report, name, text, thread_ts=session.thread_ts)

    def wait(self, channel_id: str) -> str:
        """Block until the drill in ``channel_id`` ends; its after-action report."""
        session = self._session(channel_id)
        session.thread.join()
        return session.report

    def status(self, channel_id: str) -> str:
        session = self._session(channel_id)
        state = "ended" if not session.thread.is_alive() else ("paused" if session.control.paused else "running")
        offset = session.drill.offset
        minutes, seconds = divmod(int(offset.total_seconds()), 60)
        return f"{EXERCISE}: {session.scenario.name} {state} at T+{minutes}:{seconds:02d} of {session.scenario.duration}."

    def pause(self, channel_id: str) -> str:
        self._session(channel_id).control.pause()
        return self.status(channel_id)

    def resume(self, channel_id: str) -> str:
        self._session(channel_id).control.resume()
        return self.status(channel_id)

    def end(self, channel_id: str) -> str:
        session = self._session(channel_id)
        session.control.end()
        return f"{EXERCISE}: {session.scenario.name} ends; the after-action report follows."

    def _session(self, channel_id: str) -> Session:
        with self._lock:
            session = self._sessions.get(channel_id)
        if session is None:
            raise DrillError("No drill here; `/tabletop start SCENARIO [speed]` starts one (`/tabletop list` names them).")
        return session

    def close(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            session.control.end()
            session.thread.join(timeout=30)
