"""The slash commands' meaning, apart from Slack: arguments in, a reply out.

Each command has ``help`` and answers a bad argument with its usage, naming what was
wrong. Replies are ephemeral (only the person who asked sees them) unless they ask to post
(``/lane status post``), so a hurried lookup never adds noise to the incident channel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from bot.actions import ActionError, Actions, ActionState, Approvers
from bot.actions.preconditions import KIND_NAMES
from bot.chatops.silences import SILENCE_USAGE
from bot.chatops.silences import silence as silence_command
from bot.chatops.views import incident_detail, incident_timeline, incidents_list, lane_detail, lanes_overview
from bot.incidents import IncidentError
from bot.incidents.desk import Desk
from bot.incidents.silences import Silence, Silences
from bot.lanes.window import LaneStatus
from bot.slack.blocks import Message, escape, plain, quoted
from bot.tabletop.live import DrillError, LiveDrills
from bot.tabletop.roles import RolesError, parse_start
from bot.tabletop.scenario import Scenario, bundled
from validators.policy import Policy

LANE_USAGE = (
    "`/lane status [LANE] [post]` — every lane at a glance, or one lane in detail (`post` shows it to the channel)\n"
    "`/lane heatmap [LANE] [WINDOW]` — settlement latency over time as a picture (WINDOW like 30m, 2h; default 1h)\n"
    f"{SILENCE_USAGE}\n"
    "`/lane help` — this"
)
INCIDENT_USAGE = (
    "`/incident list [open|mitigated|resolved|all]` · `/incident show ID` · `/incident timeline ID` · "
    "`/incident ack ID` · `/incident resolve ID` · `/incident escalate ID` · `/incident note ID TEXT` · "
    "`/incident help` — ID is the card's number (`#7`) or the full id"
)
TABLETOP_USAGE = (
    "`/tabletop list` · `/tabletop start SCENARIO [SPEED] [@role=@person ...]` (SCENARIO: a bundled one, or `#N` to "
    "replay resolved incident #N; SPEED: simulated seconds per real second, default 1; a role given to a person is "
    "never played by the bot) · "
    "`/tabletop status` · `/tabletop pause` · `/tabletop resume` · `/tabletop end` · `/tabletop help`"
)
SUGGESTING = {"/rollback": "rollback", "/reroute": "reroute", "/pause": "pause_lane"}
"""Slash commands that suggest an action of the policy's kind (voted on like the AI's)."""
SUGGEST_USAGE = (
    "`/rollback LANE` · `/reroute LANE` · `/pause LANE` — suggest that action on LANE now, with Approve/Reject "
    "buttons, or say exactly why the policy does not allow it"
)


@dataclass(frozen=True, slots=True)
class Reply:
    message: Message
    in_channel: bool = False


def usage(problem: str, text: str) -> Reply:
    return Reply(plain(f"{problem}\n{text}" if problem else text))


def lane(
    statuses: Mapping[str, LaneStatus], policy: Policy, words: list[str], now: datetime, silences: Mapping[str, Silence]
) -> Reply:
    """``/lane status``; ``heatmap`` is answered by the lazy listener (it uploads a file), and
    ``silence`` by ``bot.chatops.silences``. ``silences``: each silenced lane's, now."""
    if not words or words[0] == "help":
        return usage("", LANE_USAGE)
    verb, rest = words[0], words[1:]
    if verb != "status":
        return usage(f"Unknown subcommand {quoted(verb)}.", LANE_USAGE)
    post = "post" in rest
    rest = [w for w in rest if w != "post"]
    if len(rest) > 1:
        return usage("`/lane status` takes at most one lane.", LANE_USAGE)
    if not rest:
        return Reply(lanes_overview(dict(statuses), policy, now, dict(silences)), post)
    if rest[0] not in statuses:
        known = ", ".join(sorted(statuses)) or "none yet"
        return usage(f"No events seen for lane {quoted(rest[0])} (lanes with status: {escape(known)}).", LANE_USAGE)
    return Reply(lane_detail(statuses[rest[0]], policy, now, silences.get(rest[0])), post)


def silence(store: Silences, approvers: Approvers, policy: Policy, words: list[str], user_id: str) -> Reply:
    message, to_channel = silence_command(store, approvers, policy, words, user_id)
    return Reply(message, to_channel)


def incident(desk: Desk, words: list[str], user_id: str) -> Reply:
    """``ID`` is the number people see on the card (``#7`` or ``7``) or the full id. What
    changes an incident is told in its thread and on its card, so the answer here is the
    asker's alone."""
    if not words or words[0] == "help":
        return usage("", INCIDENT_USAGE)
    verb, rest = words[0], words[1:]
    if verb == "list":
        status = rest[0] if rest else "open"
        if status not in ("open", "mitigated", "resolved", "all") or len(rest) > 1:
            return usage(
                f"`/incident list` takes one of open, mitigated, resolved, all (got {quoted(' '.join(rest))}).", INCIDENT_USAGE
            )
        rows = desk.list(None if status == "all" else status, 20)
        return Reply(incidents_list([r.as_json() for r in rows]))
    if verb not in ("show", "timeline", "ack", "resolve", "note", "escalate"):
        return usage(f"Unknown subcommand {quoted(verb)}.", INCIDENT_USAGE)
    if verb == "note" and len(rest) < 2:
        return usage("`/incident note` needs an incident and the note: `/incident note #7 what you saw`.", INCIDENT_USAGE)
    if verb != "note" and len(rest) != 1:
        return usage(f"`/incident {verb}` needs exactly one incident (`#7` or its id).", INCIDENT_USAGE)
    ref = rest[0]
    try:
        if verb in ("ack", "resolve", "escalate"):
            done = {"ack": desk.ack, "resolve": desk.resolve, "escalate": desk.escalate}[verb](ref, user_id)
            return Reply(plain(f"#{desk.number(done)} {DONE[verb]}: its card and thread say so."))
        if verb == "note":
            done = desk.note(ref, user_id, " ".join(rest[1:]))
            return Reply(plain(f"Noted on #{desk.number(done)}: it is in the incident's thread."))
        doc = desk.show(ref).as_json()
    except IncidentError as exc:  # an unknown incident or a state that forbids it: said plainly, no usage
        reason = escape(str(exc))  # it may quote what was typed
        return Reply(plain(reason[:1].upper() + reason[1:] + "."))
    return Reply(incident_detail(doc) if verb == "show" else incident_timeline(doc))


DONE = {"ack": "acknowledged", "resolve": "resolved", "escalate": "escalated to the policy's approvers"}


def suggest(actions: Actions, post: Callable[[ActionState], None], kind: str, words: list[str], user_id: str) -> Reply:
    """``/rollback``, ``/reroute``, ``/pause``: a new suggestion (a new message with its
    buttons) when the policy allows it on the live facts; else exactly why not."""
    name = KIND_NAMES.get(kind, kind)
    if len(words) != 1 or words[0] == "help":
        return usage("" if words == ["help"] else f"`/{name}` needs exactly one lane.", SUGGEST_USAGE)
    try:
        suggestion = actions.suggest(kind, words[0], user_id)
    except ActionError as exc:
        reason = escape(str(exc))  # it may quote what was typed
        return Reply(plain(reason[:1].upper() + reason[1:] + "."))
    post(suggestion)
    needs = f"it needs {suggestion.approvals_needed} approval{'s' if suggestion.approvals_needed != 1 else ''}"
    return Reply(plain(f"{name.capitalize()} of {escape(words[0])} suggested ({suggestion.action_id}); {needs}."))


def tabletop(
    drills: LiveDrills,
    words: list[str],
    channel_id: str,
    channel_name: str,
    user_id: str,
    *,
    of_incident: Callable[[str, Path], Scenario] | None = None,
) -> Reply:
    """Facilitators' controls; scenarios are the bundled ones, or ``#7``: a drill of a
    resolved incident made by ``of_incident`` (a command never names a file)."""
    if not words or words[0] == "help":
        return usage("", TABLETOP_USAGE)
    verb, rest = words[0], words[1:]
    scenarios = bundled()
    try:
        if verb == "list":
            return Reply(plain("\n".join(f"`{name}` — {s.description}" for name, s in scenarios.items())))
        if verb == "start":
            try:
                line = parse_start(rest)
            except RolesError as exc:
                return usage(f"{exc}.", TABLETOP_USAGE)
            scenario: Scenario | Callable[[Path], Scenario]
            if line.scenario.startswith("#") and of_incident is not None:
                scenario = partial(of_incident, line.scenario)
            elif line.scenario in scenarios:
                scenario = scenarios[line.scenario]
            else:
                given = f" ({quoted(line.scenario)} is not one)"
                known = f"{', '.join(scenarios)}, or `#N` for a drill of resolved incident #N"
                return usage(f"`/tabletop start` needs a bundled scenario{given}: {known}.", TABLETOP_USAGE)
            started = drills.start(
                channel_id, channel_name, scenario, 1.0 if line.speed is None else line.speed, user_id, people=line.people
            )
            return Reply(plain(started), in_channel=True)
        controls = {"status": drills.status, "pause": drills.pause, "resume": drills.resume, "end": drills.end}
        if verb not in controls or rest:
            return usage(f"Unknown or malformed subcommand {quoted(' '.join(words))}.", TABLETOP_USAGE)
        return Reply(plain(controls[verb](channel_id)), in_channel=verb != "status")
    except DrillError as exc:
        return Reply(plain(str(exc)))
