"""Rule checks of claims, evidence, severity, status and actions against facts and policy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from validators.evidence import Evidence
from validators.facts import COUNT_FACTS, FACT_NAMES, TOLERANCE, LaneFacts, Window, WindowFacts
from validators.findings import Code, Violation, pointer
from validators.grounding import Quantity
from validators.policy import Breach, Policy
from validators.proposal import ActionView, ClaimView, ProposalView

_ANY_KIND: frozenset[str] = frozenset()
_SETTLED = frozenset({"settlement.finalized", "settlement.failed"})
_PENDING = frozenset({"settlement.submitted", "settlement.confirmed"})
_FINALITY = frozenset({"settlement.finalized", "settlement.submitted", "settlement.confirmed"})
SUPPORTING_KINDS: dict[str, frozenset[str]] = {
    "submitted": frozenset({"settlement.submitted"}),
    "finalized": frozenset({"settlement.finalized"}),
    "failed": frozenset({"settlement.failed"}),
    "failure_rate": _SETTLED,
    "pending": _PENDING,
    "pending_notional_usd": _PENDING,
    "failed_notional_usd": frozenset({"settlement.failed", "settlement.submitted"}),
    "finality_p50_s": _FINALITY,
    "finality_p99_s": _FINALITY,
    "finality_max_s": _FINALITY,
    "seq_gaps": _ANY_KIND,
    "seq_duplicates": _ANY_KIND,
    "canary_runs": frozenset({"canary.result"}),
    "canary_failures": frozenset({"canary.result"}),
    "feed_divergence_bps_max": frozenset({"feed.price"}),
    "reorgs": frozenset({"lane.reorg"}),
    "reorg_max_depth": frozenset({"lane.reorg"}),
    "queue_depth_max": frozenset({"queue.depth"}),
    "silence_s": _ANY_KIND,
    "trust_score": _ANY_KIND,
}
"""Which event kinds can show each fact (empty: any kind, every event carries a seq)."""
_PENDING_FACTS = frozenset({"pending", "pending_notional_usd"})


def stamp(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def describe_window(window: Window) -> str:
    return f"{stamp(window.start)} to {stamp(window.end)}"


def num(value: float) -> str:
    return f"{value:.6g}"


@dataclass(frozen=True, slots=True)
class Context:
    """Everything a proposal is checked against."""

    policy: Policy
    facts: WindowFacts
    evidence: Evidence
    extra: tuple[Quantity, ...] = ()
    """Further figures the text may express (a postmortem's response times): the caller
    computes them from what it stored, as it computes the facts."""

    @property
    def window(self) -> Window:
        return self.facts.window


def lane_violations(lane: str | None, lanes: tuple[str, ...], policy: Policy, path: str, about: str) -> Iterator[Violation]:
    if lane is None:
        return
    if lane not in policy.lanes:
        yield Violation(
            Code.LANE_UNKNOWN, path, f"{lane!r} is not a lane of the policy (lanes: {', '.join(policy.lanes)})", {"lane": lane}
        )
    elif lane not in lanes:
        yield Violation(
            Code.LANE_OUTSIDE_INCIDENT,
            path,
            f"{about} is about {lane}, which is not one of this incident's lanes ({', '.join(lanes)})",
            {"lane": lane},
        )


def check_incident_lanes(view: ProposalView, policy: Policy) -> Iterator[Violation]:
    for i, lane in enumerate(view.lanes):
        if lane not in policy.lanes:
            yield Violation(
                Code.LANE_UNKNOWN,
                pointer("lanes", i),
                f"{lane!r} is not a lane of the policy (lanes: {', '.join(policy.lanes)})",
                {"lane": lane},
            )


def check_claim(
    claim: ClaimView, view: ProposalView, ctx: Context | None, policy: Policy, evidence: Evidence
) -> Iterator[Violation]:
    at = ("claims", claim.index)
    known_fact = claim.fact in FACT_NAMES
    if claim.fact is not None and not known_fact:
        yield Violation(
            Code.FACT_UNKNOWN,
            pointer(*at, "fact"),
            f"{claim.fact!r} is not a fact (facts: {', '.join(FACT_NAMES)})",
            {"fact": claim.fact},
        )
    yield from lane_violations(claim.lane, view.lanes, policy, pointer(*at, "lane"), "this claim")
    lane_known = claim.lane in policy.lanes
    if ctx is not None and known_fact and lane_known and claim.value is not None:
        assert claim.fact is not None
        assert claim.lane is not None
        yield from _value_mismatch(claim, ctx.facts.lane(claim.lane), ctx.window)
    if known_fact and claim.value not in (None, 0) and claim.fact in COUNT_FACTS and not claim.evidence:
        yield Violation(
            Code.EVIDENCE_MISSING,
            pointer(*at, "evidence"),
            f"the claim {claim.fact} = {num(claim.value or 0)} cites no evidence; cite the events that show it",
        )
    supporting = SUPPORTING_KINDS.get(claim.fact or "")
    window = ctx.window if ctx else None
    pending = ctx.facts.pending_ids if ctx else None
    yield from _evidence(
        at=at,
        cited=claim.evidence,
        lane=claim.lane,
        window=window,
        evidence=evidence,
        fact=claim.fact,
        supporting=supporting,
        pending_ids=pending,
    )


def _value_mismatch(claim: ClaimView, facts: LaneFacts, window: Window) -> Iterator[Violation]:
    fact, lane, value = claim.fact, claim.lane, claim.value
    assert fact is not None
    assert value is not None
    path = pointer("claims", claim.index, "value")
    actual = facts.value(fact)
    if actual is None:
        yield Violation(
            Code.FACT_MISMATCH,
            path,
            f"{fact} has no value on {lane} in the window {describe_window(window)}: nothing it measures happened there",
            {"fact": fact, "claimed": value, "actual": None},
        )
        return
    if fact in COUNT_FACTS:
        wrong = value != actual
        rule = "counts must match exactly"
    else:
        wrong = abs(value - actual) > TOLERANCE * abs(actual)
        rule = "values must agree within 1%"
    if wrong:
        yield Violation(
            Code.FACT_MISMATCH,
            path,
            f"the claim says {fact} = {num(value)} on {lane}, but the events give {num(actual)} "
            f"in the window {describe_window(window)} ({rule})",
            {"fact": fact, "claimed": value, "actual": actual},
        )


def _evidence(
    *,
    at: tuple[str | int, ...],
    cited: tuple[str, ...],
    lane: str | None,
    window: Window | None,
    evidence: Evidence,
    fact: str | None,
    supporting: frozenset[str] | None,
    pending_ids: frozenset[str] | None = None,
) -> Iterator[Violation]:
    for i, ident in enumerate(cited):
        path = pointer(*at, "evidence", i)
        event, alert = evidence.events.get(ident), evidence.alerts.get(ident)
        if event is None and alert is None:
            yield Violation(
                Code.EVIDENCE_MISSING,
                path,
                f"{ident} is neither an event in the input nor an alert of this incident",
                {"id": ident},
            )
            continue
        if alert is not None and event is None:
            if lane is not None and alert.lane is not None and alert.lane != lane:
                yield Violation(Code.EVIDENCE_IRRELEVANT, path, f"alert {ident} is about {alert.lane}, not {lane}", {"id": ident})
            continue
        assert event is not None
        if lane is not None and event.lane != lane:
            yield Violation(Code.EVIDENCE_IRRELEVANT, path, f"{ident} is an event of {event.lane}, not of {lane}", {"id": ident})
        settled = pending_ids is not None and event.settlement_id not in pending_ids
        if fact in _PENDING_FACTS and event.kind in _PENDING and settled:
            yield Violation(
                Code.EVIDENCE_IRRELEVANT,
                path,
                f"{ident} is about {event.settlement_id}, which was settled by the window's end: it is not pending",
                {"id": ident},
            )
            continue
        if window is not None and event.ts not in window:
            # a pending settlement may have been submitted before the window (its confirmation is no submission)
            earlier_ok = fact in _PENDING_FACTS and event.kind == "settlement.submitted" and event.ts < window.end
            if not earlier_ok:
                yield Violation(
                    Code.EVIDENCE_IRRELEVANT,
                    path,
                    f"{ident} happened at {stamp(event.ts)}, outside the window {describe_window(window)}",
                    {"id": ident},
                )
        if supporting and event.kind not in supporting:
            yield Violation(
                Code.EVIDENCE_IRRELEVANT,
                path,
                f"{ident} is a {event.kind} event; it cannot show {fact} (cite {' or '.join(sorted(supporting))} events)",
                {"id": ident},
            )
        elif fact == "canary_failures" and event.ok:
            yield Violation(
                Code.EVIDENCE_IRRELEVANT, path, f"{ident} is a passing canary; it cannot show a canary failure", {"id": ident}
            )


def check_action(
    action: ActionView, view: ProposalView, ctx: Context | None, policy: Policy, evidence: Evidence
) -> Iterator[Violation]:
    at = ("actions", action.index)
    if action.kind is not None and action.kind not in policy.actions:
        yield Violation(
            Code.ACTION_NOT_ALLOWED,
            pointer(*at, "kind"),
            f"{action.kind!r} is not an action the policy allows (allowed: {', '.join(policy.actions) or 'none'})",
            {"kind": action.kind},
        )
    yield from lane_violations(action.lane, view.lanes, policy, pointer(*at, "lane"), f"this {action.kind or 'action'}")
    window = ctx.window if ctx else None
    yield from _evidence(
        at=at, cited=action.evidence, lane=action.lane, window=window, evidence=evidence, fact=None, supporting=None
    )
    if ctx is None or action.kind not in policy.actions or action.lane not in policy.lanes:
        return
    assert action.kind is not None
    assert action.lane is not None
    spec = policy.actions[action.kind]
    facts = ctx.facts.lane(action.lane)
    if spec.trigger_any and not policy.triggers_met(action.kind, action.lane, facts):
        wanted = ", ".join(f"{f} >= {num(t)}" for f, t in spec.trigger_any.items())
        have = ", ".join(f"{f} {_value(facts, f)}" for f in spec.trigger_any)
        yield Violation(
            Code.ACTION_PRECONDITION,
            pointer(*at),
            f"{action.kind} on {action.lane} needs one of {wanted}; the events give {have}",
            {"kind": action.kind},
        )
    if spec.needs_healthy_fallback:
        yield from _fallback(action, policy, ctx)


def _value(facts: LaneFacts, fact: str) -> str:
    value = facts.value(fact)
    return "none" if value is None else num(value)


def _fallback(action: ActionView, policy: Policy, ctx: Context) -> Iterator[Violation]:
    assert action.lane is not None
    path = pointer("actions", action.index)
    fallback = policy.lanes[action.lane].fallback
    if fallback is None:
        yield Violation(
            Code.ACTION_FALLBACK_UNHEALTHY,
            path,
            f"{action.kind} needs a healthy fallback lane, and {action.lane} has no fallback in the policy",
        )
        return
    reasons = policy.unhealthy_because(fallback, ctx.facts.lane(fallback))
    if reasons:
        yield Violation(
            Code.ACTION_FALLBACK_UNHEALTHY,
            path,
            f"{action.kind} needs a healthy fallback, but {fallback} is not healthy ({_breaches(reasons)})",
            {"fallback": fallback},
        )


def _breaches(breaches: list[Breach]) -> str:
    return "; ".join(str(b) for b in breaches)


def check_severity(view: ProposalView, ctx: Context) -> Iterator[Violation]:
    if view.severity is None:
        return
    lanes = [(lane, ctx.facts.lane(lane)) for lane in view.lanes if lane in ctx.policy.lanes]
    level, because = ctx.policy.severity_of(lanes)
    if view.severity != level:
        why = f" ({_breaches(because)})" if because else " (no severity threshold is met on the incident's lanes)"
        yield Violation(
            Code.SEVERITY_MISMATCH,
            pointer("severity"),
            f"severity is {view.severity}, but the policy gives {level}{why}",
            {"expected": level},
        )


def check_status(view: ProposalView, ctx: Context) -> Iterator[Violation]:
    if view.status != "resolved":
        return
    quiet = ctx.policy.resolved_quiet_s
    since = ctx.window.end - timedelta(seconds=quiet)
    for lane in view.lanes:
        last = ctx.facts.last_trouble.get(lane)
        if last is not None and last >= since:
            yield Violation(
                Code.STATUS_INCONSISTENT,
                pointer("status"),
                f"status is resolved, but {lane} had a failed settlement or canary at {stamp(last)}, "
                f"within the last {num(quiet)} s of the window",
                {"lane": lane},
            )
