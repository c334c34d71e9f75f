"""Checking a proposal: the schema, then every rule, all findings reported."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from validators.events import Event
from validators.evidence import Evidence, event_refs
from validators.facts import WindowFacts, compute_facts
from validators.findings import Report, Violation
from validators.grounding import Quantity
from validators.hidden import check_hidden
from validators.policy import Policy
from validators.proposal import view_of, window_of
from validators.rules import Context, check_action, check_claim, check_incident_lanes, check_severity, check_status
from validators.schema import SchemaChecker
from validators.text_rules import check_texts
from validators.trust import with_trust


class Checker:
    """Checks proposals against one policy; build once, call ``check`` per proposal."""

    def __init__(self, policy: Policy, schema: dict[str, Any]) -> None:
        self.policy = policy
        self._schema = SchemaChecker(schema)

    def check(self, doc: Any, facts: WindowFacts | None, evidence: Evidence, extra: Sequence[Quantity] = ()) -> Report:
        """``facts`` must be computed for the proposal's own window (``window_of(doc)``);
        with None (no readable window) the checks that need facts are skipped. ``extra``:
        figures beyond the facts that a text may also express (a postmortem's response times)."""
        view = view_of(doc)
        if facts is not None and view.window != facts.window:
            raise ValueError("facts were computed for another window than the proposal's")
        if facts is not None:
            facts = with_trust(facts, self.policy.trust)
        ctx = Context(self.policy, facts, evidence, tuple(extra)) if facts is not None else None
        found: list[Violation] = self._schema.check(doc)
        found += check_incident_lanes(view, self.policy)
        for claim in view.claims:
            found += check_claim(claim, view, ctx, self.policy, evidence)
        for action in view.actions:
            found += check_action(action, view, ctx, self.policy, evidence)
        if ctx is not None:
            found += check_severity(view, ctx)
            found += check_status(view, ctx)
        found += check_texts(view, ctx, self.policy)
        found += check_hidden(view)
        return Report(tuple(found))


def check_proposal(
    doc: Any,
    events: Iterable[Event],
    checker: Checker,
    alerts: Evidence | None = None,
) -> Report:
    """Check one proposal against events held in memory (the bot, tests)."""
    events = list(events)
    window = window_of(doc)
    facts = compute_facts(events, window) if window is not None else None
    cited = view_of(doc).cited_ids()
    evidence = Evidence(event_refs(events, cited), alerts.alerts if alerts else {})
    return checker.check(doc, facts, evidence)
