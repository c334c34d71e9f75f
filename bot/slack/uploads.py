"""Files the bot posts (heatmaps, reports), through Slack's current upload API."""

from __future__ import annotations

from slack_sdk import WebClient


def upload(
    client: WebClient, channel_id: str, content: bytes | str, filename: str, title: str, *, thread_ts: str | None = None
) -> None:
    """``files_upload_v2`` (the retired ``files.upload`` is never used), into the thread
    ``thread_ts`` when one is given. Slack's refusal raises ``SlackApiError``."""
    if isinstance(content, bytes):
        client.files_upload_v2(channel=channel_id, file=content, filename=filename, title=title, thread_ts=thread_ts)
    else:
        client.files_upload_v2(channel=channel_id, content=content, filename=filename, title=title, thread_ts=thread_ts)
