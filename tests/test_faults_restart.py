"""The bot killed with -9 mid-incident, and PostgreSQL restarted mid-ingest: after a
restart the incident carries on where it stopped (the card posted once, the summary run
to its end, each suggested action posted once), and the server rides out a database
restart by itself with no event lost and none stored twice."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes import FakeOpenAI, FakeSlack, Reply, rollback_proposal, running
from helpers import wait_for
from server import ServerProcess, bot_env
from sqlalchemy import select
from stores import empty, migrated
from test_crash import payload, stored_ids  # noqa: F401 (payload is a fixture)
from test_summaries import alertmanager, incident_events

from bot.store.tables import actions, incidents
from validators.ndjson import parse_events


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with running(FakeSlack()) as fake:
        yield fake


def open_incident(server: ServerProcess) -> str:
    assert httpx.post(server.url + "/events", content=incident_events()).json()["stored"] == 42
    answer = httpx.post(server.url + "/webhooks/alertmanager", content=alertmanager()).json()
    [incident] = answer["incidents"]
    return str(incident)


def summarized(slack: FakeSlack) -> bool:
    """The card was edited into the validated summary and the suggested action posted."""
    updates = [json.dumps(c.args["blocks"]) for c in slack.of("chat.update")]
    return any("Suggested (needs approval, in the thread)" in u for u in updates) and any(
        p.startswith("action:") for _, p in slack.owners()
    )


def assert_each_message_once(slack: FakeSlack, incident: str) -> None:
    owners = Counter(slack.owners())
    assert owners[(incident, "card")] == 1, owners
    assert all(n == 1 for n in owners.values()), owners
    card_ts = slack.history[slack.owners().index((incident, "card"))]["ts"]
    assert {c.args["ts"] for c in slack.of("chat.update")} <= {m["ts"] for m in slack.history}
    assert card_ts in {c.args["ts"] for c in slack.of("chat.update")}, "the summary edits the card posted before the crash"


def dead(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


def test_kill_9_while_slack_holds_the_cards_answer_posts_it_once_after_restart(
    database_url: str, tmp_path: Path, slack: FakeSlack
) -> None:
    with running(FakeOpenAI(responder=rollback_proposal)) as llm:
        env = bot_env(database_url, slack.url, llm.url, LANEKEEPER_SUMMARY_DEBOUNCE="0s")
        slack.slow["chat.postMessage"] = 120  # Slack takes the card; the bot never hears back
        server = ServerProcess(env, tmp_path / "server.log").start()
        incident = open_incident(server)
        wait_for(lambda: slack.posts("card"), timeout=30, what="the card to reach Slack")
        wait_for(lambda: llm.requests, timeout=30, what="the summary to start")
        server.kill()
        slack.slow.clear()
        server = ServerProcess(env, tmp_path / "server.log").start()
        try:
            wait_for(lambda: summarized(slack), timeout=30, what="the summary and the action after the restart")
        finally:
            server.stop()
        assert_each_message_once(slack, incident)
        assert slack.of("conversations.history"), "the unanswered post was looked for, not repeated"


def test_kill_9_while_the_llm_thinks_runs_the_summary_again_after_restart(
    database_url: str, tmp_path: Path, slack: FakeSlack
) -> None:
    held = threading.Event()

    def thinking_forever_then_answering(request: dict[str, Any]) -> Reply:
        if not held.is_set():
            held.set()
            return Reply(content="{}", delay=120)  # the process is killed while it waits
        return rollback_proposal(request)

    with running(FakeOpenAI(responder=thinking_forever_then_answering)) as llm:
        env = bot_env(database_url, slack.url, llm.url, LANEKEEPER_SUMMARY_DEBOUNCE="0s")
        server = ServerProcess(env, tmp_path / "server.log").start()
        incident = open_incident(server)
        wait_for(lambda: slack.posts("card") and held.is_set(), timeout=30, what="the card, and the LLM thinking")
        children = server.tree()[1:]
        assert children, "the live-status and summary processes run under the server"
        server.kill()
        wait_for(lambda: all(dead(pid) for pid in children), timeout=10, what="the server's children to die with it")
        server = ServerProcess(env, tmp_path / "server.log").start()
        try:
            wait_for(lambda: summarized(slack), timeout=30, what="the summary run again after the restart")
            detail = httpx.get(f"{server.url}/incidents/{incident}").json()
        finally:
            server.stop()
        assert_each_message_once(slack, incident)
        assert [a["outcome"] for a in detail["llm_attempts"]] == ["validated"], "the killed attempt left no verdict"
        engine = migrated(database_url)
        try:
            with engine.connect() as conn:
                assert len(conn.execute(select(actions).where(actions.c.incident_id == incident)).all()) == 1
                assert conn.scalar(select(incidents.c.summary_wanted_at).where(incidents.c.incident_id == incident)) is None
        finally:
            engine.dispose()


def pg_restart_command() -> list[str] | None:
    if shutil.which("pg_ctlcluster") is None or not Path("/etc/postgresql").is_dir():
        return None
    version = sorted(os.listdir("/etc/postgresql"))[0]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"]


class Producer(threading.Thread):
    """A settlement-event sender as they are written: each body is re-sent until it is
    acknowledged (a 503 or a broken connection means: not committed, send again)."""

    def __init__(self, url: str, bodies: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.url, self.bodies = url, bodies
        self.acked = 0
        self.statuses: Counter[int | str] = Counter()

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            for body in self.bodies:
                while True:
                    try:
                        status = client.post(self.url + "/events", content=body).status_code
                    except httpx.TransportError as exc:
                        self.statuses[type(exc).__name__] += 1
                        time.sleep(0.2)
                        continue
                    self.statuses[status] += 1
                    if status == 200:
                        self.acked += 1
                        break
                    time.sleep(0.2)


@pytest.mark.serial
@pytest.mark.skipif(pg_restart_command() is None, reason="needs the machine's PostgreSQL cluster (pg_ctlcluster)")
def test_postgresql_restarted_mid_ingest_loses_nothing_and_the_server_recovers_by_itself(
    postgres_url: str,
    tmp_path: Path,
    payload: bytes,  # noqa: F811 (the fixture)
) -> None:
    engine = migrated(postgres_url)
    empty(engine)
    engine.dispose()
    sent, _ = parse_events([payload])
    lines = payload.splitlines(keepends=True)
    bodies = [b"".join(lines[i : i + 2000]) for i in range(0, len(lines), 2000)]
    server = ServerProcess({"LANEKEEPER_DATABASE_URL": postgres_url}, tmp_path / "server.log").start()
    try:
        producer = Producer(server.url, bodies)
        producer.start()
        wait_for(lambda: producer.acked >= len(bodies) // 4, timeout=30, what="a quarter of the stream acknowledged")
        command = pg_restart_command()
        assert command is not None
        subprocess.run(command, check=True, capture_output=True, timeout=60)
        producer.join(timeout=240)
        assert not producer.is_alive(), "the producer finished"
        wait_for(lambda: httpx.get(server.url + "/healthz").status_code == 200, timeout=30, what="health after the restart")
        alert = httpx.post(server.url + "/webhooks/alertmanager", content=alertmanager())
        assert alert.status_code == 200, alert.text
    finally:
        server.stop()
    assert set(producer.statuses) - {200}, f"the restart must have hit the ingest: {producer.statuses}"
    assert set(producer.statuses) <= {200, 503, "RemoteProtocolError", "ReadError", "ConnectError"}, producer.statuses
    ids = stored_ids(postgres_url)
    assert len(ids) == len(sent), "every event stored exactly once"
    assert set(ids) == {e.event_id for e in sent}
