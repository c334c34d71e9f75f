"""Scheduling the drill of a resolved sev1/sev2 incident within 48 hours, from the offer in
its thread: the date posted to the drill channel with a reminder Slack delivers then
(``chat.scheduleMessage``: a bot token can schedule, where ``reminders.add`` needs a
person's), and the incident's thread told where and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk import WebClient

from bot.slack.blocks import escape, section

AFTER = timedelta(hours=24)
"""The next day, on the hour: well inside the playbook's 48 hours, and time to prepare."""


@dataclass(frozen=True, slots=True)
class Scheduled:
    at: datetime
    channel: str


def drill_time(now: datetime) -> datetime:
    return (now + AFTER).replace(minute=0, second=0, microsecond=0)


def schedule_drill(client: WebClient, drill_channel: str, number: int, now: datetime) -> Scheduled:
    """Post the date to ``drill_channel`` and schedule its reminder; ``SlackApiError`` when
    Slack refuses either."""
    at = drill_time(now)
    when = f"{at:%a %d %b %H:%M} UTC"
    make = f"`lanekeeper tabletop from-incident #{number} --out drill-{number}.yaml`"
    start = f"`/tabletop start #{number} [SPEED] [@role=@person ...]`"
    text = f"Drill of incident #{number} scheduled for {when}: {start} here replays it (or {make})."
    client.chat_postMessage(channel=drill_channel, text=text, blocks=[section(escape(text))])
    reminder = f"Reminder: the drill of incident #{number} starts now: {start} here."
    client.chat_scheduleMessage(channel=drill_channel, post_at=int(at.timestamp()), text=reminder)
    return Scheduled(at, drill_channel)


def channel_ref(channel: str) -> str:
    """A channel as Slack links it: ``<#C0123>`` for an id, ``#name`` for a name."""
    return f"<#{channel}>" if channel[:1] in ("C", "G") and channel.isupper() else "#" + channel.lstrip("#")
