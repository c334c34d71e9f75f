"""The after-action report: what happened, how fast, against what was expected, and what
to change. Written as Markdown (and posted to the drill's channel by the Slack runner)."""

from __future__ import annotations

from datetime import timedelta

from bot.tabletop.decisions import Made
from bot.tabletop.runner import DrillLog


def _mmss(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    seconds = int(delta.total_seconds())
    return f"{seconds // 60}:{seconds % 60:02d}"


def _satisfies(decided: str, label: str) -> bool:
    """``decide rollback l2-arb`` is met by approving or rejecting it."""
    if label.startswith("decide "):
        return decided.split(" ", 1)[-1] == label.split(" ", 1)[1] and decided.split(" ", 1)[0] in ("approve", "reject")
    return decided == label or decided.startswith(label + " ")


def _reached(log: DrillLog, label: str) -> Made | None:
    """The decision that met (or missed) the expectation ``label``."""
    return next((m for decided, m in sorted(log.decided_by.items(), key=lambda i: i[1].at) if _satisfies(decided, label)), None)


def expectations(log: DrillLog) -> list[tuple[str, timedelta, timedelta | None, str]]:
    """(decision, expected within, took, verdict) for each expectation, timed from the first alert."""
    out = []
    start = log.first_alert or timedelta(0)
    for expected in log.scenario.expect:
        label = expected.label()
        at = next((t for decided, t in log.decisions.items() if _satisfies(decided, label)), None)
        took = at - start if at is not None else None
        verdict = "never" if took is None else ("met" if took <= expected.within else "late")
        out.append((label, expected.within, took, verdict))
    return out


def _who(log: DrillLog, made: Made) -> str:
    roles = [role for role, user in log.people.items() if user == made.who]
    if made.scripted:
        roles = list(dict.fromkeys(r.role for r in log.scenario.responders if r.user == made.who and r.role))
    return f"<@{made.who}>" + (f" ({', '.join(roles)})" if roles else "")


def _score(log: DrillLog, made: Made) -> str:
    """How a decision counts against the expectations: the one that met (or missed) one, a
    step toward one (a first approval), or none expected."""
    for label, within, took, verdict in expectations(log):
        if _reached(log, label) == made:
            return f"{verdict}: {_mmss(took)} after the first alert, expected within {_mmss(within)}"
        if made.label == label:
            return f"a step toward `{label}`"
    return "no expectation of it"


def _decision_rows(log: DrillLog, scripted: bool) -> list[str]:
    rows = [f"| T+{_mmss(m.at)} | {_who(log, m)} | {m.label} | {_score(log, m)} |" for m in log.made if m.scripted == scripted]
    if not rows:
        return ["- none"]
    return ["| time | who | decision | scored |", "|---|---|---|---|", *rows]


def _played(log: DrillLog, role: str) -> str:
    if role in log.people:
        return f"played by <@{log.people[role]}>"
    return "scripted" if any(r.role == role for r in log.scenario.responders) else "no one (not assigned, nothing scripted)"


def _by(log: DrillLog, label: str) -> str:
    made = _reached(log, label)
    return "—" if made is None else f"{_who(log, made)}, {'scripted' if made.scripted else 'a person'}"


def _compare(real: timedelta | None, drill: timedelta | None) -> str:
    if real is None and drill is None:
        return "neither"
    if drill is None:
        return "worse: not done in the drill"
    if real is None:
        return "done only in the drill"
    if drill == real:
        return "the same"
    gap = _mmss(abs(drill - real))
    return f"better, {gap} sooner" if drill < real else f"worse, {gap} later"


def beside_the_incident(log: DrillLog) -> list[str]:
    """A drill made from an incident: its response beside the real team's, step by step,
    timed from the first alert in both."""
    base = log.scenario.baseline
    if base is None:
        return []
    start = log.first_alert or timedelta(0)
    drill = {label: at - start for label, at in log.decisions.items()}
    rows = [("acknowledge", base.acknowledged, drill.get("ack"))]
    labels = list(dict.fromkeys([*base.decisions, *(k for k in drill if k.split()[0] in ("approve", "reject"))]))
    rows += [(label, base.decisions.get(label), drill.get(label)) for label in labels]
    rows.append(("resolve", base.resolved, drill.get("resolve")))
    taken = [f"{m.label}" for label, m in log.decided_by.items() if label.split()[0] in ("approve", "reject")]
    return [
        "## This drill beside the real incident",
        "",
        f"The scenario replays {base.incident} ({base.severity or 'no severity'}); times are from the first alert.",
        "",
        "| step | the real incident | this drill | the drill did |",
        "|---|---|---|---|",
        *(f"| {step} | {_mmss(real)} | {_mmss(ours)} | {_compare(real, ours)} |" for step, real, ours in rows),
        "",
        f"Actions in the real incident: {', '.join(base.actions) or 'none'}. In this drill: {', '.join(taken) or 'none'}.",
        "",
    ]


def recommendations(log: DrillLog) -> list[str]:
    found = []
    for label, within, took, verdict in expectations(log):
        if verdict == "late":
            found.append(f"`{label}` took {_mmss(took)} against {_mmss(within)}: rehearse who owns it and page them directly.")
        elif verdict == "never":
            found.append(f"`{label}` never happened: decide in advance who makes this call and when to escalate.")
    for action in log.waiting:
        found.append(
            f"{action['kind']} {action['lane']} waited for approvals until the end: keep {action['approvals_needed']} "
            "approvers reachable during incidents, with a named backup."
        )
    for _, user, reason in log.refusals:
        found.append(f"A step by <@{user}> was refused ({reason}): review the policy or the runbook for it.")
    for fault, codes in log.faults:
        if not codes:
            found.append(f"CRITICAL: the planted AI proposal “{fault.headline}” passed the validators: add a rule for it.")
    if not found:
        found.append(
            "Every expected decision was on time; raise the difficulty next time (a second anomaly, a missing approver)."
        )
    return found


def render(log: DrillLog) -> str:
    s = log.scenario
    lines = [
        f"# After-action report: {s.title}",
        "",
        f"EXERCISE · scenario `{s.name}` · seed {s.seed} · {_mmss(s.duration)} simulated from {s.start:%Y-%m-%d %H:%M} UTC",
        "",
        s.description,
        "",
    ]
    if s.roles:
        lines += ["## Roles", "", *(f"- **{r}**: {what} — {_played(log, r)}" for r, what in s.roles.items()), ""]
    lines += [
        "## Decisions against what was expected",
        "",
        "| decision | expected within | took | verdict | by |",
        "|---|---|---|---|---|",
    ]
    for label, within, took, verdict in expectations(log):
        lines.append(f"| {label} | {_mmss(within)} | {_mmss(took)} | {verdict} | {_by(log, label)} |")
    lines += ["", f"Times are from the first alert, at T+{_mmss(log.first_alert)} (T: the scenario's start).", ""]
    lines += beside_the_incident(log)
    lines += ["## People's decisions", "", *_decision_rows(log, scripted=False), ""]
    lines += ["## Scripted decisions", "", *_decision_rows(log, scripted=True), ""]
    if log.skipped:
        lines += ["Scripted steps not played, because a person held the role:", ""]
        lines += [f"- T+{_mmss(at)} {role} (<@{who}>): {step}" for at, role, who, step in log.skipped]
        lines.append("")
    lines += ["## Approvals", ""]
    lines += [f"- T+{_mmss(at)} <@{who}> {decision}d {what}" for at, who, decision, what in log.approvals] or ["- none"]
    lines += ["", "## Validators on planted AI proposals", ""]
    for fault, codes in log.faults:
        verdict = f"stopped by {', '.join(f'`{c}`' for c in codes)}" if codes else "**not stopped**"
        lines.append(f"- “{fault.headline}” ({fault.why}): {verdict}")
    if not log.faults:
        lines.append("- none planted")
    lines += ["", "## Escalation gaps", ""]
    gaps = [f"- {a['kind']} {a['lane']} ({a['action_id']}) still waiting for approvals at the end" for a in log.waiting]
    gaps += [f"- T+{_mmss(at)} <@{who}>: {reason}" for at, who, reason in log.refusals]
    lines += gaps or ["- none"]
    lines += ["", "## Timeline", "", "| time | what | who | detail |", "|---|---|---|---|"]
    for entry in log.entries:
        detail = entry.detail.replace("|", "\\|")
        lines.append(f"| T+{_mmss(entry.at)} | {entry.kind} | {entry.actor or ''} | {detail} |")
    lines += ["", "## Recommendations", "", *(f"- {r}" for r in recommendations(log)), ""]
    if log.transcript:
        lines += [f"{len(log.transcript)} Slack messages would have been sent, each marked EXERCISE.", ""]
    return "\n".join(lines)
