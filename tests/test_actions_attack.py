"""Attacks on the action-approval path (issue 14), each pinned by a test that fails while
the defect is there: a doubled or unwanted webhook call, or a message that misleads the
person reading it."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes import FakeOpenAI, FakeSlack, rollback_proposal, running
from fastapi.testclient import TestClient
from helpers import wait_for
from races import FINISHED, HOOK_SECRET, Receiver, _serving, race_world
from sqlalchemy import insert, select, update
from stores import running as running_bot
from stores import sqlite_url, store
from test_actions import action_world, approve_twice, crash, refusals, shown, status, suggest, webhook_world
from test_slack_app import LEAD, ONCALL, SECRET, Slack
from test_summaries import alertmanager, incident_events, world_for

from bot.actions import ActionError, ActionState, Ballot, Webhook
from bot.http.app import create_app
from bot.replay.run import replay
from bot.slack.blocks import action_purpose
from bot.slack.poster import posted
from bot.store.engine import make_engine, upgrade
from bot.store.events import EventStore
from bot.store.tables import actions, incidents
from validators.ndjson import parse_events
from validators.policy import PolicyError, parse_policy


def final_message(world, action_id: str) -> str:  # type: ignore[no-untyped-def]
    """The last version of the action's message Slack was sent (post, then edits by ts)."""
    state = world.bot.actions.state(action_id)
    found = posted(world.bot.engine, state.incident_id, action_purpose(action_id))
    assert found is not None, f"{action_id} was never posted"
    versions = [
        json.dumps(c.args["blocks"], ensure_ascii=False)
        for c in world.slack.calls
        if (
            c.method == "chat.postMessage"
            and (c.args.get("metadata") or {}).get("event_payload", {}).get("purpose") == action_purpose(action_id)
        )
        or (c.method == "chat.update" and c.args.get("ts") == found[1])
    ]
    return versions[-1]


# --- messages -------------------------------------------------------------------------------


def test_after_simultaneous_approvals_the_message_ends_showing_the_final_status_without_buttons(
    database_url: str, tmp_path: Path
) -> None:
    stale: list[tuple[str, str, bool]] = []
    with race_world(database_url, tmp_path) as world:
        for _ in range(8):
            world.round("ten-approvers")
        world.settle()
        world.bot.drain()
        for action_id in set(world.receiver.calls):
            ended = world.bot.actions.state(action_id).status
            assert ended in FINISHED
            last = final_message(world, action_id)
            if '"lk_approve"' in last or f"{ended} ·" not in last:
                shows = re.search(r'"text": "(\w+) · \d+ of', last)
                stale.append((ended, shows.group(1) if shows else "?", '"lk_approve"' in last))
    assert stale == []


# --- drills and replays ---------------------------------------------------------------------


def test_lanekeeper_replay_never_calls_the_action_webhook_set_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``lanekeeper replay`` on a host where the production bot runs: the bundled scenario's
    responders approve a rollback of l2-arb. A replay is not production; nothing may execute."""
    receiver = Receiver()
    with _serving(receiver):
        monkeypatch.setenv("LANEKEEPER_ACTION_WEBHOOK", receiver.url)
        monkeypatch.setenv("LANEKEEPER_ACTION_WEBHOOK_SECRET", HOOK_SECRET)
        result = replay("l2-arb-failure-spike")
    assert '"rollback l2-arb' in json.dumps(result.calls) or "rollback l2-arb" in json.dumps(result.calls)
    assert receiver.calls == {}, f"the replay called the production action webhook: {dict(receiver.calls)}"


# --- crash, restart, upgrade ------------------------------------------------------------------


@pytest.mark.parametrize("store_name", ["sqlite", "postgresql"])
def test_upgrading_to_0005_never_calls_the_webhook_for_an_action_approved_before_it(tmp_path: Path, store_name: str) -> None:
    """Before 0005 an approval called the webhook (or handed it to the runbook) and left the
    action ``approved``; 0005 adds ``outcome`` empty. The first start after the upgrade must
    not take those for approvals whose approver died before the call."""
    receiver = Receiver()
    with _serving(receiver), store(store_name, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine, "0004")
        events, _ = parse_events([incident_events()])
        EventStore(engine).insert(events)
        now = datetime.now(UTC)
        incident = {"group_key": "g", "lanes": ["l2-arb"], "status": "open", "title": "t", "pending_change": False}
        row = {"kind": "rollback", "lane": "l2-arb", "reason": "r", "evidence": [], "approvals_needed": 2}
        with engine.begin() as conn:
            conn.execute(
                insert(incidents).values(incident_id="inc-1", opened_at=now, updated_at=now, first_alert_at=now, **incident)
            )
            conn.execute(  # approved 20 minutes ago by the old code, which called the webhook then
                insert(actions).values(
                    action_id="act-old",
                    incident_id="inc-1",
                    status="approved",
                    created_at=now - timedelta(minutes=25),
                    decided_at=now - timedelta(minutes=20),
                    **row,
                )
            )
        engine.dispose()
        bot = running_bot(url, action_webhook=receiver.url, action_webhook_secret=HOOK_SECRET)
        try:
            bot.tick()
            state = bot.actions.state("act-old")
        finally:
            bot.close()
    assert receiver.calls == {}, f"the upgrade executed an action approved before it: {dict(receiver.calls)}"
    assert state.status != "executed"


def test_an_approval_cut_short_is_not_executed_once_its_incident_was_resolved(database_url: str) -> None:
    """The bot died between the approval's commit and the call; people, told nothing, acted
    by hand and resolved the incident. The next start must not execute it now."""
    receiver = Receiver()
    with _serving(receiver):
        for world in webhook_world(database_url, receiver):
            slack = Slack(world)
            incident_id = world.open_incident()
            action_id = suggest(slack)
            crash(world, action_id, status="approved", decided_at=world.bot.clock() - timedelta(minutes=5))
            world.bot.incidents.set_status(incident_id, "resolved", LEAD)
            world.bot.tick()
            state = world.bot.actions.state(action_id)
    assert receiver.calls == {}, "an action of a resolved incident was executed"
    assert state.status == "expired"


# --- the webhook ----------------------------------------------------------------------------------


class RawReceiver:
    """An action webhook on loopback that answers however ``answer`` writes to the socket
    (after reading the whole request); counts the requests it read."""

    def __init__(self, answer: Callable[[socket.socket], None]) -> None:
        self.answer, self.calls = answer, 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/execute"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RawReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._listener.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, body = data.split(b"\r\n\r\n", 1)
            length = int(next(h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")))
            while len(body) < length:
                body += conn.recv(65536)
            self.calls += 1
            with contextlib.suppress(OSError):
                self.answer(conn)


def dribbling(seconds: float, gap: float) -> Callable[[socket.socket], None]:
    """200 at once, then its body a byte every ``gap`` seconds for ``seconds``: every read
    gets a byte well within any per-read timeout."""

    def answer(conn: socket.socket) -> None:
        n = int(seconds / gap)
        conn.sendall(f"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {n}\r\n\r\n".encode())
        for _ in range(n):
            time.sleep(gap)
            conn.sendall(b".")

    return answer


def an_action(action_id: str = "act-attack") -> ActionState:
    return ActionState(action_id, "inc-1", "rollback", "l2-arb", "r", "executing", 2)


def test_a_webhook_call_never_outlasts_longest_s_which_the_sweep_relies_on() -> None:
    """``longest_s`` (4x the timeout) is what a crashed call is judged by: past it (plus 30 s)
    any replica says "the bot stopped" and the outcome is lost. httpx's timeout bounds each
    read, not the call: an answer that trickles in outlives it."""
    with RawReceiver(dribbling(seconds=3.0, gap=0.1)) as receiver:
        started = time.monotonic()
        hook = Webhook(receiver.url, "s", timeout_s=0.2)
        outcome = hook.call(an_action())
        took = time.monotonic() - started
    # Cut at its own deadline (0.8 s), long before the receiver's 3 s were over; the margin is
    # wide so that a busy machine cannot fail it, and narrow enough that no deadline cannot pass.
    assert took < 2.5, f"the call took {took:.1f}s, longest_s is {hook.longest_s:.1f}s ({outcome})"


def trickled_status(seconds: float) -> Callable[[socket.socket], None]:
    """The status line and headers a byte at a time over ``seconds`` (a receiver behind a
    struggling proxy): every read gets a byte well within any per-read timeout."""

    def answer(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
        for byte in head:
            time.sleep(seconds / len(head))
            conn.sendall(bytes([byte]))

    return answer


def test_a_webhook_call_never_outlasts_longest_s_even_when_its_status_line_trickles() -> None:
    with RawReceiver(trickled_status(seconds=3.0)) as receiver:
        started = time.monotonic()
        hook = Webhook(receiver.url, "s", timeout_s=0.2)
        outcome = hook.call(an_action())
        took = time.monotonic() - started
    # Cut at its own deadline (0.8 s), long before the receiver's 3 s were over; the margin is
    # wide so that a busy machine cannot fail it, and narrow enough that no deadline cannot pass.
    assert took < 2.5, f"the call took {took:.1f}s, longest_s is {hook.longest_s:.1f}s ({outcome})"


def test_a_replica_never_says_the_bot_stopped_while_the_call_is_in_flight_and_answered(tmp_path: Path) -> None:
    """Two replicas, the same settings. The receiver answers 200 at once and trickles its
    body for 5 s. Before the call had one deadline, it lasted the whole trickle, and the
    other replica's tick (once the call's 'longest' was past) said the bot stopped and the
    200 was lost. Now the status is read, the body is not, and the call is over at once."""
    url = sqlite_url(tmp_path)
    with RawReceiver(dribbling(seconds=5.0, gap=0.1)) as receiver:
        for world in action_world(url, action_webhook=receiver.url, action_webhook_secret="s", action_webhook_timeout="200ms"):
            slack = Slack(world)
            action_id = approve_twice(world, slack)
            replica = running_bot(url, world.clock, **world.bot.settings.model_dump(exclude={"database_url", "slack_bot_token"}))
            try:
                final = wait_for(lambda: world.bot.actions.state(action_id) if status(world, action_id) in FINISHED else None)  # noqa: B023
                world.clock.advance(60)  # far past the call's longest: the replica may judge it now
                replica.tick()
            finally:
                replica.close()
            assert receiver.calls == 1
            assert world.bot.actions.state(action_id) == final
    assert (final.status, final.outcome) == ("executed", "executed: the action webhook answered 200")


def gzip_that_is_not(conn: socket.socket) -> None:
    body = b"this is not gzip"
    head = f"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: {len(body)}\r\n\r\n".encode()
    conn.sendall(head + body)


def test_a_2xx_whose_body_cannot_be_decoded_is_an_outcome_not_an_exception() -> None:
    with RawReceiver(gzip_that_is_not) as receiver:
        outcome = Webhook(receiver.url, "s", timeout_s=2.0).call(an_action())
    assert outcome.status == "executed"


def test_a_2xx_whose_body_cannot_be_decoded_does_not_leave_the_action_executing_with_its_buttons(database_url: str) -> None:
    with RawReceiver(gzip_that_is_not) as receiver:
        for world in action_world(database_url, action_webhook=receiver.url, action_webhook_secret="s"):
            slack = Slack(world)
            action_id = approve_twice(world, slack)
            state = wait_for(lambda: world.bot.actions.state(action_id) if status(world, action_id) in FINISHED else None)  # noqa: B023
            last = shown(world, action_id, state.outcome or "")
    assert state.status == "executed", f"{state.status}: {state.outcome}"
    assert '"lk_approve"' not in last


# --- without a webhook: the runbook ---------------------------------------------------------------

DEPUTY = "U03DEPUTY"


def three_approvers(folder: Path) -> Path:
    text = (Path(__file__).resolve().parent.parent / "bot" / "defaults" / "policy.yaml").read_text()
    path = folder / "policy.yaml"
    path.write_text(text.replace("approvers: [U01ONCALL, U02LEAD]", f"approvers: [U01ONCALL, U02LEAD, {DEPUTY}]"))
    return path


def test_a_late_reject_never_tells_people_a_runbook_approval_will_not_be_executed(database_url: str, tmp_path: Path) -> None:
    """No webhook: two approvals hand the rollback to a person ("execute it per runbook"),
    who starts. A third approver's click on the buttons still on their screen (the edit had
    not reached them) must not turn it into "rejected: it will not be executed"."""
    for world in action_world(database_url, policy=three_approvers(tmp_path)):
        slack = Slack(world)
        action_id = approve_twice(world, slack)
        shown_runbook = shown(world, action_id, "execute it per runbook")
        assert '"lk_approve"' not in shown_runbook
        slack.click("lk_reject", action_id, DEPUTY, reason="wait")
        wait_for(lambda: refusals(slack) or len(world.bot.actions.state(action_id).votes) == 3)  # noqa: B023
        state = world.bot.actions.state(action_id)
        assert state.status == "approved", f"{state.status}: {state.outcome}"


def test_after_a_runbook_approval_the_lane_can_be_suggested_again(database_url: str) -> None:
    """No webhook: an approved rollback is handed to a person and the bot's part ends. It
    stays ``approved`` (open) for ever, so the next /rollback of that lane in the incident is
    refused with "vote on its message", a message with no buttons left."""
    for world in action_world(database_url):
        slack = Slack(world)
        first = approve_twice(world, slack)
        shown(world, first, "execute it per runbook")
        again = slack.command("/rollback", "l2-arb").json()["text"]
        assert " suggested (act-" in again, again


# --- the AI's suggestions -------------------------------------------------------------------------


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_re_summary_does_not_suggest_again_an_action_people_just_decided(database_url: str, decision: str) -> None:
    """The model suggests rolling back l2-arb; people approve it (executed) or reject it. A
    new alert re-summarizes the incident a minute later: the same rollback comes back as a
    new message with live buttons and nothing saying it was executed or rejected already."""
    receiver = Receiver()
    with _serving(receiver), running(FakeOpenAI(responder=rollback_proposal)) as llm, running(FakeSlack()) as fake:
        options = {
            "slack_signing_secret": SECRET,
            "action_webhook": receiver.url,
            "action_webhook_secret": HOOK_SECRET,
            "group_interval": timedelta(milliseconds=10),
        }
        for world in world_for(database_url, llm, fake, **options):
            slack = Slack(world)
            incident_id = world.open_incident()
            with world.bot.engine.connect() as conn:
                [first] = conn.scalars(select(actions.c.action_id).where(actions.c.incident_id == incident_id))
            if decision == "approve":
                slack.click("lk_approve", first, ONCALL)
                wait_for(lambda: len(world.bot.actions.state(first).votes) == 1)  # noqa: B023
                slack.click("lk_approve", first, LEAD)
                wait_for(lambda: status(world, first) == "executed")  # noqa: B023
            else:
                slack.click("lk_reject", first, LEAD, reason="the deploy is fine, it is the RPC")
                wait_for(lambda: status(world, first) == "rejected")  # noqa: B023
            world.client.post("/webhooks/alertmanager", content=alertmanager(name="CanaryFailing", starts=700))
            time.sleep(0.05)
            world.bot.tick()
            world.bot.drain()
            assert len(llm.requests) == 2  # re-summarized
            with world.bot.engine.connect() as conn:
                rows = conn.execute(
                    select(actions.c.action_id, actions.c.status).where(actions.c.incident_id == incident_id)
                ).all()
    assert [r for r in rows if r.action_id != first] == [], "the decided rollback was suggested again"


def test_the_idempotency_key_of_an_ai_suggested_action_is_unique_beyond_its_store(tmp_path: Path) -> None:
    """The webhook's receiver deduplicates on ``Idempotency-Key`` (the action id). An AI
    suggestion's id is a hash of (incident id, LLM call number, kind, lane), all counted per
    store: a second store (a rebuilt database, a second region, a replay) makes the same key
    for a different rollback, and the receiver answers 2xx without acting ("executed")."""
    ids = []
    for n in (1, 2):
        with running(FakeOpenAI(responder=rollback_proposal)) as llm, running(FakeSlack()) as fake:
            for world in world_for(sqlite_url(tmp_path / f"store{n}"), llm, fake):
                world.open_incident()
                with world.bot.engine.connect() as conn:
                    ids += list(conn.scalars(select(actions.c.action_id)))
    assert len(ids) == 2
    assert ids[0] != ids[1], f"two stores, two rollbacks, one idempotency key: {ids[0]}"


def test_while_the_webhook_is_being_called_the_message_no_longer_offers_the_buttons(database_url: str) -> None:
    """The receiver takes 4 s to answer (within the 10 s timeout). Meanwhile the channel still
    shows the action as "suggested · 1 of 2" with Approve and Reject, though it is executing."""
    receiver = Receiver(delay=2.0)
    with _serving(receiver):
        for world in webhook_world(database_url, receiver):
            slack = Slack(world)
            action_id = approve_twice(world, slack)
            wait_for(lambda: receiver.calls[action_id] == 1)  # noqa: B023
            assert status(world, action_id) == "executing"  # the call is in flight, the approval long committed
            during = shown(world, action_id, "executing · 2 of 2")
            shown(world, action_id, "executed: the action webhook answered 200")
    assert '"lk_approve"' not in during, "an executing action's message still offers Approve/Reject"


# --- policy edges -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("approvers: [U01ONCALL, U02LEAD]", "approvers: []"),  # nobody may vote: every button is refused
        ("approvals: 2}", "approvals: 3}"),  # a rollback needs 3 distinct approvers of the 2 named: never
    ],
    ids=["no-approvers", "more-approvals-than-approvers"],
)
def test_a_policy_under_which_an_action_can_never_be_approved_is_refused_at_load(old: str, new: str) -> None:
    """Otherwise the bot posts Approve/Reject in an incident and every approval stays
    "1 of 3" (or is refused) for good, with nothing saying it never can succeed."""
    text = (Path(__file__).resolve().parent.parent / "bot" / "defaults" / "policy.yaml").read_text()
    assert old in text
    with pytest.raises(PolicyError):
        parse_policy(text.replace(old, new, 1))


# --- what held: two replicas on one store ---------------------------------------------------------


def test_two_replicas_voting_and_sweeping_at_once_call_the_webhook_at_most_once(database_url: str, tmp_path: Path) -> None:
    """Two Bots on one store, ten voters split between them and both replicas' ticks released
    at one instant: all approvals; approvals with one reject; an approval cut short (both
    sweeps resume it) with a reject racing them. Never two calls, never a call after a reject."""
    approvers = [f"U{i:02d}X" for i in range(1, 13)]
    policy = tmp_path / "policy.yaml"
    text = (Path(__file__).resolve().parent.parent / "bot" / "defaults" / "policy.yaml").read_text()
    policy.write_text(text.replace("approvers: [U01ONCALL, U02LEAD]", f"approvers: [{', '.join(approvers)}]"))
    receiver, problems = Receiver(), []
    with _serving(receiver):
        options = {"policy": policy, "action_webhook": receiver.url, "action_webhook_secret": HOOK_SECRET}
        a, b = running_bot(database_url, **options), running_bot(database_url, **options)
        try:
            with TestClient(create_app(a, background=False)) as client:
                client.post("/events", content=incident_events())
                client.post("/webhooks/alertmanager", content=alertmanager())
                b.live.add(a.events.between(a.clock() - timedelta(days=3650), a.clock() + timedelta(days=1)))
                for n in range(30):
                    suggestion, mode = a.actions.suggest("rollback", "l2-arb", approvers[0]), n % 3
                    if mode == 2:
                        a.actions.vote(suggestion.action_id, Ballot(approvers[0], "approve"))
                        crash_to(a, suggestion.action_id, status="approved", decided_at=a.clock() - timedelta(minutes=5))
                    gate = threading.Barrier(12)

                    def one(
                        i: int, action_id: str = suggestion.action_id, mode: int = mode, gate: threading.Barrier = gate
                    ) -> None:
                        bot = a if i % 2 else b
                        gate.wait()
                        try:
                            if i >= 10:
                                bot.tick()
                            else:
                                rejects = (mode == 1 and i == 3) or (mode == 2 and i == 1)
                                bot.actions.vote(action_id, Ballot(approvers[i + 1], "reject" if rejects else "approve"))
                        except ActionError:
                            pass
                        except Exception as exc:
                            problems.append(repr(exc))

                    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        thread.join()
                    ended, calls = a.actions.state(suggestion.action_id).status, receiver.calls[suggestion.action_id]
                    if calls > 1 or (ended == "rejected" and calls) or ended not in ("executed", "rejected"):
                        problems.append((n, mode, ended, calls))
        finally:
            a.close()
            b.close()
    assert problems == []


def crash_to(bot, action_id: str, **values: object) -> None:  # type: ignore[no-untyped-def]
    with bot.engine.begin() as conn:
        conn.execute(update(actions).where(actions.c.action_id == action_id).values(**values))
