"""Propose, validate, re-ask: nothing the model wrote leaves here unless the validators
passed it against the raw events and the policy.

Every attempt is written to the audit trail (``llm_calls``): the prompt and its template's
version and hash, the model, the raw answer, the validation report, the outcome, latency
and tokens. A validated proposal's actions become suggested actions; otherwise the summary
is withheld with a one-line reason and the facts card stays as it is.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Engine, insert

from bot.actions.lifecycle import new_action_id, suggestion_row
from bot.clock import Clock
from bot.incidents.timeline import record
from bot.store.events import EventStore
from bot.store.tables import llm_calls
from bot.summarize.context import IncidentContext, load_context
from bot.summarize.llm import Completion, LlmClient
from bot.summarize.prompt import PATTERNS_ONLY, Prompt, build_prompt, reask
from bot.summarize.redact import Redactor
from validators.check import Checker
from validators.evidence import Evidence, event_refs
from validators.facts import compute_facts
from validators.findings import Code, Report, Violation
from validators.grounding import Quantity
from validators.policy import Policy
from validators.proposal import view_of, window_of
from validators.rules import stamp

log = logging.getLogger(__name__)
CallOutcome = Literal["validated", "rejected", "malformed", "truncated", "refused", "unavailable"]


@dataclass(frozen=True, slots=True)
class SummaryResult:
    context: IncidentContext
    proposal: dict[str, Any] | None
    """The validated proposal; None when facts-only or withheld."""
    withheld: str | None
    """Why no AI summary is shown (one line); None when validated or facts-only."""
    attempts: int
    suggested: tuple[dict[str, Any], ...] = ()
    """``actions`` rows for what the validated proposal suggests, not stored yet: the caller
    stores them in the transaction that queues the messages showing them."""
    call_id: int | None = None
    """The audit row of the validated proposal."""

    @property
    def facts_only(self) -> bool:
        return self.proposal is None and self.withheld is None


class Summarizer:
    def __init__(
        self,
        engine: Engine,
        store: EventStore,
        policy: Policy,
        checker: Checker,
        llm: LlmClient | None,
        *,
        reasks: int,
        lookback: timedelta,
        clock: Clock,
        redactor: Redactor = PATTERNS_ONLY,
    ) -> None:
        self.engine, self.store, self.policy, self.checker, self.llm = engine, store, policy, checker, llm
        self.reasks, self.lookback, self.clock, self.redactor = reasks, lookback, clock, redactor

    def summarize(self, incident_id: str) -> SummaryResult:
        context = load_context(self.engine, self.store, self.policy, incident_id, self.lookback)
        if not context.lanes:  # an alert without a lane label: nothing to summarize, and the card says why
            why = (
                f"incident {incident_id} names no lane: its alerts carry no `lane` label (or the one "
                "LANEKEEPER_LANE_LABEL names), so there are no facts to summarize"
            )
            return self._withhold(context, 0, why)
        if self.llm is None:
            return SummaryResult(context, None, None, 0)
        prompt = build_prompt(context, self.policy, self.redactor)
        report: Report | None = None
        for attempt in range(1, self.reasks + 2):
            completion = self.llm.complete(prompt.messages)
            if completion.outcome in ("unavailable", "refused"):
                self._audit(context, prompt, attempt, completion, outcome=completion.outcome, report=None)
                reason = completion.error if completion.outcome == "unavailable" else f"the model declined: {completion.text}"
                return self._withhold(context, attempt, f"LLM {completion.outcome}: {reason}")
            doc, report = self.check(completion, context)
            outcome: CallOutcome = "validated" if report.ok else _failure(completion, doc)
            call_id = self._audit(context, prompt, attempt, completion, outcome=outcome, report=report)
            if outcome == "validated":
                assert isinstance(doc, dict)
                return SummaryResult(context, doc, None, attempt, self._suggest(context, call_id, doc), call_id)
            log.info("proposal rejected", extra={"incident_id": incident_id, "codes": sorted(report.codes)})
            prompt = reask(prompt, completion.text or "", report)
        assert report is not None
        codes = ", ".join(sorted(report.codes))
        return self._withhold(context, self.reasks + 1, f"{self.reasks + 1} AI proposals failed validation (last: {codes})")

    def check(self, completion: Completion, context: IncidentContext) -> tuple[Any, Report]:
        """The validators' report on one answer, plus what makes it this incident's."""
        return check_answer(self.checker, completion, context)

    def _audit(
        self,
        context: IncidentContext,
        prompt: Prompt,
        attempt: int,
        completion: Completion,
        *,
        outcome: CallOutcome,
        report: Report | None,
    ) -> int:
        with self.engine.begin() as conn:
            inserted = conn.execute(
                insert(llm_calls).values(
                    incident_id=context.incident_id,
                    attempt=attempt,
                    template_version=prompt.templates.version,
                    template_sha256=prompt.templates.sha256,
                    model=completion.model,
                    prompt=json.dumps(prompt.messages, ensure_ascii=False),
                    raw_output=completion.text,
                    report=report.as_json() if report is not None else {"error": completion.error},
                    outcome=outcome,
                    latency_ms=completion.latency_ms,
                    prompt_tokens=completion.prompt_tokens,
                    completion_tokens=completion.completion_tokens,
                    created_at=self.clock(),
                )
            ).inserted_primary_key
            call_id = int(inserted[0]) if inserted else 0
            _note(conn, context.incident_id, self.clock, f"summary.{outcome}", {"attempt": attempt, "call_id": call_id})
        return call_id

    def _withhold(self, context: IncidentContext, attempts: int, reason: str) -> SummaryResult:
        with self.engine.begin() as conn:
            _note(conn, context.incident_id, self.clock, "summary.withheld", {"reason": reason})
        log.warning("summary withheld: %s", reason, extra={"incident_id": context.incident_id})
        return SummaryResult(context, None, reason, attempts)

    def _suggest(self, context: IncidentContext, call_id: int, doc: dict[str, Any]) -> tuple[dict[str, Any], ...]:
        now = self.clock()
        rows: dict[tuple[str, str], dict[str, Any]] = {}  # one per kind and lane, however often it is proposed
        for item in doc.get("actions", []):
            spec = self.policy.actions[item["kind"]]
            # A random id: it is the webhook's idempotency key, unique beyond this store.
            rows[(item["kind"], item["lane"])] = suggestion_row(
                new_action_id(),
                context.incident_id,
                item["kind"],
                item["lane"],
                reason=item["reason"],
                approvals=spec.approvals,
                now=now,
                evidence=item["evidence"],
                call_id=call_id,
            )
        return tuple(rows.values())


def check_answer(
    checker: Checker, completion: Completion, context: IncidentContext, extra: Sequence[Quantity] = ()
) -> tuple[Any, Report]:
    """One answer read as a proposal and checked against ``context``: the validators' report
    plus what makes it this incident's (its id, its window). ``extra``: figures beyond the
    facts the text may express (a postmortem's response times)."""
    text = completion.text or ""
    if completion.outcome == "truncated":
        return None, _report("", "the answer was cut off before it ended; answer with a shorter proposal")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return None, _report("", f"not valid JSON ({exc}); answer with one JSON object only")
    except RecursionError:  # an answer nested 100,000 deep: garbage, not a bug of ours
        return None, _report("", "not a JSON object this bot reads (nested too deep); answer with one flat JSON object")
    window = window_of(doc)
    facts = context.facts if window == context.window else compute_facts(context.events, window) if window else None
    evidence = Evidence(event_refs(context.events, view_of(doc).cited_ids()), context.alert_refs)
    report = checker.check(doc, facts, evidence, extra)
    found = list(report.violations)
    if isinstance(doc, dict):
        if doc.get("incident_id") != context.incident_id:
            found.append(Violation(Code.SCHEMA, "/incident_id", f"must be this incident's id, {context.incident_id}"))
        if window is not None and window != context.window:
            span = f"{stamp(context.window.start)} to {stamp(context.window.end)}"
            found.append(Violation(Code.SCHEMA, "/window", f"must be the incident's window, {span}"))
    return doc, Report(tuple(found))


def _failure(completion: Completion, doc: Any) -> CallOutcome:
    if completion.outcome == "truncated":
        return "truncated"
    return "malformed" if doc is None else "rejected"


def _report(path: str, message: str) -> Report:
    return Report((Violation(Code.SCHEMA, path, message),))


def _note(conn: Connection, incident_id: str, clock: Clock, kind: str, detail: dict[str, Any]) -> None:
    record(conn, incident_id, clock(), kind, actor="lanekeeper", detail=detail)
