"""Who may vote: users by id, user groups by their members, cached; a group Slack cannot
list keeps out everyone it would have let in, and says why."""

from __future__ import annotations

import pytest

from bot.actions import ActionError, Approvers, DirectoryError


class Groups:
    """A user-group directory answering from a dict; ``down`` makes it fail like Slack."""

    def __init__(self, **groups: list[str]) -> None:
        self.groups = {k: frozenset(v) for k, v in groups.items()}
        self.asked = 0
        self.down = False

    def members(self, group_id: str) -> frozenset[str]:
        self.asked += 1
        if self.down or group_id not in self.groups:
            raise DirectoryError(f"Slack did not list user group {group_id}: no_such_subteam")
        return self.groups[group_id]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_users_by_id_and_members_of_a_group_may_vote_nobody_else() -> None:
    groups = Groups(S0LEADS=["U02LEAD"])
    approvers = Approvers(["U01ONCALL", "S0LEADS"], groups)
    approvers.check("U01ONCALL")
    approvers.check("U02LEAD")
    with pytest.raises(ActionError, match=r"^<@U99NOBODY> is not an approver in the policy"):
        approvers.check("U99NOBODY")


def test_a_group_is_listed_once_per_five_minutes() -> None:
    groups, clock = Groups(S0LEADS=["U02LEAD"]), Clock()
    approvers = Approvers(["S0LEADS"], groups, clock)
    for _ in range(5):
        approvers.check("U02LEAD")
    assert groups.asked == 1
    clock.now += 301
    groups.groups["S0LEADS"] = frozenset({"U03NEW"})
    approvers.check("U03NEW")  # a new member counts once the cache is old
    assert groups.asked == 2
    with pytest.raises(ActionError):
        approvers.check("U02LEAD")  # and a removed one no longer does


def test_slack_down_keeps_the_members_last_listed_and_a_group_never_listed_lets_nobody_in() -> None:
    groups, clock = Groups(S0LEADS=["U02LEAD"]), Clock()
    approvers = Approvers(["S0LEADS"], groups, clock)
    approvers.check("U02LEAD")
    groups.down, clock.now = True, clock.now + 301
    approvers.check("U02LEAD")
    fresh = Approvers(["S0LEADS"], groups, clock)
    with pytest.raises(ActionError, match=r"could not check whether <@U02LEAD> is in approver group S0LEADS"):
        fresh.check("U02LEAD")


def test_without_slack_a_group_lets_nobody_in_and_says_so() -> None:
    with pytest.raises(ActionError, match="Slack did not list it"):
        Approvers(["S0LEADS"], None).check("U02LEAD")
