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
from typing import Any

from bot.approvals import ActionState, action_state
from bot.config import Settings
from bot.slack.blocks import Message
from bot.store.engine import make_engine
from bot.store.events import EventStore
from bot.summarize.loop import Summarizer
from bot.summarize.render import summary_card
from bot.wiring import load_policy, make_llm
from prompts import proposal_schema
from validators.check import Checker
from validators.policy import Policy

CARD = "card"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the server learns of one summary (the audit trail has the rest)."""

    incident_id: str
    proposal: dict[str, Any] | None
    withheld: str | None
    attempts: int
    card: Message
    """The card to put in the channel (the server's outbox sends it)."""
    actions: list[ActionState]
    """The actions it suggested, each posted with its Approve and Reject buttons."""


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
    )
    _parts = _Parts(summarizer, policy)


def run(incident_id: str) -> Outcome:
    """Summarize one incident; the outcome carries the card to post."""
    assert _parts is not None, "init() first"
    result = _parts.summarizer.summarize(incident_id)
    card = summary_card(result, _parts.policy)
    suggested = [action_state(_parts.summarizer.engine, action_id) for action_id in result.action_ids]
    return Outcome(incident_id, result.proposal, result.withheld, result.attempts, card, suggested)
