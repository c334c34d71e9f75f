"""Contract §5 ``content.hidden``: a format or control character other than newline and
tab in a free text is refused (issue 15: a U+202E override around a number passed
grounding — the validator read 25, Slack showed 52)."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from validators import Checker, check_proposal
from validators.events import Event
from validators.hidden import hidden_characters

HIDDEN = {
    "right-to-left override": "\u202e",
    "pop directional formatting": "\u202c",
    "left-to-right isolate": "\u2066",
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "byte-order mark": "\ufeff",
    "soft hyphen": "\u00ad",
    "NUL": "\x00",
    "unit separator": "\x1f",
    "carriage return": "\r",
    "DEL": "\x7f",
    "next line": "\x85",
}


def check(doc: dict[str, Any], events: list[Event], checker: Checker) -> set[tuple[str, str]]:
    return {(v.code, v.path) for v in check_proposal(doc, events, checker).violations}


@pytest.mark.parametrize("char", HIDDEN.values(), ids=HIDDEN.keys())
def test_a_hidden_character_in_any_text_is_content_hidden(
    char: str, valid_doc: dict[str, Any], example_events: list[Event], checker: Checker
) -> None:
    doc = valid_doc
    doc["headline"] = doc["headline"].replace("25", f"{char}25")
    doc["claims"][1]["text"] += char
    doc["actions"][0]["reason"] = char + doc["actions"][0]["reason"]
    found = check(doc, example_events, checker)
    assert {("content.hidden", path) for path in ("/headline", "/claims/1/text", "/actions/0/reason")} <= found
    [violation] = [
        v for v in check_proposal(doc, example_events, checker).violations if v.code == "content.hidden" and v.path == "/headline"
    ]
    assert violation.details["char"] == f"U+{ord(char):04X}"
    assert "what is checked is not what people see" in violation.message


def test_newline_and_tab_are_not_hidden(valid_doc: dict[str, Any], example_events: list[Event], checker: Checker) -> None:
    valid_doc["claims"][0]["text"] += "\n\tsee the timeline"
    assert not {code for code, _ in check(valid_doc, example_events, checker) if code == "content.hidden"}


def test_the_override_around_a_figure_is_reported_where_it_is(
    valid_doc: dict[str, Any], example_events: list[Event], checker: Checker
) -> None:
    valid_doc["claims"][0]["text"] = "\u202e25\u202c settlements on l2-arb failed"
    [hidden] = [v for v in check_proposal(valid_doc, example_events, checker).violations if v.code == "content.hidden"]
    assert (hidden.path, hidden.details["position"]) == ("/claims/0/text", 0)
    assert "RIGHT-TO-LEFT OVERRIDE" in hidden.message
    assert "(and 1 more)" in hidden.message


_CONTROL_OR_FORMAT = st.characters(categories=("Cf", "Cc")).filter(lambda c: c not in "\n\t")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30), _CONTROL_OR_FORMAT, st.text(max_size=30))
def test_any_format_or_control_character_anywhere_is_found(before: str, char: str, after: str) -> None:
    text = before + char + after
    assert (len(before), char) in hidden_characters(text)


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cf", "Cc", "Cs")) | st.sampled_from("\n\t"), max_size=60))
def test_text_without_them_has_none(text: str) -> None:
    assert hidden_characters(text) == []
    assert all(unicodedata.category(c) not in ("Cf", "Cc") or c in "\n\t" for c in text)
