"""``/tabletop start SCENARIO [SPEED] [@role=@person ...]``: who plays which role, read from
the command's text as Slack sends it (mentions escaped to user ids)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.tabletop.roles import RolesError, assignment_text, parse_start

roles = st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True)
users = st.from_regex(r"U[A-Z0-9]{4,12}", fullmatch=True)
names = st.from_regex(r"[a-z.]{1,15}", fullmatch=True)


@given(st.dictionaries(roles, st.tuples(users, names), max_size=5), st.one_of(st.none(), st.floats(0.5, 3600)))
def test_assignments_read_back_as_written(people: dict[str, tuple[str, str]], speed: float | None) -> None:
    words = ["drill", *([repr(speed)] if speed is not None else [])]
    words += [f"@{role}=<@{user}|{name}>" for role, (user, name) in people.items()]
    line = parse_start(words)
    assert (line.scenario, line.speed) == ("drill", speed)
    assert line.people == {role: user for role, (user, _) in people.items()}
    assert parse_start(["drill", *assignment_text(line.people).split()]).people == line.people


@given(st.lists(st.text(max_size=30), max_size=4))
def test_any_text_is_read_or_refused_with_a_reason_never_a_crash(words: list[str]) -> None:
    clean = ["drill", *[w for w in words if w.strip() and not any(c.isspace() for c in w)]]
    try:
        line = parse_start(clean)
    except RolesError as exc:
        reason = str(exc)
    else:
        reason = ""
        assert all(user.startswith(("U", "W")) for user in line.people.values())
    assert reason or len(clean) == 1 or line.people or line.speed is not None


@pytest.mark.parametrize(
    ("words", "problem"),
    [
        (["d", "fast"], "Speed `fast` is not a number"),
        (["d", "@ic=@alice"], "`@alice` is not a person: mention them"),
        (["d", "60", "ic"], "`ic` is not a role assignment: write `@role=@person`"),
        (["d", "@IC=<@U0ALICE>"], "`IC` is not a role name"),
        (["d", "@ic=<@U0A>", "@ic=<@U0B>"], "The role `ic` is given twice"),
        ([], "needs a scenario"),
    ],
)
def test_a_bad_start_line_says_which_word_and_how_to_write_it(words: list[str], problem: str) -> None:
    with pytest.raises(RolesError, match=problem.replace("[", r"\[").replace("(", r"\(")):
        parse_start(words)


def test_a_display_name_is_never_taken_for_a_person() -> None:
    assert parse_start(["d", "@ic=<@U0ALICE|alice>"]).people == {"ic": "U0ALICE"}
    with pytest.raises(RolesError):
        parse_start(["d", "@ic=<@alice>"])
