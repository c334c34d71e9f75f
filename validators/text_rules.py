"""Checks of the free texts (headline, claim texts, action reasons): content safety, lane
mentions, times and the grounding of every figure."""

from __future__ import annotations

import re
from collections.abc import Iterator

from validators.content import find_links, find_mentions, find_secrets, link_host
from validators.facts import FACT_NAMES, FACT_UNITS, Unit
from validators.findings import Code, Violation, pointer
from validators.grounding import Quantity, find_numbers, find_times, mask
from validators.policy import Policy
from validators.proposal import ProposalView
from validators.rules import Context, describe_window


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
        # credentials and links are read first, on the raw text; what is inside a link
        # (a path with @user, a query with a time or a lane) is the link's, not prose
        taken: list[tuple[int, int]] = []
        for span in find_secrets(text):
            taken.append((span.start, span.end))
            yield Violation(
                Code.CONTENT_SECRET, path, f"a {span.label} ({span.text[:4]}…) is in the text: credentials are never posted"
            )
        for span in find_links(text):
            taken.append((span.start, span.end))
            host = link_host(span.text)
            if host not in policy.links_allowed:
                allowed = ", ".join(policy.links_allowed) or "none"
                yield Violation(
                    Code.CONTENT_LINK,
                    path,
                    f"link to {host or span.text!r} is not allowed (links_allowed: {allowed})",
                    {"host": host},
                )
        prose = mask(text, taken)
        for span in find_mentions(prose):
            taken.append((span.start, span.end))
            yield Violation(
                Code.CONTENT_MENTION,
                path,
                f"{span.text!r} is a {span.label}: a summary may not notify people",
                {"match": span.text},
            )
        for m in lane_re.finditer(prose):
            taken.append((m.start(), m.end()))
            if m.group() not in policy.lanes:
                yield Violation(
                    Code.LANE_UNKNOWN,
                    path,
                    f"{m.group()!r} reads as a lane, but the policy has no such lane",
                    {"lane": m.group()},
                )
        if ctx is None:
            continue
        for time in find_times(mask(text, taken), ctx.window):
            taken.append((time.start, time.end))
            if time.problem is not None:
                yield Violation(Code.TIME_OUTSIDE_WINDOW, path, f"{time.text!r} {time.problem}", {"time": time.text})
            elif not time.within(ctx.window):
                yield Violation(
                    Code.TIME_OUTSIDE_WINDOW,
                    path,
                    f"{time.text!r} is outside the window {describe_window(ctx.window)}",
                    {"time": time.text},
                )
        for number in find_numbers(mask(text, taken)):
            if not any(number.matches(q) for q in known):
                yield Violation(
                    Code.NUMBER_UNGROUNDED,
                    path,
                    f"{number.text!r} matches no fact of {', '.join(view.lanes) or 'the incident lanes'}, "
                    "no policy threshold and not the window's length, at the precision written",
                    {"number": number.text},
                )
