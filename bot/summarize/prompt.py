"""The summary prompt: the facts sheet, the policy and the alerts, as chat messages.

Its size does not grow with the events: per lane a fixed set of facts with a few ids each,
the policy, and the newest alerts (at most ``MAX_ALERTS``, ``ALERTS_BUDGET`` characters in
all, each text cut to ``ALERT_TEXT_MAX``).
Alert texts are untrusted: credentials are redacted, and they are fenced as data (a text
that tries to close the fence has its markers broken) so the model is told to read, not obey.
Every message, the re-asks included, passes the prompt's ``Redactor`` last
(``bot.summarize.redact``): the bot's own secrets and credential shapes never reach the LLM
or the audit trail, whatever field they came in by.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from string import Template
from typing import Any

from bot.summarize.context import IncidentContext
from bot.summarize.redact import Redactor, names_a_secret
from prompts import Templates, summary_templates
from validators.facts import FACT_NAMES
from validators.findings import Report
from validators.policy import Policy
from validators.rules import stamp

MAX_ALERTS = 20
ALERT_TEXT_MAX = 240  # each annotation
ALERTS_BUDGET = 4000  # characters for all alerts together (~1k tokens), newest first
_FENCE = "untrusted_alert_data"
Message = dict[str, str]


PATTERNS_ONLY = Redactor()
"""Credential shapes only: for callers without the bot's settings (tests, benchmarks)."""


@dataclass(frozen=True, slots=True)
class Prompt:
    messages: list[Message]
    templates: Templates
    redactor: Redactor = PATTERNS_ONLY


def scrub(text: str, limit: int = ALERT_TEXT_MAX, redactor: Redactor = PATTERNS_ONLY) -> str:
    """Untrusted text as the model may see it: credentials redacted, fence markers broken, cut
    (redacted before it is cut, so no secret survives half-cut)."""
    clean = redactor(text).replace(_FENCE, "untrusted-alert-data")
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def facts_sheet(context: IncidentContext, policy: Policy) -> dict[str, Any]:
    """Per lane: each fact's value and the ids that support it, and the lane's health."""
    sheet: dict[str, Any] = {}
    for lane, facts in sorted(context.facts.lanes.items()):
        if lane not in context.lanes and not _is_fallback(lane, context, policy):
            continue
        support = context.support.get(lane, {})
        entry: dict[str, Any] = {}
        for name in FACT_NAMES:
            value = facts.value(name)
            # ids only where there is something to show: a zero or absent fact needs none
            entry[name] = {"value": value, "evidence": support.get(name, [])} if value else {"value": value}
        entry["healthy"] = not policy.unhealthy_because(lane, facts)
        if lane not in context.lanes:
            entry["role"] = "fallback (not an incident lane)"
        sheet[lane] = entry
    for lane in context.lanes:
        sheet.setdefault(lane, {"no_events_in_window": True})
    return sheet


def _is_fallback(lane: str, context: IncidentContext, policy: Policy) -> bool:
    return any(policy.lanes[own].fallback == lane for own in context.lanes if own in policy.lanes)


def policy_sheet(policy: Policy, lanes: tuple[str, ...]) -> dict[str, Any]:
    return {
        "lanes": {lane: spec.model_dump(exclude_none=True) for lane, spec in policy.lanes.items() if lane in lanes},
        "severity": policy.severity,
        "healthy_when_below": policy.healthy,
        "resolved_quiet_s": policy.resolved_quiet_s,
        "actions": {kind: spec.model_dump(exclude_defaults=True) for kind, spec in policy.actions.items()},
        "links_allowed": policy.links_allowed,
    }


def alert_lines(context: IncidentContext, redactor: Redactor = PATTERNS_ONLY) -> list[str]:
    lines: list[str] = []
    used = 0
    for alert in context.alerts[:MAX_ALERTS]:
        texts = {
            scrub(key, 100, redactor): "[REDACTED]" if names_a_secret(key) else scrub(value, redactor=redactor)
            for key, value in sorted(alert.annotations.items())
            if isinstance(value, str)
        }
        item = {
            "alert_id": alert.alert_id,
            "lane": scrub(alert.lane, 100, redactor) if alert.lane else None,
            "name": scrub(alert.name, 200, redactor),
            "status": alert.status,
            "starts_at": stamp(alert.starts_at),
            "texts": texts,
        }
        line = _dumps(item)
        used += len(line)
        if lines and used > ALERTS_BUDGET:
            break
        lines.append(line)
    return lines


def build_prompt(context: IncidentContext, policy: Policy, redactor: Redactor = PATTERNS_ONLY) -> Prompt:
    templates = summary_templates()
    alerts = alert_lines(context, redactor)
    user = Template(templates.user).substitute(
        incident_id=context.incident_id,
        lanes=scrub(", ".join(context.lanes), 400, redactor),  # lanes come from alert labels: untrusted too
        events_checked=context.events_checked,
        window_start=stamp(context.window.start),
        window_end=stamp(context.window.end),
        facts=_dumps(facts_sheet(context, policy)),
        severity=context.severity,
        policy=_dumps(policy_sheet(policy, context.lanes)),
        alerts_shown=len(alerts),
        alerts_total=len(context.alerts),
        alerts="\n".join(alerts) or "(none)",
    )
    messages = [{"role": "system", "content": templates.system}, {"role": "user", "content": redactor(user)}]
    return Prompt(messages, templates, redactor)


def reask(prompt: Prompt, answer: str, report: Report) -> Prompt:
    """The conversation so far plus the validator's findings, for one more attempt."""
    findings = "\n".join(f"- {v.code} at {v.path or '/'}: {v.message}" for v in report.violations)
    feedback = Template(prompt.templates.reask).substitute(violations=findings)
    said = [{"role": "assistant", "content": prompt.redactor(answer)}, {"role": "user", "content": prompt.redactor(feedback)}]
    return Prompt([*prompt.messages, *said], prompt.templates, prompt.redactor)


def estimate_tokens(prompt: Prompt) -> int:
    """About four characters a token for English and JSON (no tokenizer is needed to bound it)."""
    return sum(len(m["content"]) for m in prompt.messages) // 4
