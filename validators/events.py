"""Settlement event types (contract §1).

Events are msgspec structs decoded straight from JSON bytes: the decoder checks every
required field and type in C, so a million-event file is validated without building a
dict or a pydantic model per line. ``gc=False`` because events never form cycles and a
million tracked objects would make the garbage collector the hot path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

import msgspec

UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
NonNegInt = Annotated[int, msgspec.Meta(ge=0)]
Decimal = Annotated[str, msgspec.Meta(pattern=r"^-?[0-9]+(\.[0-9]+)?$")]
Hex = Annotated[str, msgspec.Meta(pattern=r"^(0x)?[0-9a-fA-F]*$")]


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
    seq: NonNegInt


class KnownEvent(_Envelope, tag_field="kind", frozen=True, gc=False):
    """Base of the contract's event kinds; the JSON ``kind`` is the struct's tag."""

    KIND: ClassVar[str] = ""

    @property
    def kind(self) -> str:
        return self.KIND


class SettlementSubmitted(KnownEvent, tag="settlement.submitted", frozen=True, gc=False):
    KIND: ClassVar[str] = "settlement.submitted"
    settlement_id: NonEmpty
    asset: str
    amount: Decimal
    notional_usd: Annotated[float, msgspec.Meta(ge=0)]


class SettlementConfirmed(KnownEvent, tag="settlement.confirmed", frozen=True, gc=False):
    KIND: ClassVar[str] = "settlement.confirmed"
    settlement_id: NonEmpty
    block: Block


class SettlementFinalized(KnownEvent, tag="settlement.finalized", frozen=True, gc=False):
    KIND: ClassVar[str] = "settlement.finalized"
    settlement_id: NonEmpty
    block: Block
    proof: Hex | None = None


class SettlementFailed(KnownEvent, tag="settlement.failed", frozen=True, gc=False):
    KIND: ClassVar[str] = "settlement.failed"
    settlement_id: NonEmpty
    reason: str


class BatchPosted(KnownEvent, tag="batch.posted", frozen=True, gc=False):
    KIND: ClassVar[str] = "batch.posted"
    batch_id: NonEmpty
    block: Block


class ProofVerified(KnownEvent, tag="proof.verified", frozen=True, gc=False):
    KIND: ClassVar[str] = "proof.verified"
    batch_id: NonEmpty
    proof: Hex


class CanaryResult(KnownEvent, tag="canary.result", frozen=True, gc=False):
    KIND: ClassVar[str] = "canary.result"
    ok: bool
    latency_us: NonNegInt


class FeedPrice(KnownEvent, tag="feed.price", frozen=True, gc=False):
    KIND: ClassVar[str] = "feed.price"
    symbol: NonEmpty
    source: Literal["lane", "reference"]
    price: Annotated[float, msgspec.Meta(gt=0)]


class QueueDepth(KnownEvent, tag="queue.depth", frozen=True, gc=False):
    KIND: ClassVar[str] = "queue.depth"
    value: NonNegInt


class LaneReorg(KnownEvent, tag="lane.reorg", frozen=True, gc=False):
    KIND: ClassVar[str] = "lane.reorg"
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
KNOWN_KINDS: frozenset[str] = frozenset(t.KIND for t in KNOWN_TYPES)

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
