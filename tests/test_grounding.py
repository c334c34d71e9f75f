"""Numbers and times in free text: accept what careful writers write, reject the rest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import T0, WINDOW

from validators.facts import Unit, Window
from validators.grounding import Quantity, grounded, within
from validators.tokens import Number, Time, tokenize


def ungrounded_numbers(text: str, known: list[Quantity]) -> list[Number]:
    return [t for t in tokenize(text) if isinstance(t, Number) and (t.figure is None or not grounded(t.figure, known))]


KNOWN = [
    Quantity(0.0351, Unit.RATIO, "failure_rate"),
    Quantity(842.0, Unit.SECONDS, "finality_p99_s"),
    Quantity(1_234_567.0, Unit.USD, "pending_notional_usd"),
    Quantity(535_740.29, Unit.USD, "failed_notional_usd"),
    Quantity(80.4, Unit.BPS, "feed_divergence_bps_max"),
    Quantity(25, Unit.COUNT, "failed"),
    Quantity(0.02, Unit.RATIO, "rollback trigger"),
    Quantity(1800.0, Unit.SECONDS, "window"),
    Quantity(48_211, Unit.COUNT, "submitted"),
]


@pytest.mark.parametrize(
    "text",
    [
        "failure rate at 3.5%",
        "failure rate 3.51 %",
        "4% of settlements fail",
        "0.0351 of settlements",
        "p99 finality 14 min",
        "finality of 842 s",
        "842s",
        "14.0 minutes",
        "0.23 h",
        "842,000 ms",
        "$1.2M pending",
        "$1.23M",
        "1.2 million USD",
        "USD 1.2M",
        "$1,234,567 pending",
        "$536K failed",
        "536K failed",
        "$0.5M failed",
        "divergence 80 bps",
        "80bps",
        "0.8% divergence",
        "25 failed",
        "the 2% rollback trigger",
        "in the last 30 min",
        "a 30-minute window",
        "half an hour",
        "48,211 submitted",
        "48.2K submitted",
        "48K submitted",
        "p99 on l2-arb at sev2",
        "evt-0001190 and stl-0000202",
        "0x1eec8259b9fd72e0",
        "5xx errors",
        "v1.2.3",
        "2nd attempt",
    ],
)
def test_careful_writing_is_grounded(text: str) -> None:
    assert ungrounded_numbers(text, KNOWN) == [], text


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("failure rate at 3.6%", "3.6%"),
        ("failure rate 3.52%", "3.52%"),
        ("p99 finality 15 min", "15 min"),
        ("$1.3M pending", "$1.3M"),
        ("$540K failed", "$540K"),
        ("26 failed", "26"),
        ("divergence 90 bps", "90 bps"),
        ("the 3% trigger", "3%"),
        ("in the last 45 min", "45 min"),
        ("$25 lost", "$25"),
        ("25% failed", "25%"),
        ("25 s", "25 s"),
        ("block 19000084", "19000084"),
        ("3-5 failed", "3"),
    ],
)
def test_a_number_that_matches_nothing_at_its_precision_is_ungrounded(text: str, bad: str) -> None:
    assert bad in [m.text for m in ungrounded_numbers(text, KNOWN)], text


def _times(text: str, window: Window = WINDOW) -> list[tuple[str, bool]]:
    return [(t.text, t.problem is None and within(t, window)) for t in tokenize(text) if isinstance(t, Time)]


def test_times_are_read_in_every_usual_form() -> None:
    assert _times(
        "since 14:05 UTC, at 14:05Z, 14:07:09, 2026-03-02T14:10:00Z, 2026-03-02 14:12, 2:15pm, 2 pm, Mar 2, 2 March 2026"
    ) == [
        ("14:05 UTC", True),
        ("14:05Z", True),
        ("14:07:09", True),
        ("2026-03-02T14:10:00Z", True),
        ("2026-03-02 14:12", True),
        ("2:15pm", True),
        ("2 pm", True),
        ("Mar 2", True),
        ("2 March 2026", True),
    ]


def test_times_outside_the_window_or_impossible_are_flagged() -> None:
    assert _times("at 13:59Z, 14:31 UTC, 25:61, 2026-03-01, 2026-03-02T14:05+02:00, Feb 30") == [
        ("13:59Z", False),
        ("14:31 UTC", False),
        ("25:61", False),
        ("2026-03-01", False),
        ("2026-03-02T14:05+02:00", False),
        ("Feb 30", False),
    ]


def test_a_time_of_day_may_fall_on_any_day_of_the_window() -> None:
    overnight = Window(T0 + timedelta(hours=9, minutes=50), T0 + timedelta(hours=10, minutes=20))  # 23:50 to 00:20
    assert _times("since 23:55Z and at 00:10 UTC, not 12:00", overnight) == [
        ("23:55Z", True),
        ("00:10 UTC", True),
        ("12:00", False),
    ]


# -- contract v1.1 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "quantity"),
    [
        ("p50 finality 36", Quantity(35.68, Unit.SECONDS, "finality_p50_s")),
        ("divergence 5", Quantity(5.48, Unit.BPS, "feed_divergence_bps_max")),
        ("divergence 5.5", Quantity(5.48, Unit.BPS, "feed_divergence_bps_max")),
        ("failed notional (USD): 535,740.29", Quantity(535_740.29, Unit.USD, "failed_notional_usd")),
        ("failed notional 536K", Quantity(535_740.29, Unit.USD, "failed_notional_usd")),
        ("a fraction of 0.23", Quantity(0.2336, Unit.RATIO, "failure_rate")),
        ("25 failed", Quantity(25, Unit.COUNT, "failed")),
    ],
)
def test_a_number_without_a_unit_matches_a_fact_in_the_facts_own_unit(text: str, quantity: Quantity) -> None:
    assert ungrounded_numbers(text, [quantity]) == [], text


@pytest.mark.parametrize(
    ("text", "quantity"),
    [
        ("failure rate 23", Quantity(0.2336, Unit.RATIO, "failure_rate")),  # 23 is the percent, not the fraction
        ("p50 finality 37", Quantity(35.68, Unit.SECONDS, "finality_p50_s")),
        ("p50 finality 35.7 min", Quantity(35.68, Unit.SECONDS, "finality_p50_s")),
        ("failed notional 536", Quantity(535_740.29, Unit.USD, "failed_notional_usd")),
        ("divergence 6", Quantity(5.48, Unit.BPS, "feed_divergence_bps_max")),
    ],
)
def test_a_number_without_a_unit_still_matches_only_at_its_precision_in_the_facts_unit(text: str, quantity: Quantity) -> None:
    assert ungrounded_numbers(text, [quantity]), text


@pytest.mark.parametrize(
    ("text", "grounded_"),
    [
        ("Fourteen of the canary trades failed", True),
        ("Nineteen of the canary trades failed", False),
        ("twenty-five settlements failed", True),
        ("twenty-six settlements failed", False),
        ("a dozen failed", False),
        ("about half a million dollars", True),  # a fraction: not checked
        ("one canary failed", True),  # one: not checked
        ("about two million dollars pending", False),
        ("about half a dozen failed", True),
        ("thirty minutes of failures", True),  # the window's length
        ("forty minutes of failures", False),
    ],
)
def test_number_words_are_grounded_like_their_digits(text: str, grounded_: bool) -> None:
    known = [Quantity(14, Unit.COUNT, "canary_failures"), Quantity(25, Unit.COUNT, "failed"), Quantity(1800, Unit.SECONDS, "w")]
    known.append(Quantity(535_740.29, Unit.USD, "failed_notional_usd"))
    assert (ungrounded_numbers(text, known) == []) is grounded_, text


def test_a_large_figure_is_held_to_its_written_precision_not_to_float_noise() -> None:
    pending = Quantity(54_070_692.13, Unit.USD, "pending_notional_usd")
    assert ungrounded_numbers("$54,070,692.1 pending", [pending]) == []
    assert [t.text for t in ungrounded_numbers("$54,070,692.2 pending", [pending])] == ["$54,070,692.2"]


@pytest.mark.parametrize(("text", "date"), [("since Mar 1: 25 failed", "Mar 1"), ("on 1 March: 25 failed", "1 March")])
def test_a_date_followed_by_a_colon_is_still_a_date(text: str, date: str) -> None:
    assert [t.text for t in tokenize(text) if isinstance(t, Time)] == [date]
