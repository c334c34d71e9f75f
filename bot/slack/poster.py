"""Posting an incident's messages to Slack with the official ``slack_sdk`` Web API client.

Each incident owns its messages (``slack_messages``: incident, purpose, channel -> ts), so
an update edits the message it posted (``chat.update``) and a restart never posts a second
facts card. Errors are raised: the outbox (``bot.slack.outbox``) decides what to retry,
so the client's own retry handlers are off.
"""

from __future__ import annotations

import logging
from typing import Protocol

from slack_sdk import WebClient
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.incidents.engine import Clock
from bot.slack.blocks import Message, context_block
from bot.store.tables import slack_messages

log = logging.getLogger(__name__)


class Poster(Protocol):
    def post(self, incident_id: str, purpose: str, message: Message) -> None:
        """Post ``message`` once for (incident, purpose); later calls update it."""

    def is_posted(self, incident_id: str, purpose: str) -> bool:
        """Whether (incident, purpose) has a message already (the next call edits it)."""


class SlackPoster:
    def __init__(self, client: WebClient, channel: str, engine: Engine, clock: Clock) -> None:
        self.client, self.channel, self.engine, self.clock = client, channel, engine, clock

    @classmethod
    def connect(cls, token: str, base_url: str, channel: str, engine: Engine, clock: Clock) -> SlackPoster:
        return cls(WebClient(token=token, base_url=base_url, retry_handlers=[]), channel, engine, clock)

    def post(self, incident_id: str, purpose: str, message: Message) -> None:
        """Raises ``SlackApiError`` (with Slack's status and error) when Slack says no."""
        posted = self._posted(incident_id, purpose)
        if posted is None:
            answer = self.client.chat_postMessage(channel=self.channel, text=message.text, blocks=message.blocks)
            self._remember(incident_id, purpose, str(answer["channel"]), str(answer["ts"]))
        else:
            channel, ts = posted
            self.client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)
            self._touch(incident_id, purpose)

    def is_posted(self, incident_id: str, purpose: str) -> bool:
        return self._posted(incident_id, purpose) is not None

    def _posted(self, incident_id: str, purpose: str) -> tuple[str, str] | None:
        """(channel id, ts) of the message posted for this purpose (chat.update needs the id)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(slack_messages.c.channel, slack_messages.c.ts).where(
                    slack_messages.c.incident_id == incident_id, slack_messages.c.purpose == purpose
                )
            ).first()
        return (row.channel, row.ts) if row is not None and row.ts is not None else None

    def _remember(self, incident_id: str, purpose: str, channel_id: str, ts: str) -> None:
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(slack_messages).values(
                        incident_id=incident_id, purpose=purpose, channel=channel_id, ts=ts, created_at=now, updated_at=now
                    )
                )
        except IntegrityError:  # another replica posted first; ours stays, unowned
            log.warning("%s of %s was posted twice (channel %s, ts %s)", purpose, incident_id, channel_id, ts)

    def _touch(self, incident_id: str, purpose: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(slack_messages)
                .where(slack_messages.c.incident_id == incident_id, slack_messages.c.purpose == purpose)
                .values(updated_at=self.clock())
            )


class Marked:
    """Every message through ``inner`` carries ``mark`` (``EXERCISE`` in drills) in its text
    and as its first block, so no one mistakes a drill for production."""

    def __init__(self, inner: Poster, mark: str) -> None:
        self.inner, self.mark = inner, mark

    def post(self, incident_id: str, purpose: str, message: Message) -> None:
        banner = context_block(f"*{self.mark}* — a drill, not production; nothing approved here executes")
        self.inner.post(incident_id, purpose, Message(f"[{self.mark}] {message.text}", [banner, *message.blocks]))

    def is_posted(self, incident_id: str, purpose: str) -> bool:
        return self.inner.is_posted(incident_id, purpose)
