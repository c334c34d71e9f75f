"""Request bodies within a bounded size: a sender that declares too much is refused before
anything is read, one that streams too much is cut off at the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request


class BodyTooLarge(ValueError):
    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(f"request body over {limit} bytes ({setting}); send it in smaller parts")


async def stream_body(request: Request, limit: int, setting: str = "LANEKEEPER_MAX_BODY_BYTES") -> AsyncIterator[bytes]:
    """``setting`` names the limit in the 413's message, so a sender knows what to change."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit, setting)
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise BodyTooLarge(limit, setting)
        if chunk:
            yield chunk


async def read_body(request: Request, limit: int, setting: str) -> bytes:
    return b"".join([chunk async for chunk in stream_body(request, limit, setting)])
