"""The tokenizer: every form of time, link, id and figure a careful writer uses is read as
what it is, in priority order, and no digit is ever silently skipped."""

from __future__ import annotations

import re

import pytest
from helpers import WINDOW
from hypothesis import given, settings
from hypothesis import strategies as st

from validators.grounding import within
from validators.tokens import Kind, Link, Number, Time, Token, tokenize

LANES = re.compile(r"(?<![\w-])(?:l[0-9]+-[a-z0-9]+)(?![\w-])")


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind.value, t.text) for t in tokenize(text, LANES)]


def only(text: str) -> Token:
    (token,) = tokenize(text, LANES)
    return token


@pytest.mark.parametrize(
    "text",
    [
        "14:04Z",
        "14:04 UTC",
        "14:04utc",
        "14:04 (UTC)",
        "14:04:07Z",
        "14:04:07.5Z",
        "T14:04Z",
        "2:04 pm",
        "2 pm",
        "1404Z",
        "2026-03-02T14:04:07.123456Z",
        "2026-03-02T15:04:07+01:00",
        "2026-03-02 14:04",
        "2026-03-02 14:04:07.123456+00:00",
    ],
)
def test_a_time_in_every_form_the_contract_names_is_one_time_token(text: str) -> None:
    for context in ("{}", "since {}: so far", "({})", "*{}*", "_{}_", "at {}, then", "at\u00a0{}."):
        tokens = tokenize(context.format(text))
        times = [t for t in tokens if isinstance(t, Time)]
        assert [t.text for t in times] == [text], context
        assert not [t for t in tokens if isinstance(t, Number)], context


@pytest.mark.parametrize("text", ["14:04-14:19Z", "14:04–14:19 UTC", "14:04Z—14:19Z", "14:04 - 14:19", "14:04 to 14:19 UTC"])
def test_a_range_is_one_token_with_both_ends(text: str) -> None:
    token = only(f"failing {text}.")
    assert isinstance(token, Time)
    assert (token.kind, len(token.moments)) == (Kind.RANGE, 2)


def test_a_ranges_zone_written_once_applies_to_both_ends() -> None:
    token = only("14:04-14:19 EST")
    assert isinstance(token, Time)
    assert token.problem is not None
    assert "UTC" in token.problem


@pytest.mark.parametrize(
    "text", ["Mar 2", "2 March 2026", "March 2, 2026", "Mar 2nd", "March 2026", "Q1 2026", "H1 2026", "2026-03-02"]
)
def test_dates_are_time_tokens_at_day_month_or_quarter_precision(text: str) -> None:
    token = only(text)
    assert isinstance(token, Time)
    assert token.kind is Kind.DATE
    assert within(token, WINDOW)


@pytest.mark.parametrize("text", ["Decided 3 times", "Marching 2 by 2", "may 2 fail"])
def test_words_that_start_like_a_month_are_not_dates(text: str) -> None:
    assert not [t for t in tokenize(text) if isinstance(t, Time)]


def _inside(text: str) -> bool:
    token = only(text)
    assert isinstance(token, Time)
    return token.problem is None and within(token, WINDOW)


@pytest.mark.parametrize(
    ("text", "inside"),
    [
        ("14:00Z", True),
        ("13:59Z", False),
        ("14:30Z", True),  # the window's end, at minute precision: "as of 14:30Z"
        ("14:31Z", False),
        ("14:29:59Z", True),
        ("14:30:00Z", True),
        ("2026-03-02T14:29:59.999999Z", True),
        ("2026-03-02T14:30:00.000000Z", False),  # an event at the end is outside [start, end)
        ("2026-03-02T14:30:00.2Z", False),
        ("2026-03-02T14:30:00.600000Z", False),
        ("2026-03-02T13:59:59.999999Z", False),
        ("2026-03-02T14:00:00.000000Z", True),
        ("14:00-14:30Z", True),
        ("13:59-14:10Z", False),
        ("14:10-14:31Z", False),
    ],
)
def test_a_time_is_compared_to_the_window_at_the_precision_it_is_written(text: str, inside: bool) -> None:
    assert _inside(text) is inside


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("see <https://evil.test/x|https://grafana.example.com/d/1>", "evil.test"),
        ("see [https://grafana.example.com/d/1](https://evil.test/x)", "evil.test"),
        ("see [grafana.example.com](evil.test/x)", "evil.test"),
        ("see [dashboard](<https://evil.test/x>)", "evil.test"),
        ("see https://grafana.example.com/d/1](https://evil.test/x)", "evil.test"),
        ("see https://grafana.example.com@evil.test/", "evil.test"),
        ("see <mailto:ops@evil.test|ops>", "evil.test"),
    ],
)
def test_a_links_host_is_its_targets_whatever_its_label_shows(text: str, host: str) -> None:
    hosts = [t.host for t in tokenize(text) if isinstance(t, Link)]
    assert host in hosts


def test_a_labels_prose_is_still_read_and_its_urls_are_links() -> None:
    tokens = kinds("<https://grafana.example.com/d/1|p99 at 65 s on l2-arb, see runbooks.example.com>")
    assert ("link", "runbooks.example.com") in tokens
    assert ("number", "65 s") in tokens
    assert ("lane", "l2-arb") in tokens


def test_what_is_inside_a_link_is_the_links() -> None:
    assert kinds("https://grafana.example.com/d/abc?from=13:00Z&var-lane=l3-zk&n=25") == [
        ("link", "https://grafana.example.com/d/abc?from=13:00Z&var-lane=l3-zk&n=25")
    ]


def test_a_credential_is_found_even_inside_a_link() -> None:
    assert ("secret", "xoxb-123456789012-abcdef") in kinds("https://grafana.example.com/?t=xoxb-123456789012-abcdef")


@pytest.mark.parametrize(
    "text",
    ["l2-arb", "p99", "sev2", "evt-0001190", "inc-20260302-0007", "0x1eec8259", "5xx", "2nd", "v1.2.3", "1.2.3", "#42", "§4.2"],
)
def test_digits_inside_ids_and_words_are_not_figures(text: str) -> None:
    assert not [t for t in tokenize(f"see {text} now", LANES) if isinstance(t, Number)]


@pytest.mark.parametrize(
    ("text", "value", "decimals"),
    [
        ("23.40%", 23.4, 2),
        ("48,211", 48211, 0),
        ("48\u00a0211", 48211, 0),
        ("48\u202f211", 48211, 0),
        ("$536K", 536, 0),
        ("USD 1.2M", 1.2, 1),
        ("1.2 million dollars", 1.2, 1),
        ("5e6", 5e6, -6),
        ("842s", 842, 0),
        ("2h 15m", 135, 0),
        ("9m59s", 599, 0),
        ("_25_", 25, 0),
        ("_$9,678K_", 9678, 0),
        ("*23.4%*", 23.4, 1),
        ("30-minute", 30, 0),
    ],
)
def test_a_figure_keeps_its_value_and_written_precision(text: str, value: float, decimals: int) -> None:
    token = only(text)
    assert isinstance(token, Number)
    assert token.figure is not None
    assert (token.figure.value, token.figure.decimals) == (value, decimals)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Fourteen", 14),
        ("forty-two", 42),
        ("forty two", 42),
        ("three hundred", 300),
        ("three hundred and five", 305),
        ("a dozen", 12),
        ("two dozen", 24),
        ("one hundred", 100),
        ("twenty minutes", 20),
        ("_twenty_", 20),
        ("twenty\u2011five", 25),  # a non-breaking hyphen
        ("twenty\u2010five", 25),
        ("a twenty second wait", 20),  # "twenty-second" is an ordinal; this is a duration
    ],
)
def test_number_words_from_two_up_are_figures(text: str, value: float) -> None:
    numbers = [t for t in tokenize(text) if isinstance(t, Number)]
    assert [(t.kind, t.figure.value if t.figure else None) for t in numbers] == [(Kind.NUMBER_WORD, value)]


def test_millions_in_words_are_precise_to_millions_like_their_digits() -> None:
    token = only("two million USD")
    assert isinstance(token, Number)
    assert token.figure is not None
    assert (token.figure.value, token.figure.decimals) == (2, 0)
    assert token.figure.readings == only("2 million USD").figure.readings  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "text",
    ["one", "one failed", "no failures", "half", "half an hour", "two thirds", "one and a half", "half a million", "a quarter"],
)
def test_one_no_half_and_fractions_are_not_checked(text: str) -> None:
    assert not [t for t in tokenize(text) if isinstance(t, Number)]


@pytest.mark.parametrize(
    "text", ["often", "tone", "eightfold", "seventeenth", "nineteens", "hundreds", "dozens", "twenty-first", "thirty\u2011second"]
)
def test_words_that_contain_number_words_are_not_numbers(text: str) -> None:
    assert not [t for t in tokenize(text) if isinstance(t, Number)]


def test_digits_no_form_reads_are_unreadable_figures_not_skipped() -> None:
    token = only("٢٥ failed")
    assert isinstance(token, Number)
    assert token.figure is None


TEXT = st.text(
    st.sampled_from(list("0123456789:.-–,$%KMZTsmh ")) | st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200
)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_every_digit_belongs_to_a_token(text: str) -> None:
    covered = [False] * len(text)
    for token in tokenize(text, LANES):
        covered[token.start : token.end] = [True] * (token.end - token.start)
    assert all(covered[i] for i, c in enumerate(text) if c.isdigit()), text


PIECES = [
    "1",
    "1.",
    "14:",
    "a-",
    "a.",
    "$1,",
    "two ",
    "l2-",
    "[a](",
    "<http://a|",
    "2026-03-02T",
    "@a",
    "x ",
    "-----BEGIN A----- ",
    "thousand ",
    "one and a ",
    "1_",
    "$",
    "14:05 to ",
    "](",
]


@pytest.mark.parametrize("piece", PIECES)
def test_a_long_repetitive_input_is_tokenized_in_one_pass(piece: str) -> None:
    """A pattern that rescans the text would take minutes here, not a second."""
    text = piece * (50_000 // len(piece))
    assert isinstance(tokenize(text, LANES), list)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=500, max_size=2000).map("".join))
def test_long_mixed_inputs_are_tokenized_in_one_pass(text: str) -> None:
    assert isinstance(tokenize(text, LANES), list)
