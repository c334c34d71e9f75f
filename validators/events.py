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

UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
NonNegInt = Annotated[int, msgspec.Meta(ge=0)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
"""Stored as a 64-bit integer on every store: a larger one is refused here, with its line."""
is_decimal = re.compile(r"-?[0-9]+(?:\.[0-9]+)?").fullmatch
is_hex = re.compile(r"(?:0x)?[0-9a-fA-F]+").fullmatch
# Formats are checked after decoding (``format_error``), not as msgspec patterns: a
# pattern costs a call out of the decoder for every event, about a third of decode time.


class Block(msgspec.Struct, gc=False, frozen=True):
    chain: str
    number: NonNegInt
    ts: UtcTime
    hash: str


class _Envelope(msgspec.Struct, gc=False, frozen=True):
    """The fields every event carries, whatever its kind."""

    event_id: NonEmpty
    ts: UtcTime
    lane: NonEmpty
    seq: Seq


def kind_of(event_type: type[msgspec.Struct]) -> str:
    """The JSON ``kind`` of an event type: its msgspec tag, written once, on the class."""
    return str(event_type.__struct_config__.tag)


class KnownEvent(_Envelope, tag_field="kind", frozen=True, gc=False):
    """Base of the contract's event kinds; the JSON ``kind`` is the struct's tag, copied
    to a class attribute below (a property computing it cost a tenth of storing an event)."""

    kind: ClassVar[str] = ""


class SettlementSubmitted(KnownEvent, tag="settlement.submitted", frozen=True, gc=False):
    settlement_id: NonEmpty
    asset: str
    amount: str
    notional_usd: Annotated[float, msgspec.Meta(ge=0)]


class SettlementConfirmed(KnownEvent, tag="settlement.confirmed", frozen=True, gc=False):
    settlement_id: NonEmpty
    block: Block


class SettlementFinalized(KnownEvent, tag="settlement.finalized", frozen=True, gc=False):
    settlement_id: NonEmpty
    block: Block
    proof: str | None = None


class SettlementFailed(KnownEvent, tag="settlement.failed", frozen=True, gc=False):
    settlement_id: NonEmpty
    reason: str


class BatchPosted(KnownEvent, tag="batch.posted", frozen=True, gc=False):
    batch_id: NonEmpty
    block: Block


class ProofVerified(KnownEvent, tag="proof.verified", frozen=True, gc=False):
    batch_id: NonEmpty
    proof: str


class CanaryResult(KnownEvent, tag="canary.result", frozen=True, gc=False):
    ok: bool
    latency_us: NonNegInt


class FeedPrice(KnownEvent, tag="feed.price", frozen=True, gc=False):
    symbol: NonEmpty
    source: Literal["lane", "reference"]
    price: Annotated[float, msgspec.Meta(gt=0)]


class QueueDepth(KnownEvent, tag="queue.depth", frozen=True, gc=False):
    value: NonNegInt


class LaneReorg(KnownEvent, tag="lane.reorg", frozen=True, gc=False):
    depth: NonNegInt


class UnknownEvent(_Envelope, frozen=True, gc=False):
    """An event whose kind this version does not know: kept (it still has a lane and a
    seq that count for sequence facts) and reported, never fatal."""

    kind: str


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


def format_error(event: KnownEvent) -> str | None:
    """What a well-typed event still gets wrong (formats the decoder does not check).

    Its twin is ``ndjson._formats_ok``, the same checks inlined for a whole block on the
    hot path; ``tests/test_ndjson.py`` pins that the two agree."""
    if event.ts.tzinfo is not UTC:
        return f"$.ts: expected a UTC time (Z), got offset {event.ts.strftime('%z')}"
    if type(event) is SettlementSubmitted and not is_decimal(event.amount):
        return f"$.amount: expected a decimal string, got {event.amount!r}"
    proof = getattr(event, "proof", None)
    if proof is not None and not is_hex(proof):
        return f"$.proof: expected a hex string, got {proof[:40]!r}"
    return None
