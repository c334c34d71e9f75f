"""Whether a policy's ``lane_pattern`` is safe to search free text with.

The pattern is searched through every text of every proposal, and Python's ``re``
backtracks: ``l([0-9]+)+-[a-z0-9]+`` took exponential time on a text of digits and hung
validation (issue 15). A pattern is refused, with the reason, when some part of a string
could be matched in more than one way by parts that repeat — the shapes behind
catastrophic and polynomial backtracking:

- a variable part (``+``, ``*``, ``?``, ``{m,n}``, alternatives of different lengths)
  followed, with nothing in between that must take a character it cannot take, by another
  variable part able to start with a character the first can take (``\\d+\\d+``,
  ``[0-9]+-?[a-z0-9]+``). A repeated group is read as two copies of its body in a row, so
  a quantifier inside a quantified group is caught when its iterations can run into each
  other (``([0-9]+)+``) and allowed when a separator keeps them apart (``(-[a-z0-9]+)*``);
- alternatives under a repetition that can start with the same character or be empty
  (``(a|ab)+``);
- back-references, look-arounds and inline flags (no lane id needs them), and more than
  ``MAX_LENGTH`` characters.

Character classes are compared on every code point below U+3000, one in every 256 above,
and every literal and range bound the pattern names (two ranges that overlap share a bound).
"""

from __future__ import annotations

import re
import re._constants as sre  # type: ignore[import-not-found]
import re._parser as sre_parse  # type: ignore[import-not-found]
from bisect import bisect_left, bisect_right
from functools import cache
from typing import Any

MAX_LENGTH = 200
_REPEATS = frozenset({sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT})
_SINGLE = frozenset({sre.LITERAL, sre.NOT_LITERAL, sre.IN, sre.ANY})
_REFUSED = {
    sre.GROUPREF: "a back-reference",
    sre.GROUPREF_EXISTS: "a conditional group",
    sre.ASSERT: "a look-ahead or look-behind",
    sre.ASSERT_NOT: "a negative look-ahead or look-behind",
}
_BASE = frozenset(range(0x3000)) | frozenset(range(0x3000, 0x110000, 0x100)) | {0x10FFFF}
Item = tuple[Any, Any]


class UnsafePattern(ValueError):
    """Why a lane pattern could backtrack without bound."""


def check_lane_pattern(pattern: str) -> None:
    """Raise ``UnsafePattern`` when ``pattern`` is unsafe (see the module's docstring)."""
    if len(pattern) > MAX_LENGTH:
        raise UnsafePattern(f"longer than {MAX_LENGTH} characters")
    parsed = sre_parse.parse(pattern)
    if parsed.state.flags & ~(sre.SRE_FLAG_UNICODE):
        raise UnsafePattern("inline flags such as (?i) are not allowed")
    _Check(_universe(list(parsed))).sequence(list(parsed), repeated=False)


def _universe(items: list[Item]) -> frozenset[int]:
    """The code points classes are compared on: the base sample and every bound named."""
    named: set[int] = set()

    def walk(node: Any) -> None:
        if isinstance(node, tuple) and len(node) == 2 and node[0] in (sre.LITERAL, sre.NOT_LITERAL):
            named.add(node[1])
        elif isinstance(node, tuple) and len(node) == 2 and node[0] is sre.RANGE:
            named.update(node[1])
        elif isinstance(node, list | tuple) or type(node).__name__ == "SubPattern":
            for child in node:
                walk(child)

    walk(items)
    return _BASE | named


class _Check:
    def __init__(self, universe: frozenset[int]) -> None:
        self.universe = universe
        self._ordered = sorted(universe)
        self._singles: dict[str, frozenset[int]] = {}

    def sequence(self, items: list[Item], repeated: bool) -> None:
        """Check ``items`` in a row; ``repeated``: they are (part of) a repeated body."""
        for item in items:
            self.item(item, repeated)
        self.adjacent(items)

    def adjacent(self, items: list[Item]) -> None:
        """Whether a variable part of ``items`` (groups read as the parts they hold) is
        followed by one that could take what it took."""
        flat = _flatten(items)
        for i, item in enumerate(flat):
            if _is_variable(item):
                self.followers(item, flat[i + 1 :])

    def item(self, item: Item, repeated: bool) -> None:
        op, av = item
        if op in _REFUSED:
            raise UnsafePattern(f"{_REFUSED[op]} is not allowed")
        if op in _REPEATS:
            _, high, body = av
            many = high > 1
            self.sequence(list(body), repeated=repeated or many)
            if many:  # two iterations in a row: can one run into the next?
                self.adjacent([*body, *body])
        elif op is sre.SUBPATTERN:
            if av[1] or av[2]:
                raise UnsafePattern("inline flags such as (?i) are not allowed")
            self.sequence(list(av[3]), repeated)
        elif op is sre.ATOMIC_GROUP:
            self.sequence(list(av), repeated)
        elif op is sre.BRANCH:
            alternatives = [list(alt) for alt in av[1]]
            if repeated:
                self.alternatives(alternatives)
            for alt in alternatives:
                self.sequence(alt, repeated)

    def alternatives(self, alternatives: list[list[Item]]) -> None:
        seen: set[int] = set()
        for alt in alternatives:
            if _width(alt)[0] == 0:
                raise UnsafePattern("an alternative that can be empty under a repetition (e.g. (a|ab)+)")
            first = self.first(alt)
            if seen & first:
                raise UnsafePattern("alternatives that can start alike under a repetition (e.g. (a|ab)+)")
            seen |= first

    def followers(self, item: Item, after: list[Item]) -> None:
        """Whether something variable after ``item`` could take what ``item`` took."""
        taken = self.chars([item])
        for later in after:
            starts = self.first([later]) & taken
            if starts and _is_variable(later):
                raise UnsafePattern(
                    "two variable parts in a row that can match the same characters "
                    "(e.g. ([0-9]+)+ or \\d+\\d+): write one, or put a separator between them"
                )
            if not starts and _width([later])[0] > 0:
                return  # it must take a character the first cannot: a separator

    def chars(self, items: list[Item]) -> frozenset[int]:
        """Every character ``items`` can consume."""
        found: frozenset[int] = frozenset()
        for op, av in items:
            if op in _SINGLE:
                found |= self.single(op, av)
            elif op in _REPEATS:
                found |= self.chars(list(av[2]))
            elif op is sre.SUBPATTERN:
                found |= self.chars(list(av[3]))
            elif op is sre.ATOMIC_GROUP:
                found |= self.chars(list(av))
            elif op is sre.BRANCH:
                for alt in av[1]:
                    found |= self.chars(list(alt))
        return found

    def first(self, items: list[Item]) -> frozenset[int]:
        """Every character a match of ``items`` can start with."""
        found: frozenset[int] = frozenset()
        for item in items:
            op, av = item
            if op in _SINGLE:
                found |= self.single(op, av)
            elif op in _REPEATS:
                found |= self.first(list(av[2]))
            elif op is sre.SUBPATTERN:
                found |= self.first(list(av[3]))
            elif op is sre.ATOMIC_GROUP:
                found |= self.first(list(av))
            elif op is sre.BRANCH:
                for alt in av[1]:
                    found |= self.first(list(alt))
            if _width([item])[0] > 0:
                return found
        return found

    def single(self, op: Any, av: Any) -> frozenset[int]:
        key = repr((op, av))
        found = self._singles.get(key)
        if found is None:
            found = self._singles[key] = self._single(op, av)
        return found

    def _single(self, op: Any, av: Any) -> frozenset[int]:
        if op is sre.LITERAL:
            return frozenset({av})
        if op is sre.NOT_LITERAL:
            return self.universe - {av}
        if op is sre.ANY:
            return self.universe - {ord("\n")}
        members: set[int] = set()
        negate = False
        for kind, value in av:
            if kind is sre.NEGATE:
                negate = True
            elif kind is sre.LITERAL:
                members.add(value)
            elif kind is sre.RANGE:
                members.update(self._ordered[bisect_left(self._ordered, value[0]) : bisect_right(self._ordered, value[1])])
            elif kind is sre.CATEGORY:
                members.update(_category(value, self.universe))
        return self.universe - members if negate else frozenset(members)


_CATEGORIES = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
}


@cache
def _category(category: Any, universe: frozenset[int]) -> frozenset[int]:
    test = re.compile(_CATEGORIES[str(category)]).fullmatch
    return frozenset(c for c in universe if test(chr(c)))


def _flatten(items: list[Item]) -> list[Item]:
    """Groups that do not repeat are only their parts, in a row."""
    flat: list[Item] = []
    for op, av in items:
        if op is sre.SUBPATTERN:
            flat += _flatten(list(av[3]))
        elif op is sre.ATOMIC_GROUP:
            flat += _flatten(list(av))
        else:
            flat.append((op, av))
    return flat


def _is_variable(item: Item) -> bool:
    low, high = _width([item])
    return low != high


def _width(items: list[Item]) -> tuple[float, float]:
    """The fewest and most characters ``items`` can match (``inf``: no bound)."""
    low = high = 0.0
    for op, av in items:
        if op in _SINGLE:
            lo = hi = 1.0
        elif op in _REPEATS:
            body_lo, body_hi = _width(list(av[2]))
            lo = av[0] * body_lo
            hi = float("inf") if av[1] == sre.MAXREPEAT and body_hi else av[1] * body_hi
        elif op is sre.SUBPATTERN:
            lo, hi = _width(list(av[3]))
        elif op is sre.ATOMIC_GROUP:
            lo, hi = _width(list(av))
        elif op is sre.BRANCH:
            widths = [_width(list(alt)) for alt in av[1]]
            lo, hi = min(w[0] for w in widths), max(w[1] for w in widths)
        else:  # anchors and boundaries
            lo = hi = 0.0
        low, high = low + lo, high + hi
    return low, high
