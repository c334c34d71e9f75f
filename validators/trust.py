"""A lane's trust score: 0 to 100 from its facts over the window, as the playbook's "built-in
trust scoring" asks, so one number says how far the lane's settlement can be relied on now.

Each part of trouble (feed divergence, canary failures, sequence gaps and duplicates, reorg
depth, finality against its SLO, failure rate, silence) takes up to its weight of the trust
that is left, in proportion up to where the policy says it takes all of it; so one grave
part alone can bring a lane low, and several compound. The formula, with its defaults, is
in docs/policy.md. Pure: facts and policy in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from validators.facts import LaneFacts, WindowFacts
from validators.policy import TrustSpec


@dataclass(frozen=True, slots=True)
class Trust:
    score: int
    reason: str | None
    """The part that took most, as people read it (``feed divergence 48 bps``); None at 100."""

    def __str__(self) -> str:
        return f"trust {self.score}" + (f": {self.reason}" if self.reason else "")


def _share(value: float, full: float) -> float:
    return min(1.0, max(0.0, value / full))


def _parts(facts: LaneFacts, spec: TrustSpec, lane: str) -> list[tuple[str, float, str]]:
    """(weight name, share of it taken, why) for each part of the lane's trouble."""
    full, f, slo = spec.full_at, facts, spec.slo_of(lane)
    divergence = f.feed_divergence_bps_max or 0.0
    anomalies = f.seq_gaps + f.seq_duplicates
    p99 = f.finality_p99_s or 0.0
    silence = f.silence_s or 0.0
    canaries = f.canary_failures / f.canary_runs if f.canary_runs else 0.0
    return [
        ("feed_divergence", _share(divergence, full.feed_divergence_bps), f"feed divergence {divergence:.0f} bps"),
        ("canary_failures", canaries, f"canary failures {f.canary_failures}/{f.canary_runs}"),
        ("sequence", _share(anomalies, full.sequence_anomalies), f"sequence gaps {f.seq_gaps}, duplicates {f.seq_duplicates}"),
        ("reorg_depth", _share(f.reorg_max_depth, full.reorg_depth), f"reorg depth {f.reorg_max_depth}"),
        ("finality", _share(p99 - slo, slo), f"p99 finality {p99:.0f} s (SLO {slo:g} s)"),
        ("failure_rate", _share(f.failure_rate, full.failure_rate), f"failure rate {f.failure_rate * 100:.1f}%"),
        ("silence", _share(silence, spec.silence_s), f"silent {silence:.0f} s"),
    ]


def trust(facts: LaneFacts, spec: TrustSpec, lane: str) -> Trust:
    """``100 × Π (1 − weight × share taken)``, rounded half up."""
    weights = spec.weights.model_dump()
    taken = [(weights[name] * share, why) for name, share, why in _parts(facts, spec, lane)]
    score = math.floor(100 * math.prod(1 - part for part, _ in taken) + 0.5)
    _, why = max(taken, key=lambda part: part[0])
    return Trust(score, why if score < 100 else None)


def scored(facts: LaneFacts, spec: TrustSpec, lane: str) -> LaneFacts:
    """The facts with ``trust_score`` filled in."""
    return replace(facts, trust_score=trust(facts, spec, lane).score)


def with_trust(facts: WindowFacts, spec: TrustSpec) -> WindowFacts:
    """Every lane's facts scored (the validators ground ``trust_score`` like any other fact)."""
    return replace(facts, lanes={lane: scored(f, spec, lane) for lane, f in facts.lanes.items()})
