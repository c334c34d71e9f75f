"""Checks of the free texts (headline, claim texts, action reasons): content safety, lane
mentions, times and the grounding of every figure."""

from __future__ import annotations

import re
from collections.abc import Iterator

from validators.facts import FACT_NAMES, FACT_UNITS, Unit
from validators.findings import Code, Violation, pointer
from validators.grounding import Quantity, grounded, within
from validators.policy import Policy
from validators.proposal import ProposalView
from validators.rules import Context, describe_window
from validators.tokens import Kind, Labelled, Link, Number, Time, Token, tokenize


def quantities(view: ProposalView, ctx: Context) -> list[Quantity]:
    """What a figure in the text may express: facts of the summary's lanes, policy
    thresholds, and the window's length."""
    found = []
    for lane in view.lanes:
        facts = ctx.facts.lane(lane)
        for fact in FACT_NAMES:
            value = facts.value(fact)
            if value is not None:
                found.append(Quantity(value, FACT_UNITS[fact], f"{fact} on {lane}"))
    found += policy_quantities(ctx.policy)
    found.append(Quantity(ctx.window.length_s, Unit.SECONDS, "the window's length"))
    found += ctx.extra
    return found


def policy_quantities(policy: Policy) -> list[Quantity]:
    tables = [(f"severity.{level}", t) for level, t in policy.severity.items()]
    tables.append(("healthy", policy.healthy))
    tables += [(f"actions.{name}.trigger_any", spec.trigger_any) for name, spec in policy.actions.items()]
    found = [Quantity(v, FACT_UNITS[f], f"policy {where}.{f}") for where, table in tables for f, v in table.items()]
    found += [Quantity(spec.approvals, Unit.COUNT, f"policy actions.{name}.approvals") for name, spec in policy.actions.items()]
    found.append(Quantity(policy.resolved_quiet_s, Unit.SECONDS, "policy resolved_quiet_s"))
    return found


def _lane_token_re(policy: Policy) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-])(?:{policy.lane_token_pattern})(?![\w-])")


def check_texts(view: ProposalView, ctx: Context | None, policy: Policy) -> Iterator[Violation]:
    known = quantities(view, ctx) if ctx is not None else []
    lane_re = _lane_token_re(policy)
    for where, text in view.texts():
        path = pointer(*where)
        for token in tokenize(text, lane_re):
            yield from _check_token(token, path, view=view, ctx=ctx, policy=policy, known=known)


def _check_token(
    token: Token, path: str, *, view: ProposalView, ctx: Context | None, policy: Policy, known: list[Quantity]
) -> Iterator[Violation]:
    if isinstance(token, Labelled) and token.kind is Kind.SECRET:
        yield Violation(
            Code.CONTENT_SECRET, path, f"a {token.label} ({token.text[:4]}…) is in the text: credentials are never posted"
        )
    elif isinstance(token, Labelled):
        yield Violation(
            Code.CONTENT_MENTION,
            path,
            f"{token.text!r} is a {token.label}: a summary may not notify people",
            {"match": token.text},
        )
    elif isinstance(token, Link):
        if token.host not in policy.links_allowed:
            allowed = ", ".join(policy.links_allowed) or "none"
            yield Violation(
                Code.CONTENT_LINK,
                path,
                f"link to {token.host or token.target!r} is not allowed (links_allowed: {allowed})",
                {"host": token.host},
            )
    elif token.kind is Kind.LANE:
        if token.text not in policy.lanes:
            yield Violation(
                Code.LANE_UNKNOWN,
                path,
                f"{token.text!r} reads as a lane, but the policy has no such lane",
                {"lane": token.text},
            )
    elif ctx is None:
        return
    elif isinstance(token, Time):
        if token.problem is not None:
            yield Violation(Code.TIME_OUTSIDE_WINDOW, path, f"{token.text!r} {token.problem}", {"time": token.text})
        elif not within(token, ctx.window):
            yield Violation(
                Code.TIME_OUTSIDE_WINDOW,
                path,
                f"{token.text!r} is outside the window {describe_window(ctx.window)}",
                {"time": token.text},
            )
    elif isinstance(token, Number) and (token.figure is None or not grounded(token.figure, known)):
        unread = " (a figure in digits other than 0-9: write it in ASCII digits)" if token.figure is None else ""
        yield Violation(
            Code.NUMBER_UNGROUNDED,
            path,
            f"{token.text!r} matches no fact of {', '.join(view.lanes) or 'the incident lanes'}, "
            f"no policy threshold and not the window's length, at the precision written{unread}",
            {"number": token.text},
        )
