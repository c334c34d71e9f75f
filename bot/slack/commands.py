"""The slash commands' meaning, apart from Slack: arguments in, a reply out.

Each command has ``help`` and answers a bad argument with its usage, naming what was
wrong. Replies are ephemeral (only the person who asked sees them) unless they ask to post
(``/lane status post``), so a hurried lookup never adds noise to the incident channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.approvals import ApprovalError, Approvals
from bot.incidents import IncidentError
from bot.incidents.views import list_incidents, show_incident
from bot.runtime import Bot
from bot.slack.blocks import Message, incident_detail, incident_timeline, incidents_list, lane_detail, lanes_overview, plain

LANE_USAGE = (
    "`/lane status [LANE] [post]` — every lane at a glance, or one lane in detail (`post` shows it to the channel)\n"
    "`/lane heatmap [LANE] [WINDOW]` — settlement latency over time as a picture (WINDOW like 30m, 2h; default 1h)\n"
    "`/lane help` — this"
)
INCIDENT_USAGE = (
    "`/incident list [open|mitigated|resolved]` · `/incident show ID` · `/incident timeline ID` · "
    "`/incident ack ID` · `/incident resolve ID` · `/incident help`"
)
ROLLBACK_USAGE = "`/rollback LANE` — a rollback suggestion for LANE now, or exactly why the policy does not allow one"


@dataclass(frozen=True, slots=True)
class Reply:
    message: Message
    in_channel: bool = False


def usage(problem: str, text: str) -> Reply:
    return Reply(plain(f"{problem}\n{text}" if problem else text))


def lane(bot: Bot, words: list[str]) -> Reply:
    """``/lane status``; ``heatmap`` is answered by the lazy listener (it uploads a file)."""
    if not words or words[0] == "help":
        return usage("", LANE_USAGE)
    verb, rest = words[0], words[1:]
    if verb != "status":
        return usage(f"Unknown subcommand `{verb}`.", LANE_USAGE)
    post = "post" in rest
    rest = [w for w in rest if w != "post"]
    if len(rest) > 1:
        return usage("`/lane status` takes at most one lane.", LANE_USAGE)
    statuses = bot.lane_status()
    if not rest:
        return Reply(lanes_overview(statuses, bot.policy), post)
    if rest[0] not in statuses:
        known = ", ".join(sorted(statuses)) or "none yet"
        return usage(f"No events seen for lane `{rest[0]}` (lanes with status: {known}).", LANE_USAGE)
    return Reply(lane_detail(statuses[rest[0]], bot.policy), post)


def incident(bot: Bot, words: list[str], user_id: str) -> Reply:
    if not words or words[0] == "help":
        return usage("", INCIDENT_USAGE)
    verb, rest = words[0], words[1:]
    if verb == "list":
        status = rest[0] if rest else "open"
        if status not in ("open", "mitigated", "resolved", "all") or len(rest) > 1:
            return usage(
                f"`/incident list` takes one of open, mitigated, resolved, all (got `{' '.join(rest)}`).", INCIDENT_USAGE
            )
        rows = list_incidents(bot.engine, None if status == "all" else status, 20)
        return Reply(incidents_list([r.as_json() for r in rows]))
    if verb not in ("show", "timeline", "ack", "resolve"):
        return usage(f"Unknown subcommand `{verb}`.", INCIDENT_USAGE)
    if len(rest) != 1:
        return usage(f"`/incident {verb}` needs exactly one incident id.", INCIDENT_USAGE)
    incident_id = rest[0]
    try:
        if verb == "ack":
            bot.incidents.ack(incident_id, user_id)
            return Reply(plain(f"{incident_id} acknowledged by <@{user_id}>."), in_channel=True)
        if verb == "resolve":
            bot.incidents.set_status(incident_id, "resolved", user_id)
            return Reply(plain(f"{incident_id} resolved by <@{user_id}>."), in_channel=True)
        doc = show_incident(bot.engine, incident_id).as_json()
    except IncidentError as exc:  # an unknown id or a state that forbids it: said plainly, no usage
        reason = str(exc)
        return Reply(plain(reason[:1].upper() + reason[1:] + "."))
    return Reply(incident_detail(doc) if verb == "show" else incident_timeline(doc))


def rollback(bot: Bot, approvals: Approvals, words: list[str], user_id: str) -> Reply:
    if len(words) != 1 or words[0] == "help":
        return usage("" if words == ["help"] else "`/rollback` needs exactly one lane.", ROLLBACK_USAGE)
    try:
        suggestion = approvals.suggest_rollback(words[0], user_id)
    except ApprovalError as exc:
        return Reply(plain(str(exc)))
    bot.post_action(suggestion)
    return Reply(
        plain(f"Rollback of {words[0]} suggested ({suggestion.action_id}); it needs {suggestion.approvals_needed} approvals.")
    )
