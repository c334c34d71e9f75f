"""Simultaneous clicks on one suggested action, through the real slack-bolt app with
requests signed as Slack signs them, and an action webhook on loopback that counts its
calls by idempotency key. Shared by tests/test_action_races.py and bench/action_races.py.

Each round suggests a new rollback (a new action, a new message), lets some votes land
first, then releases the rest at one instant (a barrier), and checks what came of it: the
webhook called exactly once for an executed action and never otherwise, and the action in
one of the lifecycle's statuses.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakes import FakeSlack, Reply, _Server, button_click, running, signed
from fastapi.testclient import TestClient
from helpers import wait_for
from sqlalchemy import func, select
from test_summaries import alertmanager, incident_events

from bot.actions.model import NEXT, Status
from bot.config import Settings
from bot.http.app import create_app
from bot.runtime import Bot
from bot.slack.blocks import APPROVE, REJECT
from bot.slack.outbox import Pace
from bot.store.tables import actions, approvals

SECRET = "signing-secret-for-races"
HOOK_SECRET = "hook-secret-for-races"
GROUP = "S0ONCALL"
APPROVERS = [f"U{i:02d}ONCALL" for i in range(1, 13)]
FINISHED: frozenset[str] = frozenset({"executed", "failed", "unknown", "rejected", "expired"})
STATUSES: frozenset[str] = frozenset(NEXT) | FINISHED
SCENARIOS: dict[str, tuple[list[str], list[str]]] = {
    # (votes that land first, one after the other; votes released together)
    "approve-approve": (["approve"], ["approve", "approve"]),
    "approve-reject": (["approve"], ["approve", "reject"]),
    "reject-approve-at-once": ([], ["approve", "reject"]),
    "ten-approvers": ([], ["approve"] * 10),
}
FAST = Pace(post_burst=10_000, posts_per_second=10_000.0, update_burst=10_000, updates_per_second=10_000.0)
"""Slack's pacing off: a round posts a new message, and the rounds are about the votes."""


class Receiver:
    """The action webhook: checks each call's signature and counts calls per idempotency key."""

    def __init__(self, delay: float = 0.0, status: int = 200) -> None:
        self.calls: Counter[str] = Counter()
        self.bad_signatures = 0
        self.delay, self.status = delay, status
        self._lock = threading.Lock()
        self._server = _Server(self._handle)
        self.url = self._server.url + "/execute"

    def _handle(self, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        stamp = headers.get("x-lanekeeper-timestamp", "")
        expected = "sha256=" + hmac.new(HOOK_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        with self._lock:
            self.calls[headers.get("idempotency-key", "")] += 1
            self.bad_signatures += not hmac.compare_digest(expected, headers.get("x-lanekeeper-signature", ""))
        return Reply(status=self.status, body={"received": json.loads(body)["action_id"]}, delay=self.delay)


@dataclass
class Tally:
    rounds: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    double_executions: int = 0
    executed_without_call: int = 0
    called_but_not_executed: int = 0
    rejected_but_called: int = 0
    unknown_states: int = 0

    @property
    def defects(self) -> int:
        return (
            self.double_executions
            + self.executed_without_call
            + self.called_but_not_executed
            + self.rejected_but_called
            + self.unknown_states
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "rounds": sum(self.rounds.values()),
            "rounds_by_scenario": dict(self.rounds),
            "outcomes": dict(self.outcomes),
            "double_executions": self.double_executions,
            "executed_without_call": self.executed_without_call,
            "called_but_not_executed": self.called_but_not_executed,
            "rejected_but_called": self.rejected_but_called,
            "unknown_states": self.unknown_states,
        }


def race_policy(folder: Path) -> Path:
    """The default policy with the approvers as one Slack user group (listed by the fake)."""
    text = (Path(__file__).resolve().parent.parent / "bot" / "defaults" / "policy.yaml").read_text()
    path = folder / "policy.yaml"
    path.write_text(text.replace("approvers: [U01ONCALL, U02LEAD]", f"approvers: [{GROUP}]"))
    return path


class RaceWorld:
    def __init__(self, bot: Bot, client: TestClient, slack: FakeSlack, receiver: Receiver) -> None:
        self.bot, self.client, self.slack, self.receiver = bot, client, slack, receiver
        self.tally = Tally()

    def click(self, action_id: str, user: str, decision: str) -> None:
        respond = self.slack.url.removesuffix("/api/") + f"/respond/{action_id}"
        button = APPROVE if decision == "approve" else REJECT
        body = button_click(button, action_id, user=user, channel="C0INCIDENT", response_url=respond)
        assert self.client.post("/slack/events", content=body, headers=signed(body, SECRET)).status_code == 200

    def answered(self, action_id: str) -> int:
        """Clicks on the action that were counted (a vote stored) or refused (an ephemeral reply)."""
        with self.bot.engine.connect() as conn:
            votes = conn.scalar(select(func.count()).select_from(approvals).where(approvals.c.action_id == action_id)) or 0
        return int(votes) + len(self.slack.of(action_id))

    def round(self, scenario: str) -> None:
        first, together = SCENARIOS[scenario]
        suggestion = self.bot.actions.suggest("rollback", "l2-arb", APPROVERS[0])
        self.bot.post_action(suggestion)
        self.bot.drain()  # its message is posted: votes count only where it was
        action_id, voters = suggestion.action_id, iter(APPROVERS)
        for i, decision in enumerate(first, start=1):
            self.click(action_id, next(voters), decision)
            wait_for(lambda i=i: self.answered(action_id) >= i, what="a first vote")  # type: ignore[misc]
        gate = threading.Barrier(len(together))

        def at_once(user: str, decision: str) -> None:
            gate.wait()
            self.click(action_id, user, decision)

        threads = [threading.Thread(target=at_once, args=(next(voters), d)) for d in together]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        clicks = len(first) + len(together)
        wait_for(lambda: self.answered(action_id) >= clicks, timeout=60, what="every click answered")
        status = wait_for(lambda: self._finished(action_id), timeout=60, what="the action decided")
        self.tally.rounds[scenario] += 1
        self.tally.outcomes[status] += 1

    def _finished(self, action_id: str) -> str | None:
        status = self.bot.actions.state(action_id).status
        return status if status in FINISHED else None

    def settle(self) -> Tally:
        """Judge every round once all is quiet: late calls still count against their action."""
        self.bot.drain()
        with self.bot.engine.connect() as conn:
            rows = conn.execute(select(actions.c.action_id, actions.c.status)).all()
        for action_id, status in rows:
            self._judge(action_id, status)
        return self.tally

    def _judge(self, action_id: str, status: Status) -> None:
        calls = self.receiver.calls[action_id]
        t = self.tally
        t.double_executions += calls > 1
        t.executed_without_call += status == "executed" and calls == 0
        t.called_but_not_executed += status not in ("executed", "unknown") and calls > 0
        t.rejected_but_called += status == "rejected" and calls > 0
        t.unknown_states += status not in STATUSES


@contextmanager
def race_world(database_url: str, folder: Path, *, webhook_delay: float = 0.0) -> Iterator[RaceWorld]:
    receiver = Receiver(webhook_delay)
    slack = FakeSlack()
    slack.groups[GROUP] = APPROVERS
    with running(slack), _serving(receiver):
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=database_url,
            policy=race_policy(folder),
            slack_bot_token="xoxb-race-token-0000",
            slack_signing_secret=SECRET,
            channel="C0INCIDENT",
            slack_api_url=slack.url,
            action_webhook=receiver.url,
            action_webhook_secret=HOOK_SECRET,
        )
        bot = Bot(settings, pace=FAST)
        bot.start()
        try:
            with TestClient(create_app(bot, background=False)) as client:
                assert client.post("/events", content=incident_events()).status_code == 200
                assert client.post("/webhooks/alertmanager", content=alertmanager()).status_code == 200
                bot.drain()
                yield RaceWorld(bot, client, slack, receiver)
        finally:
            bot.close()


@contextmanager
def _serving(receiver: Receiver) -> Iterator[Receiver]:
    receiver._server.start()
    try:
        yield receiver
    finally:
        receiver._server.stop()
