"""A lane simulator: realistic settlement events for any lanes, with injected anomalies.

Every lane settles continuously: each settlement is submitted, confirmed on its chain a few
seconds later, then finalized after the lane's finality time (or fails). Each lane also
emits a canary trade every ``canary_every_s``, a price for each symbol every second (the
reference lane's prices are the ``reference`` feed), its queue depth, and a batch posting
every 30 s. Anomalies change that for a lane over a span of the run:

- ``failure_spike``: a ``rate`` fraction of settlements fail, and canaries fail at ``rate``;
- ``finality_stall``: finality takes ``factor`` times as long;
- ``sequence_gap``: ``size`` sequence numbers are skipped at ``at``;
- ``reorg``: a reorg of depth ``size`` at ``at``;
- ``feed_divergence``: the lane's price is ``bps`` basis points off the reference;
- ``sequencer_outage``: nothing is confirmed, finalized or batched until it ends (then the
  backlog lands), canaries fail, the queue grows, the lane's price feed goes silent.

Deterministic: the same lanes, anomalies and seed give the same bytes.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from validators.rules import stamp

AnomalyKind = Literal["failure_spike", "finality_stall", "sequence_gap", "reorg", "feed_divergence", "sequencer_outage"]
ASSETS = (("ETH", 3000.0), ("BTC", 60000.0), ("USDC", 1.0))


@dataclass(frozen=True, slots=True)
class LaneProfile:
    chain: str
    settlements_per_s: float = 2.0
    finality_s: float = 30.0
    canary_every_s: int = 10


@dataclass(frozen=True, slots=True)
class Anomaly:
    kind: AnomalyKind
    lane: str
    at_s: float
    for_s: float = 0.0
    rate: float = 0.2
    factor: float = 10.0
    size: int = 3
    bps: float = 120.0

    def active(self, t: float) -> bool:
        return self.at_s <= t < self.at_s + self.for_s


@dataclass(slots=True)
class _Lane:
    name: str
    profile: LaneProfile
    seq: int = 1000
    block: int = 19_000_000
    queue: int = 10
    anomalies: list[Anomaly] = field(default_factory=list)

    def active(self, kind: str, t: float) -> Anomaly | None:
        return next((a for a in self.anomalies if a.kind == kind and a.active(t)), None)


class Simulator:
    def __init__(
        self,
        lanes: dict[str, LaneProfile],
        *,
        start: datetime,
        seconds: int,
        seed: int = 7,
        anomalies: list[Anomaly] | tuple[Anomaly, ...] = (),
        reference_lane: str | None = None,
        id_prefix: str = "evt",
    ) -> None:
        unknown = sorted({a.lane for a in anomalies} - set(lanes))
        if unknown:
            raise ValueError(f"anomalies name lanes that are not simulated: {', '.join(unknown)}")
        self.start, self.seconds, self.prefix = start, seconds, id_prefix
        self.rng = random.Random(seed)
        self.lanes = {
            name: _Lane(name, profile, anomalies=[a for a in anomalies if a.lane == name]) for name, profile in lanes.items()
        }
        self.reference = reference_lane if reference_lane in lanes else next(iter(lanes), None)
        self._queue: list[tuple[float, int, str, dict[str, object]]] = []
        self._order = 0
        self._settlements = 0

    def _push(self, t: float, lane: str, body: dict[str, object]) -> None:
        self._order += 1
        heapq.heappush(self._queue, (t, self._order, lane, body))

    def _at(self, t: float) -> str:
        return stamp(self.start + timedelta(seconds=t))

    def _settle(self, lane: _Lane, t: float) -> None:
        rng = self.rng
        self._settlements += 1
        sid = f"stl-{self.prefix}-{self._settlements:08d}"
        asset, price = rng.choice(ASSETS)
        notional = round(rng.lognormvariate(9.5, 1.2), 2)
        submitted = {"kind": "settlement.submitted", "settlement_id": sid, "asset": asset, "amount": f"{notional / price:.6f}"}
        self._push(t, lane.name, {**submitted, "notional_usd": notional})
        outage = lane.active("sequencer_outage", t)
        resume = outage.at_s + outage.for_s if outage else t  # the backlog lands when the sequencer is back
        stall = lane.active("finality_stall", t)
        finality = lane.profile.finality_s * (stall.factor if stall else 1.0) * rng.uniform(0.6, 1.4)
        confirmed_at = max(t, resume) + rng.uniform(2, 6)
        done = max(t + finality, confirmed_at + 1)
        lane.block += 1
        block = {
            "chain": lane.profile.chain,
            "number": lane.block,
            "ts": self._at(confirmed_at),
            "hash": f"0x{rng.getrandbits(64):016x}",
        }
        self._push(confirmed_at, lane.name, {"kind": "settlement.confirmed", "settlement_id": sid, "block": block})
        spike = lane.active("failure_spike", t)
        if spike and rng.random() < spike.rate:
            reason = rng.choice(("proof_rejected", "nonce_conflict", "sequencer_timeout"))
            self._push(
                confirmed_at + rng.uniform(5, 20),
                lane.name,
                {"kind": "settlement.failed", "settlement_id": sid, "reason": reason},
            )
        else:
            proof = f"0x{rng.getrandbits(128):032x}"
            self._push(done, lane.name, {"kind": "settlement.finalized", "settlement_id": sid, "block": block, "proof": proof})

    def _second(self, s: int) -> None:
        rng = self.rng
        eth = 3000 + 20 * rng.random()
        for lane in self.lanes.values():
            for _ in range(self._poisson(lane.profile.settlements_per_s)):
                self._settle(lane, s + rng.random())
            outage = lane.active("sequencer_outage", s)
            if not outage:
                source = "reference" if lane.name == self.reference else "lane"
                divergence = lane.active("feed_divergence", s)
                offset = divergence.bps / 10_000 if divergence and source == "lane" else rng.uniform(-0.0004, 0.0004)
                price = eth if source == "reference" else eth * (1 + offset)
                self._push(
                    s + 0.001, lane.name, {"kind": "feed.price", "symbol": "ETH-USD", "source": source, "price": round(price, 4)}
                )
            lane.queue = lane.queue + rng.randint(20, 40) if outage else max(5, min(40, lane.queue + rng.randint(-5, 5)))
            self._push(s + 0.002, lane.name, {"kind": "queue.depth", "value": lane.queue})
            if s % lane.profile.canary_every_s == 0:
                spike = lane.active("failure_spike", s)
                ok = not outage and not (spike and rng.random() < spike.rate)
                self._push(s + 0.003, lane.name, {"kind": "canary.result", "ok": ok, "latency_us": rng.randint(200_000, 900_000)})
            if s % 30 == 0 and not outage:
                lane.block += 1
                block = {"chain": lane.name, "number": lane.block, "ts": self._at(s), "hash": f"0x{rng.getrandbits(64):016x}"}
                self._push(s + 0.004, lane.name, {"kind": "batch.posted", "batch_id": f"bat-{lane.name}-{s}", "block": block})
            for anomaly in lane.anomalies:
                if int(anomaly.at_s) == s and anomaly.kind == "reorg":
                    self._push(s + 0.005, lane.name, {"kind": "lane.reorg", "depth": anomaly.size})
                if int(anomaly.at_s) == s and anomaly.kind == "sequence_gap":
                    lane.seq += anomaly.size

    def _poisson(self, mean: float) -> int:
        return max(0, round(self.rng.gauss(mean, mean**0.5)))

    def lines(self) -> Iterator[str]:
        """NDJSON lines in event-time order."""
        n = 0
        for s in range(self.seconds):
            self._second(s)
            while self._queue and self._queue[0][0] < s + 1:
                t, _, name, body = heapq.heappop(self._queue)
                if t >= self.seconds:
                    continue
                n += 1
                lane = self.lanes[name]
                lane.seq += 1
                event = {"event_id": f"{self.prefix}-{n:010d}", "ts": self._at(t), "lane": name, "seq": lane.seq, **body}
                yield json.dumps(event, separators=(",", ":")) + "\n"
