"""Streaming NDJSON parsing of settlement events (contract §1).

The caller feeds byte chunks of any size (a file read in blocks, an HTTP body, a NATS
batch); complete lines are decoded as they arrive. Whole blocks go through msgspec's
``decode_lines`` (one C call for thousands of lines); only a block that contains a bad
line is re-read line by line, so one broken line costs one block's re-parse and never
loses the valid lines beside it.

Poison is refused before it costs anything: a line over ``LINE_MAX`` is rejected as soon
as that much of it arrived and the rest is dropped unbuffered; a line nested deeper than
``DEPTH_MAX`` never reaches the decoder (msgspec recurses: 1000 levels raised
RecursionError out of the parser and lost the whole input); and only the first ``KEPT``
rejections keep their reasons, the rest are counted, so a body of bad lines costs memory
for a hundred reasons, not for millions.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import msgspec

from validators.events import (
    KNOWN_KINDS,
    TS_END,
    TS_MIN,
    BatchPosted,
    Event,
    KnownEventUnion,
    ProofVerified,
    SettlementConfirmed,
    SettlementFinalized,
    SettlementSubmitted,
    UnknownEvent,
    format_error,
    is_decimal,
    is_hex,
)

LINE_MAX = 1 << 20
"""Bytes in a line, its newline not counted (contract §1: at most 1 MiB)."""
DEPTH_MAX = 32
"""Nesting of objects and arrays in a line (contract §1: at most 32 deep)."""
KEPT = 100
"""Rejections and re-deliveries kept with their line and reason; the rest are counted."""

_DECODE_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError)
_NOT_JSON = (msgspec.DecodeError, UnicodeDecodeError)
_BOM = b"\xef\xbb\xbf"
_NUL = b"\\u0000"  # the only way JSON text holds a NUL (a raw one is malformed JSON)
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS_ONLY = bytes(b for b in range(256) if b not in b"[]{}")
_OPENERS_AND_NEWLINES_ONLY = bytes(b for b in range(256) if b not in b"[{\n")
_MANY_OPENERS = re.compile(rb"[\[{]{%d}" % (DEPTH_MAX + 1))
_STRIDE = LINE_MAX // 2 + 1  # a run of LINE_MAX + 1 bytes holds a whole aligned stride


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
    """What a parse did not accept. ``rejected`` and ``redelivered`` hold the first ``KEPT``
    of each; ``rejected_total`` and ``redelivered_total`` count them all."""

    accepted: int = 0
    rejected: list[RejectedLine] = field(default_factory=list)
    rejected_total: int = 0
    redelivered: list[Redelivery] = field(default_factory=list)
    redelivered_total: int = 0
    unknown_kinds: Counter[str] = field(default_factory=Counter)

    def reject(self, line: int, problem: str | Exception, prefix: str = "") -> None:
        """Count a rejected line; its reason is written out only while fewer than ``KEPT``
        are listed (a million bad lines cost a counter, not a million messages)."""
        self.rejected_total += 1
        if len(self.rejected) < KEPT:
            reason = problem if isinstance(problem, str) else describe_decode_error(problem)
            self.rejected.append(RejectedLine(line, prefix + reason))

    def redelivery(self, line: int, event_id: str) -> None:
        self.redelivered_total += 1
        if len(self.redelivered) < KEPT:
            self.redelivered.append(Redelivery(line, event_id))


def _is_malformed(exc: Exception) -> bool:
    """Not JSON at all (msgspec's ValidationError is a subclass of DecodeError)."""
    return isinstance(exc, _NOT_JSON) and not isinstance(exc, msgspec.ValidationError)


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
        self._tail: list[bytes] = []  # the line still arriving, as its chunks: joined once, when it ends
        self._tail_len = 0
        self._skipping = False  # inside a line over LINE_MAX, already rejected: dropped up to its newline
        self._lines = 0
        self._at_start = True  # no byte read yet: only there is a byte-order mark skipped
        self.stats = ParseStats()

    @property
    def lines_read(self) -> int:
        return self._lines

    def feed(self, chunk: bytes) -> list[Event]:
        if self._at_start and chunk:
            self._at_start = False
            chunk = chunk.removeprefix(_BOM)  # a byte-order mark some editors write; not part of line 1
        if self._skipping:
            end = chunk.find(b"\n")
            if end < 0:
                return []
            self._skipping = False
            self._lines += 1
            chunk = chunk[end + 1 :]
        cut = chunk.rfind(b"\n")
        if cut < 0:
            self._hold(chunk)
            return []
        head = chunk if cut + 1 == len(chunk) else memoryview(chunk)[: cut + 1]
        block = b"".join([*self._tail, head]) if self._tail else bytes(head)
        self._tail, self._tail_len = [], 0
        events = self._block(block)
        self._hold(chunk[cut + 1 :])
        return events

    def close(self) -> list[Event]:
        """Parse a last line that had no newline."""
        if self._skipping:
            self._skipping = False
            self._lines += 1
        tail = b"".join(self._tail)
        self._tail, self._tail_len = [], 0
        return self._block(tail) if tail.strip() else []

    def _hold(self, part: bytes) -> None:
        """Keep the start of a line until its newline arrives; past LINE_MAX, reject it now
        and drop the rest as it comes (a 60 MB line is never held, nor copied per chunk)."""
        if not part:
            return
        self._tail.append(part)
        self._tail_len += len(part)
        if self._tail_len > LINE_MAX:
            self.stats.reject(self._lines + 1, _too_long(self._tail_len, more=True))
            self._tail, self._tail_len = [], 0
            self._skipping = True

    def _block(self, block: bytes) -> list[Event]:
        first = self._lines + 1
        self._lines += block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        if _suspect(block):
            return self._line_by_line(block, first)
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
        maybe_deep = _many_openers(block)
        for offset, raw in enumerate(block.split(b"\n")):
            if not raw.strip():
                continue
            event = self._decode_one(raw, first + offset, maybe_deep)
            if event is not None:
                events.append(event)
                numbers.append(first + offset)
        return self._dedupe(events, numbers)

    def _decode_one(self, raw: bytes, line: int, maybe_deep: bool) -> Event | None:
        problem = _shape_error(raw, maybe_deep)
        if problem is not None:
            self.stats.reject(line, problem)
            return None
        event: Event
        try:
            event = self._typed.decode(raw)
        except _DECODE_ERRORS as typed_error:
            if _is_malformed(typed_error):  # not JSON: no decoder would read it
                self.stats.reject(line, typed_error)
                return None
            try:
                event = self._envelope.decode(raw)
            except _DECODE_ERRORS as envelope_error:
                self.stats.reject(line, envelope_error)
                return None
            if event.kind in KNOWN_KINDS:
                self.stats.reject(line, typed_error, f"{event.kind}: ")
                return None
        problem = format_error(event)
        if problem is None and _NUL in raw:
            problem = _nul_error(raw)
        if problem is not None:
            self.stats.reject(line, problem, f"{event.kind}: ")
            return None
        return event

    def _dedupe(self, events: list[Event], numbers: list[int]) -> list[Event]:
        kept: list[Event] = []
        seen = self._seen
        for event, line in zip(events, numbers, strict=True):
            if event.event_id in seen:
                self.stats.redelivery(line, event.event_id)
                continue
            seen.add(event.event_id)
            kept.append(event)
            if isinstance(event, UnknownEvent):
                self.stats.unknown_kinds[event.kind] += 1
        self.stats.accepted += len(kept)
        return kept


def _too_long(size: int, *, more: bool = False) -> str:
    return f"line of {'more than ' if more else ''}{size} bytes is over the {LINE_MAX} byte (1 MiB) limit"


def _suspect(block: bytes) -> bool:
    """Whether a block may hold a line out of the bounds the decoder does not check: too long,
    too deep or with a NUL. A few C-speed passes (about a tenth of decoding the block); a yes
    only sends the block down the line-by-line path, which checks each line exactly."""
    if len(block) > LINE_MAX and any(block.find(b"\n", i, i + _STRIDE) < 0 for i in range(0, len(block) - _STRIDE + 1, _STRIDE)):
        return True
    if b"\\" in block and _NUL in block:
        return True
    return _many_openers(block)


def _many_openers(block: bytes) -> bool:
    """Whether some line of ``block`` opens more than ``DEPTH_MAX`` objects or arrays (so it
    may nest too deep; strings are not told apart here)."""
    return _MANY_OPENERS.search(block.translate(None, _OPENERS_AND_NEWLINES_ONLY)) is not None


def _shape_error(raw: bytes, maybe_deep: bool = True) -> str | None:
    """A line too long or too deep to hand to the decoder, and why. ``maybe_deep`` False:
    its block was seen to have no line with that many openers."""
    if len(raw) > LINE_MAX:
        return _too_long(len(raw))
    if not maybe_deep or raw.count(b"{") + raw.count(b"[") <= DEPTH_MAX:
        return None
    depth = 0
    for byte in _STRINGS.sub(b"", raw).translate(None, _BRACKETS_ONLY):
        depth += 1 if byte in b"[{" else -1
        if depth > DEPTH_MAX:
            return f"nested deeper than {DEPTH_MAX} levels"
    return None


def _nul_error(raw: bytes) -> str | None:
    """Where a decoded string of the line holds a NUL (contract §1: strings hold none)."""
    try:
        where = _nul_at(msgspec.json.decode(raw), "$")
    except _DECODE_ERRORS:
        return None
    return None if where is None else f"{where}: a string holds a NUL character"


def _nul_at(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        where = f"{path}.{key[:40]}" if isinstance(key, str) else f"{path}[{key}]"
        if isinstance(key, str) and "\x00" in key:
            return where
        found = _nul_at(item, where)
        if found is not None:
            return found
    return None


def _one_per_line(decoded: list[Event], block: bytes) -> bool:
    """``decode_lines`` also splits ``{a}{b}`` and bare-CR lines into two events; the
    contract's unit is the line, so such a block is re-read line by line."""
    lines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
    return len(decoded) == lines or len(decoded) == len(_nonblank_line_numbers(block, 0))


def _formats_ok(events: list[Event]) -> bool:
    """Whether ``events.format_error`` finds nothing in any event, inlined: a call per
    event would cost a tenth of the whole validate run. The rare block where a format or a
    time's bounds are wrong is re-read line by line so the line can be named."""
    low, end = TS_MIN, TS_END
    for ev in events:
        ts = ev.ts
        if ts.tzinfo is not UTC or not low <= ts < end:
            return False
        kind = type(ev)
        if kind is SettlementSubmitted:
            if is_decimal(ev.amount) is None:  # type: ignore[union-attr]
                return False
        elif kind is SettlementFinalized:
            proof = ev.proof  # type: ignore[union-attr]
            if (proof is not None and is_hex(proof) is None) or not low <= ev.block.ts < end:  # type: ignore[union-attr]
                return False
        elif kind is SettlementConfirmed or kind is BatchPosted:
            if not low <= ev.block.ts < end:  # type: ignore[union-attr]
                return False
        elif kind is ProofVerified and is_hex(ev.proof) is None:  # type: ignore[union-attr,arg-type]
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
