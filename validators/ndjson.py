"""Streaming NDJSON parsing of settlement events (contract §1).

The caller feeds byte chunks of any size (a file read in blocks, an HTTP body, a NATS
batch); complete lines are decoded as they arrive. Whole blocks go through msgspec's
``decode_lines`` (one C call for thousands of lines); only a block that contains a bad
line is re-read line by line, so one broken line costs one block's re-parse and never
loses the valid lines beside it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC

import msgspec

from validators.events import (
    KNOWN_KINDS,
    Event,
    KnownEventUnion,
    ProofVerified,
    SettlementFinalized,
    SettlementSubmitted,
    UnknownEvent,
    format_error,
    is_decimal,
    is_hex,
)

_DECODE_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError)
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class RejectedLine:
    """A line that is not a valid event: where and why."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class Redelivery:
    """A line whose ``event_id`` was already accepted: the first copy is kept."""

    line: int
    event_id: str


@dataclass(slots=True)
class ParseStats:
    accepted: int = 0
    rejected: list[RejectedLine] = field(default_factory=list)
    redelivered: list[Redelivery] = field(default_factory=list)
    unknown_kinds: Counter[str] = field(default_factory=Counter)


def _is_malformed(exc: Exception) -> bool:
    """Not JSON at all (msgspec's ValidationError is a subclass of DecodeError)."""
    return isinstance(exc, msgspec.DecodeError | UnicodeDecodeError) and not isinstance(exc, msgspec.ValidationError)


def describe_decode_error(exc: Exception) -> str:
    """Turn msgspec's ``Expected `int`, got `str` - at `$.seq``` into ``$.seq: expected ...``."""
    text = str(exc)
    if _is_malformed(exc):
        return "invalid JSON: " + text.removeprefix("JSON is malformed: ")
    message, sep, where = text.rpartition(" - at ")
    if sep:
        return f"{where.strip('`')}: {message[:1].lower()}{message[1:]}"
    return text[:1].lower() + text[1:]


class EventStream:
    """Incremental parser: ``feed`` chunks, get accepted events; ``stats`` says what was not."""

    def __init__(self) -> None:
        self._typed = msgspec.json.Decoder(KnownEventUnion)
        self._envelope = msgspec.json.Decoder(UnknownEvent)
        self._seen: set[str] = set()
        self._tail = b""
        self._lines = 0
        self.stats = ParseStats()

    @property
    def lines_read(self) -> int:
        return self._lines

    def feed(self, chunk: bytes) -> list[Event]:
        if self._lines == 0 and not self._tail and chunk.startswith(_BOM):
            chunk = chunk[len(_BOM) :]  # a byte-order mark some editors write; not part of line 1
        data = self._tail + chunk if self._tail else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._tail = data
            return []
        self._tail = data[cut + 1 :]
        return self._block(data[: cut + 1])

    def close(self) -> list[Event]:
        """Parse a last line that had no newline."""
        tail, self._tail = self._tail, b""
        return self._block(tail) if tail.strip() else []

    def _block(self, block: bytes) -> list[Event]:
        first = self._lines + 1
        self._lines += block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        try:
            decoded: list[Event] = list(self._typed.decode_lines(block))
        except _DECODE_ERRORS:
            return self._line_by_line(block, first)
        if not _one_per_line(decoded, block) or not _formats_ok(decoded):
            return self._line_by_line(block, first)
        ids = [ev.event_id for ev in decoded]
        fresh = set(ids)
        if len(fresh) != len(ids) or not self._seen.isdisjoint(fresh):
            return self._dedupe(decoded, _nonblank_line_numbers(block, first))
        self._seen |= fresh
        self.stats.accepted += len(decoded)
        return decoded

    def _line_by_line(self, block: bytes, first: int) -> list[Event]:
        events: list[Event] = []
        numbers: list[int] = []
        for offset, raw in enumerate(block.split(b"\n")):
            if not raw.strip():
                continue
            event = self._decode_one(raw, first + offset)
            if event is not None:
                events.append(event)
                numbers.append(first + offset)
        return self._dedupe(events, numbers)

    def _decode_one(self, raw: bytes, line: int) -> Event | None:
        try:
            event: KnownEventUnion = self._typed.decode(raw)
        except _DECODE_ERRORS as typed_error:
            try:
                envelope: UnknownEvent = self._envelope.decode(raw)
            except _DECODE_ERRORS as envelope_error:
                cause = typed_error if _is_malformed(typed_error) else envelope_error
                self.stats.rejected.append(RejectedLine(line, describe_decode_error(cause)))
                return None
            if envelope.kind in KNOWN_KINDS:
                reason = f"{envelope.kind}: {describe_decode_error(typed_error)}"
                self.stats.rejected.append(RejectedLine(line, reason))
                return None
            return envelope
        problem = format_error(event)
        if problem is not None:
            self.stats.rejected.append(RejectedLine(line, f"{event.kind}: {problem}"))
            return None
        return event

    def _dedupe(self, events: list[Event], numbers: list[int]) -> list[Event]:
        kept: list[Event] = []
        seen = self._seen
        for event, line in zip(events, numbers, strict=True):
            if event.event_id in seen:
                self.stats.redelivered.append(Redelivery(line, event.event_id))
                continue
            seen.add(event.event_id)
            kept.append(event)
            if isinstance(event, UnknownEvent):
                self.stats.unknown_kinds[event.kind] += 1
        self.stats.accepted += len(kept)
        return kept


def _one_per_line(decoded: list[Event], block: bytes) -> bool:
    """``decode_lines`` also splits ``{a}{b}`` and bare-CR lines into two events; the
    contract's unit is the line, so such a block is re-read line by line."""
    lines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
    return len(decoded) == lines or len(decoded) == len(_nonblank_line_numbers(block, 0))


def _formats_ok(events: list[Event]) -> bool:
    """Whether ``events.format_error`` finds nothing in any event, inlined: a call per
    event would cost a tenth of the whole validate run. The rare block where a format is
    wrong is re-read line by line so the line can be named."""
    for ev in events:
        if ev.ts.tzinfo is not UTC:
            return False
        kind = type(ev)
        if kind is SettlementSubmitted:
            if is_decimal(ev.amount) is None:  # type: ignore[union-attr]
                return False
        elif kind is SettlementFinalized or kind is ProofVerified:
            proof = ev.proof  # type: ignore[union-attr]
            if proof is not None and is_hex(proof) is None:
                return False
    return True


def _nonblank_line_numbers(block: bytes, first: int) -> list[int]:
    return [first + i for i, raw in enumerate(block.split(b"\n")) if raw.strip()]


def parse_events(chunks: Iterable[bytes]) -> tuple[list[Event], ParseStats]:
    """Parse a whole input held by the caller (tests, HTTP bodies): events and stats."""
    stream = EventStream()
    events: list[Event] = []
    for chunk in chunks:
        events.extend(stream.feed(chunk))
    events.extend(stream.close())
    return events, stream.stats
