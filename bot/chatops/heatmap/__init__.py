"""``/lane heatmap``: settlement latency per lane and hop, and failures, over time, as a PNG.

Rows are a lane's two hops, L2 (submitted to confirmed) and L1 (confirmed to finalized),
and its failed settlements; columns are time buckets over the window. People read a stall
in a picture faster than in a table, but a picture Slack refused says nothing: then the
same figures go out as a text table, where the picture would have gone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.chatops.heatmap.figures import KINDS, build, window_text
from bot.chatops.heatmap.render import render, size_of
from bot.chatops.heatmap.table import table
from bot.config import parse_duration
from bot.lanes.window import LaneStatus
from bot.slack.blocks import SECTION_MAX, Message, escape, plain_text, quoted, section
from bot.slack.uploads import upload
from bot.store.events import EventStore

__all__ = ["HeatmapError", "Picture", "deliver", "draw", "size_of"]
log = logging.getLogger(__name__)
MAX_WINDOW = timedelta(hours=24)
FILENAME = "lane-heatmap.png"


class HeatmapError(ValueError):
    """Bad arguments or nothing to draw; the message says which."""


def parse_args(words: list[str], known: list[str]) -> tuple[list[str], timedelta]:
    lanes, window = known, timedelta(hours=1)
    for word in words:
        if word in known:
            lanes = [word]
        else:
            try:
                window = parse_duration(word)
            except ValueError:
                raise HeatmapError(
                    f"{quoted(word)} is neither a lane with events ({escape(', '.join(known))}) nor a window like 30m or 2h."
                ) from None
    if not timedelta(minutes=1) <= window <= MAX_WINDOW:
        raise HeatmapError("The window must be between 1m and 24h.")
    return lanes, window


@dataclass(frozen=True, slots=True)
class Picture:
    png: bytes
    title: str
    table: str
    """The same figures as text, for when the picture cannot be posted."""
    lanes: tuple[str, ...]


def draw(statuses: Mapping[str, LaneStatus], events: EventStore, words: list[str], now: datetime) -> Picture:
    """The heatmap ``/lane heatmap WORDS`` asks for (``now`` decides whether times need their
    date); ``HeatmapError`` saying why not."""
    if not statuses:
        raise HeatmapError("No settlement events seen yet: nothing to draw.")
    lanes, window = parse_args(words, sorted(statuses))
    end = max(statuses[lane].watermark for lane in lanes)
    start = end - window
    found = events.between(start - timedelta(hours=1), end + timedelta(microseconds=1), lanes=lanes, kinds=KINDS)
    figures = build(found, lanes, start, end)
    png, _ = render(figures, now.date())
    title = plain_text(f"Settlement latency and failures, {', '.join(lanes)}, {window_text(start, end, now.date())}")
    return Picture(png, title, table(figures, now.date(), _fits_a_section), tuple(lanes))


def _fits_a_section(text: str) -> bool:
    return len(_code_block(text)) <= SECTION_MAX - 200  # room for the sentence above it


def _code_block(text: str) -> str:
    return f"```{escape(text)}```"


def deliver(
    client: WebClient, picture: Picture, *, channel_id: str, thread_ts: str | None, respond: Callable[..., object]
) -> None:
    """Upload ``picture`` to the channel, into the thread ``thread_ts`` when one is given. If
    Slack refuses it, or the upload fails, the same figures go out as text: in that thread,
    or, with no thread, privately to the person who asked (``respond``)."""
    try:
        upload(client, channel_id, picture.png, FILENAME, picture.title, thread_ts=thread_ts)
        return
    except SlackApiError as exc:  # Slack answered ok: false
        why = f"Slack answered {exc.response.get('error', 'an error')}"
    except (SlackClientError, OSError) as exc:  # the upload URL refused the bytes, or the connection failed
        why = f"the upload failed ({type(exc).__name__})"
    log.warning("heatmap upload failed, answered with its figures as text: %s", why)
    said = f"The heatmap could not be posted ({escape(why)}); its figures:"
    message = Message(f"{said}\n{escape(picture.table)}", [section(f"{said}\n{_code_block(picture.table)}")])
    if thread_ts is None:
        respond(text=message.text, blocks=message.blocks, response_type="ephemeral")
    else:
        client.chat_postMessage(channel=channel_id, thread_ts=thread_ts, text=message.text, blocks=message.blocks)
