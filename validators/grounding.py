"""Grounding of what the tokenizer reads (contract §5): a figure against the known
quantities at the precision written, a time against the window at the precision written.

A careful writer rounds: ``3.5%`` for a rate of 0.0351, ``14 min`` for 842 s, ``$536K`` for
535,740.29, ``36`` for a p50 of 35.7 s. So a figure is grounded when some known quantity,
read in one of the figure's units, rounds to it at the written precision.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from validators.facts import Unit, Window
from validators.tokens import Time
from validators.tokens.numbers import Figure
from validators.tokens.times import inside


@dataclass(frozen=True, slots=True)
class Quantity:
    """A value a figure in the text may express, and where it comes from."""

    value: float
    unit: Unit
    source: str


def grounded(figure: Figure, quantities: Iterable[Quantity]) -> bool:
    """``|quantity x factor - written| <= half a unit of the last digit written``."""
    half_step = 0.5 * 10.0**-figure.decimals
    for quantity in quantities:
        for unit, factor in figure.readings:
            if unit is quantity.unit:
                written = quantity.value * factor
                if abs(written - figure.value) <= half_step + 1e-12 * max(1.0, abs(written)):  # float noise only
                    return True
    return False


def within(time: Time, window: Window) -> bool:
    """Every moment the time names (a range has two) lies in the window at its precision."""
    return all(inside(moment, window) for moment in time.moments)
