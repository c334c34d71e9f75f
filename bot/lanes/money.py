"""Sums of money that can go up and down without drifting.

A running float sum that adds and later subtracts the same amounts drifts in its last bits,
and live status would then differ from ``math.fsum`` over the same settlements. Every
float is an integer multiple of 2^-1074, so the sum is kept as that integer: exact under
any order of additions and removals, and converted once, correctly rounded, as fsum is.
"""

from __future__ import annotations

_SCALE = 1 << 1074


class ExactSum:
    __slots__ = ("_total",)

    def __init__(self) -> None:
        self._total = 0

    def add(self, amount: float, sign: int = 1) -> None:
        numerator, denominator = amount.as_integer_ratio()
        self._total += sign * numerator * (_SCALE // denominator)

    @property
    def value(self) -> float:
        return self._total / _SCALE
