"""Posting an incident's messages to Slack with the official ``slack_sdk`` Web API client.

Each incident owns its messages (``slack_messages``: incident, purpose, channel -> ts), so
an update edits the message it posted (``chat.update``) and a restart never posts a second
facts card. Every post carries Slack message metadata naming its incident and purpose, so
a post whose answer was lost (a crash, a 5xx after Slack stored it) is found in the
channel's history and adopted instead of posted twice. Errors are raised: the outbox
(``bot.slack.outbox``) decides what to retry, so the client's own retry handlers are off.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.clock import Clock
from bot.slack.blocks import CARD, Message, context_block
from bot.store.engine import reading
from bot.store.tables import slack_messages

log = logging.getLogger(__name__)
EVENT_TYPE = "lanekeeper_message"
CLOCK_SKEW = timedelta(minutes=2)
"""How much earlier than our clock's record of a post the history is searched from."""
HISTORY_PAGES = 10
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")


def metadata_of(incident_id: str, purpose: str) -> dict[str, Any]:
    """Slack message metadata that names the message's owner (chat.postMessage ``metadata``)."""
    return {"event_type": EVENT_TYPE, "event_payload": {"incident_id": incident_id, "purpose": purpose}}


def posted(engine: Engine, incident_id: str, purpose: str) -> tuple[str, str] | None:
    """(channel id, ts) of the message posted for this purpose (chat.update needs the id)."""
    with reading(engine) as conn:
        row = conn.execute(
            select(slack_messages.c.channel, slack_messages.c.ts).where(
                slack_messages.c.incident_id == incident_id, slack_messages.c.purpose == purpose
            )
        ).first()
    return (row.channel, row.ts) if row is not None and row.ts is not None else None


class Poster(Protocol):
    def post(self, incident_id: str, purpose: str, message: Message) -> None:
        """Post ``message`` once for (incident, purpose); later calls update it."""

    def is_posted(self, incident_id: str, purpose: str) -> bool:
        """Whether (incident, purpose) has a message already (the next call edits it)."""

    def adopt(self, incident_id: str, purpose: str, since: datetime) -> bool:
        """Find a post of (incident, purpose) made since ``since`` whose answer was never
        recorded, and own it (the next call edits it); False when there is none."""


class SlackPoster:
    def __init__(self, client: WebClient, channel: str, engine: Engine, clock: Clock) -> None:
        self.client, self.channel, self.engine, self.clock = client, channel, engine, clock

    @classmethod
    def connect(cls, token: str, base_url: str, channel: str, engine: Engine, clock: Clock) -> SlackPoster:
        return cls(WebClient(token=token, base_url=base_url, retry_handlers=[]), channel, engine, clock)

    def post(self, incident_id: str, purpose: str, message: Message) -> None:
        """The card at the top of the channel, everything else in its thread (told to the
        channel too when ``message.broadcast``). Raises ``SlackApiError`` (with Slack's status
        and error) when Slack says no."""
        found = posted(self.engine, incident_id, purpose)
        if found is None:
            parent = None if purpose == CARD else posted(self.engine, incident_id, CARD)
            thread: dict[str, Any] = {} if parent is None else {"thread_ts": parent[1], "reply_broadcast": message.broadcast}
            answer = self.client.chat_postMessage(
                channel=parent[0] if parent else self.channel,
                text=message.text,
                blocks=message.blocks,
                metadata=metadata_of(incident_id, purpose),
                **thread,
            )
            self._remember(incident_id, purpose, str(answer["channel"]), str(answer["ts"]))
        else:
            channel, ts = found
            self.client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)
            self._touch(incident_id, purpose)

    def is_posted(self, incident_id: str, purpose: str) -> bool:
        return posted(self.engine, incident_id, purpose) is not None

    def adopt(self, incident_id: str, purpose: str, since: datetime) -> bool:
        """Searches the channel's history (``conversations.history`` with metadata; scopes
        channels:history, groups:history). Raises on 429 and 5xx, as a post would: not knowing
        is no reason to post twice. When history cannot be read at all (a channel name never
        resolved, a missing scope), says so and returns False: a duplicate beats a lost card."""
        parent = None if purpose == CARD else posted(self.engine, incident_id, CARD)
        channel = parent[0] if parent else self._channel_id()
        if channel is None:
            log.warning("cannot look for an unrecorded post of %s: the channel's id is not known yet", purpose)
            return False
        wanted = metadata_of(incident_id, purpose)
        cursor: str | None = None
        oldest = f"{(since - CLOCK_SKEW).timestamp():.6f}"
        for _ in range(HISTORY_PAGES):
            try:
                if parent is None:
                    page = self.client.conversations_history(
                        channel=channel, oldest=oldest, include_all_metadata=True, limit=200, cursor=cursor
                    )
                else:  # a reply lives in its thread, not in the channel's history
                    page = self.client.conversations_replies(
                        channel=channel, ts=parent[1], oldest=oldest, include_all_metadata=True, limit=200, cursor=cursor
                    )
            except SlackApiError as exc:
                if exc.response.status_code == 429 or exc.response.status_code >= 500:
                    raise
                log.warning("cannot read the channel's history (%s); posting %s again", exc.response.get("error"), purpose)
                return False
            messages: list[dict[str, Any]] = page.get("messages", [])
            for found in messages:
                meta = found.get("metadata") or {}
                if meta.get("event_type") == EVENT_TYPE and meta.get("event_payload") == wanted["event_payload"]:
                    self._remember(incident_id, purpose, channel, str(found["ts"]))
                    return True
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or cursor is None:
                break
        return False

    def _channel_id(self) -> str | None:
        """The channel's id: the setting when it is one, else what Slack answered to a post."""
        if _CHANNEL_ID.match(self.channel):
            return self.channel
        with reading(self.engine) as conn:
            return conn.scalar(select(slack_messages.c.channel).order_by(slack_messages.c.message_id.desc()).limit(1))

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
        marked = Message(f"[{self.mark}] {message.text}", [banner, *message.blocks], message.broadcast)
        self.inner.post(incident_id, purpose, marked)

    def is_posted(self, incident_id: str, purpose: str) -> bool:
        return self.inner.is_posted(incident_id, purpose)

    def adopt(self, incident_id: str, purpose: str, since: datetime) -> bool:
        return self.inner.adopt(incident_id, purpose, since)
