"""The summary process: the LLM loop and the summary card, away from the server.

A summary decodes every event of the incident's window and computes its facts (seconds of
CPU for a million events) and then waits on the LLM. In the server process that CPU would
hold the GIL against the requests that post facts cards and take events; here it runs on a
core of its own, and a crash or a runaway window costs a summary, never the server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from bot.actions.records import decided, insert_suggestion, note, suggested_state
from bot.config import Settings
from bot.incidents.card import store as store_card
from bot.processes import die_with_parent
from bot.slack.blocks import action_message, action_purpose
from bot.slack.cards import queue_card, summary_reply
from bot.slack.queue import enqueue
from bot.store.engine import make_engine, reading
from bot.store.events import EventStore
from bot.store.tables import incidents
from bot.summarize.figures import card_data
from bot.summarize.loop import Summarizer
from bot.summarize.redact import Redactor
from bot.wiring import load_policy, make_llm
from prompts import proposal_schema
from validators.check import Checker
from validators.policy import Policy


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the server learns of one summary (the audit trail has the rest; the card and
    the suggested actions are in the outbox already)."""

    incident_id: str
    validated: bool
    withheld: str | None
    attempts: int
    actions: int


@dataclass(slots=True)
class _Parts:
    summarizer: Summarizer
    policy: Policy


_parts: _Parts | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def init(settings: Settings) -> None:
    """Build this process's own store connection, LLM client and Slack poster, at a lower
    CPU priority: when cores are scarce, the server's requests (facts cards) go first."""
    global _parts  # noqa: PLW0603 (one set of parts per process, built once)
    die_with_parent()
    os.nice(10)
    engine = make_engine(settings.database_url)
    policy = load_policy(settings.policy)
    summarizer = Summarizer(
        engine,
        EventStore(engine),
        policy,
        Checker(policy, proposal_schema()),
        make_llm(settings),
        reasks=settings.llm_reasks,
        lookback=settings.lookback,
        clock=_utcnow,
        redactor=Redactor.from_settings(settings),
    )
    _parts = _Parts(summarizer, policy)


def run(incident_id: str, *, queue: bool, now: datetime) -> Outcome:
    """Summarize one incident. In one transaction: store its suggested actions, queue the
    card and their messages (``queue``: the bot has a channel), and mark the summary done
    unless a newer notification wants another. ``now`` is the server's clock (event time in
    replays and drills), which the card's times are read against. A crash before that commit leaves the
    summary wanted, and the next start runs it again; one after it loses nothing."""
    assert _parts is not None, "init() first"
    engine = _parts.summarizer.engine
    with reading(engine) as conn:
        wanted = conn.scalar(select(incidents.c.summary_wanted_at).where(incidents.c.incident_id == incident_id))
    result = _parts.summarizer.summarize(incident_id)
    with engine.begin() as conn:
        # Not suggested again: an action people decided in this incident (the AI does not nag,
        # nor re-open a rollback just executed), nor one already open on its lane (one message,
        # one vote; the partial unique index decides that one).
        done = decided(conn, incident_id)
        data = card_data(result, _parts.policy, done)
        store_card(conn, incident_id, data, now)
        wanted_rows = [row for row in result.suggested if (row["kind"], row["lane"]) not in done]
        fresh = [suggested_state(row) for row in wanted_rows if insert_suggestion(conn, row)]
        for action in fresh:
            note(conn, action, now, "action.suggested", actor="lanekeeper", extra={"reason": action.reason})
        if queue:
            queue_card(conn, incident_id, _parts.policy, now)
            if data.summary is not None:  # each validated summary stays in the thread; the card shows the latest
                enqueue(conn, incident_id, f"summary:{result.call_id}", summary_reply(data), now)
            for action in fresh:
                message = action_message(action, _parts.policy.runbook(action.lane, action.kind))
                enqueue(conn, incident_id, action_purpose(action.action_id), message, now)
        conn.execute(
            update(incidents)
            .where(incidents.c.incident_id == incident_id, incidents.c.summary_wanted_at == wanted)
            .values(summary_wanted_at=None)
        )
    return Outcome(incident_id, result.proposal is not None, result.withheld, result.attempts, len(fresh))
