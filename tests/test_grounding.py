"""Numbers and times in free text: accept what careful writers write, reject the rest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import T0, WINDOW

from validators.facts import Unit, Window
from validators.grounding import Quantity, find_numbers, find_times, ungrounded_numbers

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


def test_numbers_keep_their_written_precision() -> None:
    (mention,) = find_numbers("about 23.40% of them")
    assert (mention.value, mention.decimals, mention.text) == (23.4, 2, "23.40%")


def _times(text: str, window: Window = WINDOW) -> list[tuple[str, bool]]:
    return [(t.text.strip(), bool(t.spans) and t.within(window)) for t in find_times(text, window)]


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
