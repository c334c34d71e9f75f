"""``lane_pattern`` is refused unless it is safe to search text with (issue 15:
``l([0-9]+)+-[a-z0-9]+`` was accepted and hung validation)."""

from __future__ import annotations

import contextlib
import re
import warnings

import pytest
from helpers import EXAMPLE
from hypothesis import given, settings
from hypothesis import strategies as st

from validators import PolicyError, parse_policy
from validators.lane_pattern import MAX_LENGTH, UnsafePattern, check_lane_pattern

POLICY = (EXAMPLE / "policy.yaml").read_text()


def test_the_issues_pattern_is_refused_naming_the_key_and_why() -> None:
    with pytest.raises(PolicyError) as refused:
        parse_policy(POLICY + "lane_pattern: 'l([0-9]+)+-[a-z0-9]+'\n")
    message = str(refused.value)
    assert message.startswith("lane_pattern: refused, it could make validation hang (catastrophic backtracking): ")
    assert "separator" in message


@pytest.mark.parametrize(
    "pattern",
    [
        "l[0-9]+-[a-z0-9]+",  # the contract's default
        "l[0-9]+(?:-[a-z0-9]+)?",
        r"l\d+(?:-[a-z0-9]+)*",  # each iteration starts with a separator its parts cannot take
        "(?:-[a-z]+)*-x",
        "[a-z]+_[0-9]{1,4}",
        r"^l\d+-\w+$",
        "lane-[a-z]{2,8}-[0-9]+",
        "(?:ab|cd)[a-z]+",
        "(?:a|b)+",
        "a+ab+",
    ],
)
def test_patterns_that_cannot_backtrack_without_bound_are_accepted(pattern: str) -> None:
    check_lane_pattern(pattern)


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("l([0-9]+)+-[a-z0-9]+", "two variable parts in a row"),
        ("(a*)*", "two variable parts in a row"),
        (r"(?:\w+\s?)+", "two variable parts in a row"),
        ("(.*a){3}", "two variable parts in a row"),
        (r"\d+\d+", "two variable parts in a row"),
        (r"\d+\d\d+", "two variable parts in a row"),
        ("l[0-9]+-?[a-z0-9]+", "two variable parts in a row"),
        ("(?:a?){30}a{30}", "two variable parts in a row"),
        ("(a|ab)+", "under a repetition"),
        ("(?:ab|ac|a)*", "under a repetition"),
        ("(?:xa|xb|ya|xc)+", "under a repetition"),
        (r"(a)\1", "back-reference"),
        ("(?=l)l[0-9]+", "look-ahead"),
        ("(?i)l[0-9]+", "inline flags"),
        ("(?i:l)[0-9]+", "inline flags"),
        ("l" * (MAX_LENGTH + 1), f"longer than {MAX_LENGTH}"),
    ],
)
def test_shapes_that_backtrack_without_bound_are_refused_with_the_reason(pattern: str, why: str) -> None:
    with pytest.raises(UnsafePattern, match=re.escape(why)):
        check_lane_pattern(pattern)


CLASSES = st.sampled_from(["[0-9]", "[a-z]", "[a-z0-9]", r"\d", r"\w", "[a-f0-9]", "x", "."])
QUANT = st.sampled_from(["+", "*", "{1,5}", "{2,}"])


@settings(max_examples=150, deadline=None)
@given(CLASSES, QUANT, QUANT, st.sampled_from(["({0}{1}){2}", "(?:{0}{1}){2}", "(?:{0}{1}-?){2}", "{0}{1}{0}{2}"]))
def test_a_repeat_that_can_run_into_itself_is_always_refused(atom: str, inner: str, outer: str, shape: str) -> None:
    """Property: a quantified part directly inside (or directly after) another quantified
    part over the same characters is refused, whatever the characters and quantifiers."""
    with pytest.raises(UnsafePattern):
        check_lane_pattern(shape.format(atom, inner, outer))


SEPARATORS = st.sampled_from(["-", "_", ":", "/"])
WORDS = st.sampled_from(["[a-z]", "[0-9]", "[a-z0-9]", r"\d"])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(WORDS, st.sampled_from(["+", "*", "{1,5}"])), min_size=1, max_size=5),
    SEPARATORS,
    st.booleans(),
    st.text("abc", max_size=2),
)
def test_parts_kept_apart_by_separators_are_accepted_and_match_their_ids(
    parts: list[tuple[str, str]], separator: str, tail_repeats: bool, prefix: str
) -> None:
    """Property: literal-separated repeated classes (how lane ids look) are accepted, still
    find a lane id built from them, and search adversarial text to the end (a pattern the
    checker let through that backtracked exponentially would hang here)."""
    body = separator.join(f"{word}{quant}" for word, quant in parts)
    pattern = f"{prefix}{body}(?:{separator}[a-z]+)*" if tail_repeats else prefix + body
    check_lane_pattern(pattern)
    example = prefix + separator.join("k" if word == "[a-z]" else "7" for word, _ in parts)
    assert re.fullmatch(pattern, example), (pattern, example)
    adversarial = (prefix + "7k" * 300 + separator) * 10 + "!"
    assert isinstance(list(re.finditer(pattern, adversarial)), list)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab()[]{}*+?|\\-.^$:,0-9dws", max_size=30))
def test_any_pattern_is_judged_or_refused_never_an_error(pattern: str) -> None:
    """Property: whatever compiles is accepted or refused with UnsafePattern; a policy
    with it is a policy or one PolicyError."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # re's own notes on "[[" and the like
        try:
            re.compile(pattern)
        except re.error:
            with pytest.raises(PolicyError):
                parse_policy(POLICY + f"lane_pattern: {pattern!r}\n".replace("\\\\", "\\"))
            return
        with contextlib.suppress(UnsafePattern):
            check_lane_pattern(pattern)
