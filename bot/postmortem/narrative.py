"""The one part of a postmortem the LLM writes: a narrative, as a summary proposal (contract
§4) over the incident's window, checked by the validators like any summary, with the
response times as the only figures it may add to the facts. Refused (after the re-asks) or
without an LLM, the draft is facts-only and says why."""

from __future__ import annotations

import json
from dataclasses import dataclass
from string import Template
from typing import Any

from bot.postmortem.record import IncidentRecord
from bot.postmortem.times import ResponseTimes
from bot.summarize.llm import LlmClient
from bot.summarize.loop import check_answer
from bot.summarize.prompt import PATTERNS_ONLY, Prompt, build_prompt, reask
from bot.summarize.redact import Redactor
from prompts import narrative_template
from validators.check import Checker
from validators.findings import Code, Report, Violation
from validators.rules import stamp

TOLD = frozenset({"alert.firing", "alert.resolved", "incident.acknowledged", "incident.escalated", "incident.mitigated"})
"""Timeline kinds the model is told of (notes are people's free text: not prompt material)."""


@dataclass(frozen=True, slots=True)
class Narrative:
    headline: str | None
    sentences: tuple[str, ...]
    refused: str | None
    """Why there is no narrative (None when there is one)."""
    attempts: int


def write_narrative(
    record: IncidentRecord,
    times: ResponseTimes,
    checker: Checker,
    llm: LlmClient | None,
    *,
    reasks: int,
    redactor: Redactor = PATTERNS_ONLY,
) -> Narrative:
    context = record.context
    if llm is None:
        return Narrative(None, (), "no LLM is configured", 0)
    if not context.lanes:
        return Narrative(None, (), "the incident names no lane, so there are no facts to tell", 0)
    prompt = _prompt(record, times, checker, redactor)
    report = Report(())
    for attempt in range(1, reasks + 2):
        completion = llm.complete(prompt.messages)
        if completion.outcome in ("unavailable", "refused"):
            return Narrative(None, (), f"LLM {completion.outcome}: {completion.error or completion.text}", attempt)
        doc, report = check_answer(checker, completion, context, times.quantities())
        report = Report((*report.violations, *_no_actions(doc)))
        if report.ok:
            claims = tuple(str(c["text"]) for c in doc["claims"])
            return Narrative(str(doc["headline"]), claims, None, attempt)
        prompt = reask(prompt, completion.text or "", report)
    codes = ", ".join(sorted(report.codes))
    return Narrative(None, (), f"{reasks + 1} narratives failed validation (last: {codes})", reasks + 1)


def _prompt(record: IncidentRecord, times: ResponseTimes, checker: Checker, redactor: Redactor) -> Prompt:
    base = build_prompt(record.context, checker.policy, redactor)
    response = {f"detect on {d.lane}": d.seconds for d in times.detection} | {f"to {s}": v for s, v in times.steps()}
    lines = [
        f"{stamp(e.at)} {e.kind}" + (f" by {e.actor}" if e.actor and e.actor != "lanekeeper" else "")
        for e in record.entries
        if e.kind in TOLD or e.kind.startswith("action.")
    ]
    text = Template(narrative_template().text).substitute(
        response=json.dumps(response), timeline="\n".join(lines) or "(nothing recorded)"
    )
    return Prompt([*base.messages, {"role": "user", "content": redactor(text)}], base.templates, redactor)


def _no_actions(doc: Any) -> list[Violation]:
    if isinstance(doc, dict) and doc.get("actions"):
        return [Violation(Code.SCHEMA, "/actions", "a narrative suggests no actions: answer with actions []")]
    return []
