"""Request bodies within a bounded size: a sender that declares too much is refused before
anything is read, one that streams too much is cut off at the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request


class BodyTooLarge(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes (LANEKEEPER_MAX_BODY_BYTES); send it in smaller parts")


async def stream_body(request: Request, limit: int) -> AsyncIterator[bytes]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise BodyTooLarge(limit)
        if chunk:
            yield chunk


async def read_body(request: Request, limit: int) -> bytes:
    return b"".join([chunk async for chunk in stream_body(request, limit)])
