"""A held-out-like corpus built from real facts: how careful writers phrase every fact, and
every family of subtle defect.

Scenes are the contract's example and each bundled tabletop scenario, simulated. For each
lane and fact, ``clean`` writes the computed value in every unit, rounding and separator a
careful model uses, inside sentences that put it at the start, the middle and the end, next
to times in every form the contract names. ``defects`` writes the same sentences wrong in
one way each. The oracle for a wrong figure is independent of the validator: a figure is
only used as a defect when no known quantity, in any unit scale at all, comes near it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from helpers import EXAMPLE, ROOT, load_example

from bot.tabletop.runner import simulator_for
from bot.tabletop.scenario import bundled
from validators import Checker, Policy, Report, Window, WindowFacts, compute_facts, parse_policy
from validators.events import CanaryResult, Event
from validators.evidence import Evidence, event_refs
from validators.facts import FACT_NAMES, FACT_UNITS, Unit
from validators.ndjson import parse_events
from validators.rules import SUPPORTING_KINDS, stamp
from validators.trust import with_trust


@dataclass(frozen=True, repr=False)
class Scene:
    name: str
    events: list[Event]
    window: Window
    lanes: tuple[str, ...]
    policy: Policy
    facts: WindowFacts

    def __repr__(self) -> str:
        return f"Scene({self.name!r})"


@dataclass(frozen=True)
class Phrasing:
    """One claim text about ``fact`` on ``lane``; ``code`` is what it must give (None: clean)."""

    scene: str
    lane: str
    fact: str
    text: str
    family: str
    code: str | None = None
    value: float | None = None
    """The claim's value when it is not the fact's (a fact.mismatch defect)."""


@cache
def scenes() -> tuple[Scene, ...]:
    example_events, _ = parse_events([(EXAMPLE / "events.ndjson").read_bytes()])
    window = Window(datetime.fromisoformat("2026-03-02T14:00:00+00:00"), datetime.fromisoformat("2026-03-02T14:30:00+00:00"))
    policy = parse_policy((EXAMPLE / "policy.yaml").read_text())
    facts = with_trust(compute_facts(example_events, window), policy.trust)
    found = [Scene("contract-example", example_events, window, ("l2-arb",), policy, facts)]
    default_policy = parse_policy((ROOT / "bot" / "defaults" / "policy.yaml").read_text())
    for scenario in bundled().values():
        events, stats = parse_events(line.encode() for line in simulator_for(scenario).lines())
        assert not stats.rejected
        window = Window(scenario.start, scenario.start + scenario.duration)
        facts = with_trust(compute_facts(events, window), default_policy.trust)
        found.append(Scene(scenario.name, events, window, tuple(scenario.lanes), default_policy, facts))
    return tuple(found)


# -- how careful writers write a value ------------------------------------------------------

_ONES = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def words(n: int) -> str:
    """``42`` as ``forty-two``, ``305`` as ``three hundred and five`` (n < 1,000,000)."""
    if n >= 1000:
        head, rest = divmod(n, 1000)
        return f"{words(head)} thousand" + (f" {words(rest)}" if rest else "")
    if n >= 100:
        head, rest = divmod(n, 100)
        return f"{_ONES[head - 1]} hundred" + (f" and {words(rest)}" if rest else "")
    if n >= 20:
        tens, ones = divmod(n, 10)
        return _TENS[tens - 2] + (f"-{_ONES[ones - 1]}" if ones else "")
    return _ONES[n - 1]


def values(unit: Unit, v: float) -> list[str]:
    """Every way a careful writer writes ``v`` (the fact's value, in its own unit)."""
    if unit is Unit.COUNT:
        n = round(v)
        found = [f"{n}", f"~{n}", f"*{n}*"]
        if n >= 1000:
            found += [f"{n:,}", f"{n:,}".replace(",", "\u202f"), f"{n / 1000:.1f}K", f"{n / 1000:.0f}K"]
        if 2 <= n < 1_000_000:
            found.append(words(n))
        return found
    if unit is Unit.RATIO:
        return [f"{v * 100:.0f}%", f"{v * 100:.1f}%", f"{v * 100:.2f} %", f"{v * 100:.1f} percent", f"{v:.2f}", f"{v:.4f}"]
    if unit is Unit.SECONDS:
        found = [f"{v:.0f} s", f"{v:.1f}s", f"{v:.0f} seconds", f"{v:.0f}", f"{v / 60:.0f} min", f"{v / 60:.1f} minutes"]
        found.append(f"{v * 1000:,.0f} ms")
        minutes, seconds = divmod(round(v), 60)
        if minutes:
            found.append(f"{minutes}m{seconds}s" if seconds else f"{minutes} min")
        if v >= 3600:
            hours, rest = divmod(round(v / 60), 60)
            found += [f"{v / 3600:.1f} h", f"{hours}h {rest}m"]
        return found
    if unit is Unit.USD:
        found = [f"${v:,.0f}", f"${v:,.2f}", f"${v / 1e3:.0f}K", f"${v / 1e3:.1f}K", f"{v / 1e3:.0f}K USD", f"USD {v:,.2f}"]
        found += [f"{v:,.2f}", f"{v:,.0f} dollars", f"${v:,.0f}".replace(",", "\u00a0")]
        if v >= 100_000:
            found += [f"${v / 1e6:.1f}M", f"${v / 1e6:.2f}M", f"{v / 1e6:.2f} million USD", f"${v / 1e6:.2f} Million"]
        return found
    return [f"{v:.0f} bps", f"{v:.1f}bps", f"{v:.0f} basis points", f"{v / 100:.2f}%", f"{v:.1f}"]


# -- how careful writers write a time -------------------------------------------------------


def _clock(t: datetime) -> list[str]:
    hour12 = t.hour % 12 or 12
    return [
        f"{t:%H:%M}Z",
        f"{t:%H:%M} UTC",
        f"{t:%H:%M}\u00a0UTC",
        f"{t:%H:%M:%S}Z",
        f"{t:%H:%M} (UTC)",
        f"T{t:%H:%M}Z",
        f"{t:%H%M}Z",
        f"{hour12}:{t:%M} {'PM' if t.hour >= 12 else 'AM'} UTC",
        stamp(t),
        f"{t:%Y-%m-%d %H:%M}",
        f"{t:%Y-%m-%dT%H:%M:%S}Z",
    ]


def times(scene: Scene, lane: str) -> list[str]:
    """Times in every form, of real moments: the window's start, the lane's first and last
    events in it, its end ("as of"), ranges between them and the day."""
    start, end = scene.window.start, scene.window.end
    inside = [e.ts for e in scene.events if e.lane == lane and start <= e.ts < end]
    first, last = min(inside, default=start), max(inside, default=start)
    found = _clock(first) + _clock(last)[:4] + [f"{start:%H:%M}Z", f"{end:%H:%M}Z", f"{end:%H:%M} UTC"]
    found += [
        f"{first:%H:%M}-{last:%H:%M}Z",
        f"{first:%H:%M}–{last:%H:%M} UTC",
        f"{first:%H:%M}Z to {last:%H:%M}Z",
        f"{start:%H:%M}–{end:%H:%M}Z",
        f"{first:%b} {first.day}",
        f"{first:%Y-%m-%d}",
        f"{first.day} {first:%B %Y}",
    ]
    return found


_TEMPLATES = (
    "{lane}: {label} {value}",
    "{label} on {lane} is {value}.",
    "Since {time}: {value} ({label}, {lane})",
    "failing since {time}: {value} {label} so far",
    "*{value}* {label} on {lane} over the last {minutes} min",
    "{label} on {lane} reached {value} by {time}; watch it",
    "As of {time}, {lane} {label} — {value}",
    "{lane} ({time}): {label} at {value}, per the events",
)


def _minutes(scene: Scene) -> str:
    return f"{scene.window.length_s / 60:.0f}"


@dataclass(frozen=True, repr=False)
class Subject:
    """One fact of one lane of one scene, and the sentences that say it."""

    scene: Scene
    lane: str
    fact: str
    value: float
    when: tuple[str, ...]

    def __repr__(self) -> str:
        return f"Subject({self.scene.name!r}, {self.lane!r}, {self.fact!r}, {self.value!r})"

    def say(self, written: str, i: int, time: str | None = None) -> str:
        template = _TEMPLATES[i % len(_TEMPLATES)]
        label = self.fact.replace("_", " ")
        time = time or self.when[i % len(self.when)]
        return template.format(lane=self.lane, label=label, value=written, time=time, minutes=_minutes(self.scene))

    def phrasing(self, text: str, family: str, code: str | None = None, claimed: float | None = None) -> Phrasing:
        return Phrasing(self.scene.name, self.lane, self.fact, text, family, code, claimed)

    @property
    def unit(self) -> Unit:
        return FACT_UNITS[self.fact]


def subjects() -> Iterator[Subject]:
    for scene in scenes():
        for lane in scene.lanes:
            facts, when = scene.facts.lane(lane), tuple(times(scene, lane))
            for fact in FACT_NAMES:
                value = facts.value(fact)
                if value is not None:
                    yield Subject(scene, lane, fact, value, when)


def clean() -> Iterator[Phrasing]:
    """Every fact of every scene's lanes, phrased every careful way, in every template."""
    for subject in subjects():
        for i, written in enumerate(values(subject.unit, subject.value)):
            for j in range(len(_TEMPLATES)):
                time = subject.when[(i * len(_TEMPLATES) + j) % len(subject.when)]
                yield subject.phrasing(subject.say(written, j, time), "clean")


# -- checking a phrasing ---------------------------------------------------------------------


@cache
def evidence(scene_name: str, lane: str, fact: str) -> list[str]:
    """An event that can show ``fact`` on ``lane`` (a pending one's submission may precede the window)."""
    scene = scene_named(scene_name)
    kinds, window = SUPPORTING_KINDS[fact], scene.window
    for ev in scene.events:
        if ev.lane != lane or (kinds and ev.kind not in kinds):
            continue
        if fact in ("pending", "pending_notional_usd"):
            if ev.kind == "settlement.submitted" and ev.ts < window.end and ev.settlement_id in scene.facts.pending_ids:
                return [ev.event_id]
            continue
        if ev.ts not in window or (fact == "canary_failures" and isinstance(ev, CanaryResult) and ev.ok):
            continue
        return [ev.event_id]
    return []


def document(scene: Scene, phrasings: list[Phrasing]) -> dict[str, Any]:
    """A proposal over the scene whose claim i says phrasing i (with the true value)."""
    level, _ = scene.policy.severity_of([(lane, scene.facts.lane(lane)) for lane in scene.lanes])
    claims = []
    for p in phrasings:
        value = p.value if p.value is not None else scene.facts.lane(p.lane).value(p.fact)
        cited = evidence(scene.name, p.lane, p.fact)
        claims.append({"text": p.text, "lane": p.lane, "fact": p.fact, "value": value, "evidence": cited})
    doc = load_example("summary-valid.json")
    window = {"start": stamp(scene.window.start), "end": stamp(scene.window.end)}
    doc.update(lanes=list(scene.lanes), severity=level, claims=claims, actions=[], window=window, headline="lanes degraded")
    return doc


def check(scene: Scene, phrasings: list[Phrasing], checker: Checker) -> Report:
    doc = document(scene, phrasings)
    cited = {i for claim in doc["claims"] for i in claim["evidence"]}
    return checker.check(json.loads(json.dumps(doc)), scene.facts, Evidence(event_refs(scene.events, cited), {}))


def by_scene(phrasings: Iterator[Phrasing]) -> dict[str, list[Phrasing]]:
    grouped: dict[str, list[Phrasing]] = {}
    for p in phrasings:
        grouped.setdefault(p.scene, []).append(p)
    return grouped


def scene_named(name: str) -> Scene:
    return next(s for s in scenes() if s.name == name)


def known_values(scene: Scene) -> list[float]:
    """Every quantity a figure may express: all facts of the scene's lanes, the policy's
    numbers, the window's length."""
    policy = scene.policy
    found = [v for lane in scene.lanes for v in scene.facts.lane(lane).as_dict().values() if v is not None]
    found += [t for level in policy.severity.values() for t in level.values()] + list(policy.healthy.values())
    found += [t for spec in policy.actions.values() for t in spec.trigger_any.values()]
    found += [spec.approvals for spec in policy.actions.values()] + [policy.resolved_quiet_s, scene.window.length_s]
    return found


ANY_SCALE = (1.0, 100.0, 0.01, 1e4, 1e-4, 60.0, 1 / 60, 3600.0, 1 / 3600, 1e3, 1e-3, 1e-6, 1e-9, 86400.0, 1 / 86400)
"""Every factor any unit could convert by: the wrong-figure oracle does not trust the
validator's unit table."""
_FIGURE = re.compile(r"[0-9][0-9,\u00a0\u202f]*(?:\.[0-9]+)?")


def far_from_everything(written: float, step: float, known: list[float]) -> bool:
    """No known quantity, in any unit scale, is within a written step or 2% of ``written``."""
    return all(abs(k * f - written) > max(step, 0.02 * abs(written)) for k in known for f in ANY_SCALE)


def wrong_figure(written: str, known: list[float]) -> str | None:
    """``written`` with its figure moved off every known quantity (same digits after the
    point, same separators), or None when no such figure is near."""
    m = _FIGURE.search(written)
    if m is None:
        return None
    digits = m.group()
    decimals = len(digits.partition(".")[2])
    step, value = 10.0**-decimals, float(re.sub(r"[,\u00a0\u202f]", "", digits))
    separator = next((c for c in ",\u00a0\u202f" if c in digits), "")
    for factor in (1.37, 0.61, 2.3, 4.1, 0.29, 9.7, 13.3):
        candidate = round(max(value, 3 * step) * factor, decimals)
        if far_from_everything(candidate, step, known):
            text = f"{candidate:,.{decimals}f}".replace(",", separator)
            return written[: m.start()] + text + written[m.end() :]
    return None


# A written unit and how it reads a quantity, restated from contract §5 for the near-miss oracle.
_NEAR_UNITS: dict[Unit, tuple[tuple[str, float, tuple[tuple[Unit, float], ...]], ...]] = {
    Unit.RATIO: (("{:.1f}%", 100.0, ((Unit.RATIO, 100.0), (Unit.BPS, 0.01))),),
    Unit.SECONDS: (("{:.1f} s", 1.0, ((Unit.SECONDS, 1.0),)), ("{:.1f} min", 1 / 60, ((Unit.SECONDS, 1 / 60),))),
    Unit.USD: (("${:.1f}K", 1e-3, ((Unit.USD, 1e-3),)),),
    Unit.BPS: (("{:.1f} bps", 1.0, ((Unit.BPS, 1.0), (Unit.RATIO, 1e4))),),
    Unit.COUNT: (),
}
_OWN_UNIT = tuple((unit, 1.0) for unit in Unit)


def near_misses(scene: Scene, unit: Unit, v: float) -> Iterator[str]:
    """The fact's value written one step off in its last digit, when no known quantity
    rounds to that (by contract §5's table: half a step)."""
    known = _known_with_units(scene)
    styles = [*_NEAR_UNITS[unit], *((("{:.1f}", 1.0, _OWN_UNIT),) if unit is not Unit.COUNT else ())]
    for style, factor, readings in styles:
        written = round(v * factor, 1)
        for candidate in (written + 0.1, written - 0.1):
            # a clear miss: more than half a step (0.05) plus a margin for float noise
            close = any(abs(k * f - candidate) <= 0.06 for k, u in known for ru, f in readings if ru is u)
            if candidate > 0 and not close:
                yield style.format(candidate)


def _known_with_units(scene: Scene) -> list[tuple[float, Unit]]:
    policy = scene.policy
    found = [(v, FACT_UNITS[f]) for lane in scene.lanes for f, v in scene.facts.lane(lane).as_dict().items() if v is not None]
    tables = [*policy.severity.values(), policy.healthy, *(spec.trigger_any for spec in policy.actions.values())]
    found += [(t, FACT_UNITS[f]) for table in tables for f, t in table.items()]
    found += [(float(spec.approvals), Unit.COUNT) for spec in policy.actions.values()]
    return [*found, (policy.resolved_quiet_s, Unit.SECONDS), (scene.window.length_s, Unit.SECONDS)]


def _outside_times(scene: Scene) -> list[str]:
    start, end = scene.window.start, scene.window.end
    before, later = start - timedelta(minutes=1), end + timedelta(minutes=1)
    found = [f"{before:%H:%M}Z", f"{later:%H:%M} UTC", f"{later:%H:%M}\u00a0UTC", f"{end:%H:%M}:01Z"]
    found += [stamp(end + timedelta(seconds=s)) for s in (0.2, 0.4, 0.6)] + [stamp(start - timedelta(seconds=0.3))]
    found += [f"{end:%Y-%m-%dT%H:%M:%S}.000000Z", f"{start:%H:%M}-{later:%H:%M}Z", f"{before:%H:%M}–{end:%H:%M} UTC"]
    found += [f"{start - timedelta(days=1):%b} {(start - timedelta(days=1)).day}", f"{start + timedelta(days=1):%Y-%m-%d}"]
    return [*found, f"{start:%H:%M} EST", f"{start:%H:%M} CET"]


_SPOOFS = (
    "see <https://evil.test/d/{lane}|https://grafana.example.com/d/{lane}>",
    "see [https://grafana.example.com/d/{lane}](https://evil.test/d/{lane})",
    "see [grafana.example.com](https://grafana.example.com.evil.test/)",
    "see [runbook](evil.test/rollback)",
    "see https://grafana.example.com@evil.test/d/{lane}",
    "see www.evil.test/{lane}",
    "see evil.com",
    "mail <mailto:ops@evil.test|ops@grafana.example.com>",
)
_OTHERS = (
    ("{lane} and l9-xyz", "lane.unknown"),
    ("{lane}, cc @here", "content.mention"),
    ("{lane} <!channel>", "content.mention"),
    ("{lane}: ask <@U0123ABCD>", "content.mention"),
    ("{lane}: token xoxb-123456789012-abcdefabcdef", "content.secret"),
)
_ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def defects() -> Iterator[Phrasing]:
    """Each family of subtle defect, written from every scene's real facts."""
    for subject in subjects():
        yield from _defects(subject, known_values(subject.scene))


def _defects(subject: Subject, known: list[float]) -> Iterator[Phrasing]:
    unit, value, say = subject.unit, subject.value, subject.say
    plain = values(unit, value)[0]
    for i, written in enumerate(values(unit, value)):
        wrong = wrong_figure(written, known)
        if wrong is not None:
            family = "wrong figure" if _FIGURE.search(written) else "wrong number word"
            yield subject.phrasing(say(wrong, i), family, "number.ungrounded")
    for i, written in enumerate(near_misses(subject.scene, unit, value)):
        yield subject.phrasing(say(written, i), "off by rounding", "number.ungrounded")
    if unit is Unit.COUNT:
        for k in (3, 7, 12, 29):
            if far_from_everything(round(value) + k, 1.0, known):
                yield subject.phrasing(say(words(round(value) + k), k), "wrong number word", "number.ungrounded")
    timed = [j for j, template in enumerate(_TEMPLATES) if "{time}" in template]
    for i, time in enumerate(_outside_times(subject.scene)):
        yield subject.phrasing(say(plain, timed[i % len(timed)], time), "time outside window", "time.outside_window")
    for i, spoof in enumerate(_SPOOFS):
        yield subject.phrasing(f"{say(plain, i)}; {spoof.format(lane=subject.lane)}", "spoofed link", "content.link")
    for i, (other, code) in enumerate(_OTHERS):
        yield subject.phrasing(f"{say(plain, i)} ({other.format(lane=subject.lane)})", code, code)
    yield subject.phrasing(say(plain.translate(_ARABIC), 0), "unreadable digits", "number.ungrounded")
    claimed = round(value) + 3 if unit is Unit.COUNT else value * 1.5 + 1
    yield subject.phrasing(say(plain, 1), "fact mismatch", "fact.mismatch", claimed)


def expected_path(p: Phrasing, index: int) -> str:
    return f"/claims/{index}/value" if p.code == "fact.mismatch" else f"/claims/{index}/text"
