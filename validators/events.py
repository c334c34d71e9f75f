"""Settlement event types (contract §1).

Events are msgspec structs decoded straight from JSON bytes: the decoder checks every
required field and type in C, so a million-event file is validated without building a
dict or a pydantic model per line. ``gc=False`` because events never form cycles and a
million tracked objects would make the garbage collector the hot path.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal

import msgspec

# Contract v1.1 §1 bounds. Each is a column or an arithmetic the rest of the bot relies on: a
# lane or id the store cannot hold, or a time or sum that overflows the window arithmetic of
# live status, is refused here, with its line, instead of failing a batch or a process later.
TS_MIN = datetime(2000, 1, 1, tzinfo=UTC)
TS_END = datetime(2101, 1, 1, tzinfo=UTC)
"""Times lie in years 2000 to 2100 inclusive: ``TS_MIN <= ts < TS_END``."""
ID_MAX = 200
KIND_MAX = 64
MONEY_END = 1e15
"""``notional_usd`` and ``price`` lie in ``[0, 1e15)``."""
INT_END = 2**63
"""Integers lie in ``[0, 2^63)``: every store holds them as 64-bit integers."""

UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=ID_MAX)]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
Count = Annotated[int, msgspec.Meta(ge=0, le=INT_END - 1)]
Money = Annotated[float, msgspec.Meta(ge=0, lt=MONEY_END)]
is_decimal = re.compile(r"-?[0-9]+(?:\.[0-9]+)?").fullmatch
is_hex = re.compile(r"(?:0x)?[0-9a-fA-F]+").fullmatch
# Formats are checked after decoding (``format_error``), not as msgspec patterns: a
# pattern costs a call out of the decoder for every event, about a third of decode time.


class Block(msgspec.Struct, gc=False, frozen=True):
    chain: str
    number: Count
    ts: UtcTime
    hash: str


class _Envelope(msgspec.Struct, gc=False, frozen=True):
    """The fields every event carries, whatever its kind."""

    event_id: Id
    ts: UtcTime
    lane: Id
    seq: Count


def kind_of(event_type: type[msgspec.Struct]) -> str:
    """The JSON ``kind`` of an event type: its msgspec tag, written once, on the class."""
    return str(event_type.__struct_config__.tag)


class KnownEvent(_Envelope, tag_field="kind", frozen=True, gc=False):
    """Base of the contract's event kinds; the JSON ``kind`` is the struct's tag, copied
    to a class attribute below (a property computing it cost a tenth of storing an event)."""

    kind: ClassVar[str] = ""


class SettlementSubmitted(KnownEvent, tag="settlement.submitted", frozen=True, gc=False):
    settlement_id: Id
    asset: str
    amount: str
    notional_usd: Money


class SettlementConfirmed(KnownEvent, tag="settlement.confirmed", frozen=True, gc=False):
    settlement_id: Id
    block: Block


class SettlementFinalized(KnownEvent, tag="settlement.finalized", frozen=True, gc=False):
    settlement_id: Id
    block: Block
    proof: str | None = None


class SettlementFailed(KnownEvent, tag="settlement.failed", frozen=True, gc=False):
    settlement_id: Id
    reason: str


class BatchPosted(KnownEvent, tag="batch.posted", frozen=True, gc=False):
    batch_id: Id
    block: Block


class ProofVerified(KnownEvent, tag="proof.verified", frozen=True, gc=False):
    batch_id: Id
    proof: str


class CanaryResult(KnownEvent, tag="canary.result", frozen=True, gc=False):
    ok: bool
    latency_us: Count


class FeedPrice(KnownEvent, tag="feed.price", frozen=True, gc=False):
    symbol: NonEmpty
    source: Literal["lane", "reference"]
    price: Money


class QueueDepth(KnownEvent, tag="queue.depth", frozen=True, gc=False):
    value: Count


class LaneReorg(KnownEvent, tag="lane.reorg", frozen=True, gc=False):
    depth: Count


class UnknownEvent(_Envelope, frozen=True, gc=False):
    """An event whose kind this version does not know: kept (it still has a lane and a
    seq that count for sequence facts) and reported, never fatal."""

    kind: Annotated[str, msgspec.Meta(max_length=KIND_MAX)]


KNOWN_TYPES: tuple[type[KnownEvent], ...] = (
    SettlementSubmitted,
    SettlementConfirmed,
    SettlementFinalized,
    SettlementFailed,
    BatchPosted,
    ProofVerified,
    CanaryResult,
    FeedPrice,
    QueueDepth,
    LaneReorg,
)
for _type in KNOWN_TYPES:
    _type.kind = kind_of(_type)
KNOWN_KINDS: frozenset[str] = frozenset(kind_of(t) for t in KNOWN_TYPES)

KnownEventUnion = (
    SettlementSubmitted
    | SettlementConfirmed
    | SettlementFinalized
    | SettlementFailed
    | BatchPosted
    | ProofVerified
    | CanaryResult
    | FeedPrice
    | QueueDepth
    | LaneReorg
)

Event = KnownEventUnion | UnknownEvent


def time_error(ts: datetime, where: str) -> str | None:
    """Why a time is out of bounds (years 2000 to 2100), or None."""
    if TS_MIN <= ts < TS_END:
        return None
    return f"{where}: {ts.isoformat().replace('+00:00', 'Z')} is outside years {TS_MIN.year} to {TS_END.year - 1}"


def format_error(event: Event) -> str | None:
    """What a well-typed event still gets wrong (formats and bounds the decoder does not check).

    Its twin is ``ndjson._formats_ok``, the same checks inlined for a whole block on the
    hot path; ``tests/test_ndjson.py`` pins that the two agree."""
    if event.ts.tzinfo is not UTC:
        return f"$.ts: expected a UTC time (Z), got offset {event.ts.strftime('%z')}"
    problem = time_error(event.ts, "$.ts")
    block = getattr(event, "block", None)
    if problem is None and block is not None:
        problem = time_error(block.ts, "$.block.ts")
    if problem is not None:
        return problem
    if type(event) is SettlementSubmitted and not is_decimal(event.amount):
        return f"$.amount: expected a decimal string, got {event.amount[:40]!r}"
    proof = getattr(event, "proof", None)
    if proof is not None and not is_hex(proof):
        return f"$.proof: expected a hex string, got {proof[:40]!r}"
    return None
