"""A postmortem draft of one incident, from the store, for the CLI and the Slack button."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine

from bot.clock import Clock
from bot.incidents import IncidentError
from bot.postmortem.narrative import write_narrative
from bot.postmortem.record import load_record
from bot.postmortem.render import render
from bot.postmortem.times import response_times
from bot.summarize.llm import LlmClient
from bot.summarize.prompt import PATTERNS_ONLY
from bot.summarize.redact import Redactor
from prompts import proposal_schema
from validators.check import Checker
from validators.policy import Policy


@dataclass(frozen=True, slots=True)
class Draft:
    incident_id: str
    number: int
    markdown: str
    facts_only: bool


@dataclass(frozen=True, slots=True)
class Drafter:
    """What a draft needs, and nothing that writes: the CLI and the button each build one."""

    engine: Engine
    policy: Policy
    llm: LlmClient | None
    reasks: int
    lookback: timedelta
    clock: Clock
    redactor: Redactor = PATTERNS_ONLY
    checker: Checker = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "checker", Checker(self.policy, proposal_schema()))

    def draft(self, incident_id: str) -> Draft:
        """Only reads the store; ``IncidentError`` when there is no such incident, or it is not
        resolved yet (a postmortem is of a finished incident: the CLI and the button alike,
        and no LLM is asked for an open one)."""
        record = load_record(self.engine, self.policy, incident_id, self.lookback)
        if record.status != "resolved":
            raise IncidentError(f"no postmortem draft for #{record.number}: it is not resolved yet")
        times = response_times(record)
        narrative = write_narrative(record, times, self.checker, self.llm, reasks=self.reasks, redactor=self.redactor)
        markdown = render(record, times, narrative, self.clock())
        return Draft(incident_id, record.number, markdown, narrative.headline is None)
