"""``/lane silence LANE DURATION REASON`` and ``/lane unsilence LANE``: approvers mute new
incidents on a lane for a while, from Slack. The answer goes to the channel: a quiet lane
should never be a mystery to the next person on call."""

from __future__ import annotations

from datetime import datetime

from bot.actions import ActionError, Approvers
from bot.config import parse_duration
from bot.incidents.silences import Silence, SilenceError, Silences
from bot.slack.blocks import Message, escape, plain, quoted
from bot.slack.cards import mention
from bot.slack.figures import duration, plural, when
from validators.policy import Policy

SILENCE_USAGE = (
    "`/lane silence LANE DURATION REASON` — approvers: mute new incidents on LANE for DURATION "
    "(like 30m, 2h, 1h30m; up to 168h, a week); its alerts are still stored and counted\n"
    "`/lane unsilence LANE` — approvers: end the lane's silence now"
)


def silence_text(silence: Silence, now: datetime) -> str:
    """How a silence reads on ``/lane`` and a lane's status."""
    muted = f"{plural(silence.alerts_muted, 'alert')} muted"
    return (
        f"silenced until {when(silence.ends_at, now)} by {mention(silence.created_by)}: “{escape(silence.reason)}” "
        f"({muted}; no new incident opens)"
    )


def silence(silences: Silences, approvers: Approvers, policy: Policy, words: list[str], user_id: str) -> tuple[Message, bool]:
    """The answer and whether it is for the channel (a change is; a refusal is the asker's)."""
    verb, rest = words[0], words[1:]
    wanted = 3 if verb == "silence" else 1
    if len(rest) < wanted or (verb == "unsilence" and len(rest) > 1):
        need = "a lane, a duration and a reason" if verb == "silence" else "exactly one lane"
        return plain(f"`/lane {verb}` needs {need}.\n{SILENCE_USAGE}"), False
    lane = rest[0]
    if lane not in policy.lanes:
        return plain(f"{quoted(lane)} is not a lane of the policy ({escape(', '.join(policy.lanes))}).\n{SILENCE_USAGE}"), False
    try:
        approvers.check(user_id)
        if verb == "unsilence":
            ended = silences.unsilence(lane, user_id)
            muted = plural(ended.alerts_muted, "alert")
            return plain(
                f"{mention(user_id)} ended the silence of {escape(lane)}: new incidents open again ({muted} muted)."
            ), True
        try:
            length = parse_duration(rest[1])
        except ValueError:
            return plain(f"{quoted(rest[1])} is not a duration like 30m, 2h or 1h30m.\n{SILENCE_USAGE}"), False
        made = silences.silence(lane, length, " ".join(rest[2:]), user_id)
    except (ActionError, SilenceError) as exc:
        reason = str(exc)
        return plain(reason[:1].upper() + reason[1:] + "."), False
    took = duration(length.total_seconds())
    return plain(
        f"{mention(user_id)} silenced {escape(lane)} for {took}, until {when(made.ends_at, made.starts_at)}: "
        f"“{escape(made.reason)}”. Its alerts are stored and counted; no new incident opens."
    ), True
