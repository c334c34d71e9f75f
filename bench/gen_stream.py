"""Generate a realistic settlement event stream for benchmarks (deterministic with a seed).

Four lanes over 65 minutes: settlement lifecycles (submitted, confirmed, finalized or
failed; L1 finality in minutes, L2 in seconds), batches, canaries, price feeds and queue
depth, with an incident on l2-arb in the last half hour (failure spike, failing canaries,
a sequence gap) and a reorg on l2-op. About 1.1 million lines, ~280 MB at the defaults.
"""

from __future__ import annotations

import argparse
import heapq
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2026, 3, 2, 13, 30, tzinfo=UTC)
LANES = {  # lane: (chain, settlements per second, finality seconds)
    "l1-eth": ("ethereum", 18.5, 780.0),
    "l2-arb": ("arbitrum", 25.0, 28.0),
    "l2-op": ("optimism", 25.0, 32.0),
    "l2-zk": ("zksync", 24.0, 45.0),
}
INCIDENT_LANE = "l2-arb"
INCIDENT_FROM_S = 35 * 60
ASSETS = (("ETH", 3000.0), ("BTC", 60000.0), ("USDC", 1.0))


def _ts(t: float) -> str:
    return (START + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Generator:
    def __init__(self, minutes: int, scale: float, seed: int) -> None:
        self.rng = random.Random(seed)
        self.duration = minutes * 60
        self.scale = scale
        self.queue: list[tuple[float, int, str, str]] = []  # (t, tiebreak, lane, body)
        self.counter = 0
        self.seq = dict.fromkeys(LANES, 1000)
        self.block = dict.fromkeys(LANES, 19_000_000)

    def _push(self, t: float, lane: str, body: str) -> None:
        self.counter += 1
        heapq.heappush(self.queue, (t, self.counter, lane, body))

    def _settlement(self, lane: str, t: float) -> None:
        chain, _, finality = LANES[lane]
        rng = self.rng
        sid = f"stl-{self.counter:09d}"
        asset, price = rng.choice(ASSETS)
        notional = round(rng.lognormvariate(9.5, 1.2), 2)
        amount = f"{notional / price:.6f}"
        self._push(
            t,
            lane,
            f'"kind":"settlement.submitted","settlement_id":"{sid}","asset":"{asset}","amount":"{amount}","notional_usd":{notional}',
        )
        failing = lane == INCIDENT_LANE and t >= INCIDENT_FROM_S and rng.random() < 0.2
        done = t + finality * rng.uniform(0.6, 1.8)
        self.block[lane] += 1
        block = f'{{"chain":"{chain}","number":{self.block[lane]},"ts":"{_ts(done)}","hash":"0x{rng.getrandbits(64):016x}"}}'
        self._push(t + rng.uniform(3, 9), lane, f'"kind":"settlement.confirmed","settlement_id":"{sid}","block":{block}')
        if failing:
            reason = rng.choice(("proof_rejected", "nonce_conflict", "sequencer_timeout"))
            self._push(t + rng.uniform(10, 40), lane, f'"kind":"settlement.failed","settlement_id":"{sid}","reason":"{reason}"')
        else:
            proof = f"0x{rng.getrandbits(128):032x}"
            self._push(done, lane, f'"kind":"settlement.finalized","settlement_id":"{sid}","block":{block},"proof":"{proof}"')

    def _second(self, s: int) -> None:
        rng = self.rng
        eth = 3000 + 20 * rng.random()
        for lane, (_, rate, _) in LANES.items():
            for _ in range(self._poisson(rate * self.scale)):
                self._settlement(lane, s + rng.random())
            source = "reference" if lane == "l1-eth" else "lane"
            drift = 0.012 if lane == INCIDENT_LANE and s >= INCIDENT_FROM_S + 600 else 0.0004
            price = eth * (1 + rng.uniform(-drift, drift)) if source == "lane" else eth
            self._push(s + 0.001, lane, f'"kind":"feed.price","symbol":"ETH-USD","source":"{source}","price":{price:.4f}')
            self._push(s + 0.002, lane, f'"kind":"queue.depth","value":{rng.randint(5, 40)}')
            if s % 10 == 0:
                ok = not (lane == INCIDENT_LANE and s >= INCIDENT_FROM_S and rng.random() < 0.5)
                self._push(
                    s + 0.003,
                    lane,
                    f'"kind":"canary.result","ok":{"true" if ok else "false"},"latency_us":{rng.randint(200_000, 900_000)}',
                )
            if s % 30 == 0:
                self.block[lane] += 1
                block = f'{{"chain":"{lane}","number":{self.block[lane]},"ts":"{_ts(s)}","hash":"0x{rng.getrandbits(64):016x}"}}'
                self._push(s + 0.004, lane, f'"kind":"batch.posted","batch_id":"bat-{lane}-{s}","block":{block}')
        if s == INCIDENT_FROM_S + 900:
            self.seq[INCIDENT_LANE] += 3  # a sequence gap of three
        if s == 50 * 60:
            self._push(s + 0.005, "l2-op", '"kind":"lane.reorg","depth":2')

    def _poisson(self, mean: float) -> int:
        return max(0, round(self.rng.gauss(mean, mean**0.5)))

    def lines(self) -> Iterator[str]:
        n = 0
        for s in range(self.duration):
            self._second(s)
            while self.queue and self.queue[0][0] < s + 1:
                t, _, lane, body = heapq.heappop(self.queue)
                if t >= self.duration:
                    continue
                n += 1
                self.seq[lane] += 1
                yield f'{{"event_id":"evt-{n:010d}","ts":"{_ts(t)}","lane":"{lane}","seq":{self.seq[lane]},{body}}}\n'


def generate(path: Path, minutes: int = 65, scale: float = 1.0, seed: int = 7) -> int:
    """Write the stream to ``path``; return the number of lines."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        batch: list[str] = []
        for line in Generator(minutes, scale, seed).lines():
            batch.append(line)
            if len(batch) == 10_000:
                out.writelines(batch)
                count += len(batch)
                batch.clear()
        out.writelines(batch)
        count += len(batch)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--minutes", type=int, default=65)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the settlement rates")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n = generate(args.out, args.minutes, args.scale, args.seed)
    print(f"{args.out}: {n:,} events, {args.out.stat().st_size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
