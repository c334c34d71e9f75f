"""Who may vote: the policy's approvers, each a Slack user id (U…, W…) or a user group
(S…) whose members Slack lists (usergroups.users.list), cached for a few minutes.

A group Slack cannot list right now counts with the members it had when last listed; one
never listed refuses the vote with the reason, so a Slack hiccup never lets in someone who
is not an approver and is never silent about keeping out someone who is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.actions.model import ActionError

log = logging.getLogger(__name__)
GROUP_TTL_S = 300.0


class DirectoryError(RuntimeError):
    """A user group's members could not be listed; the message says why."""


class Directory(Protocol):
    def members(self, group_id: str) -> frozenset[str]:
        """The user ids in ``group_id``; raises ``DirectoryError`` when it cannot tell."""
        ...


class SlackDirectory:
    """Groups as Slack lists them (scope ``usergroups:read``)."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def members(self, group_id: str) -> frozenset[str]:
        try:
            answer = self._client.usergroups_users_list(usergroup=group_id)
        except (SlackApiError, SlackClientError, OSError) as exc:
            raise DirectoryError(f"Slack did not list user group {group_id}: {exc}") from None
        users = answer.get("users")
        if not isinstance(users, list):
            raise DirectoryError(f"Slack's answer for user group {group_id} holds no user list")
        return frozenset(str(u) for u in users)


def is_group(entry: str) -> bool:
    return entry.startswith("S")


class Approvers:
    def __init__(
        self, entries: Sequence[str], directory: Directory | None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.users = frozenset(e for e in entries if not is_group(e))
        self.groups = tuple(e for e in entries if is_group(e))
        self._directory, self._monotonic = directory, monotonic
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def check(self, user_id: str) -> None:
        """Nothing when ``user_id`` may vote; else ``ActionError`` saying why not."""
        if user_id in self.users:
            return
        unlisted: list[str] = []
        for group in self.groups:
            members = self._members(group)
            if members is None:
                unlisted.append(group)
            elif user_id in members:
                return
        if unlisted:
            raise ActionError(
                f"could not check whether <@{user_id}> is in approver group {', '.join(unlisted)} (Slack did not list it); "
                "try again in a minute, or ask an approver named in the policy"
            )
        raise ActionError(f"<@{user_id}> is not an approver in the policy; ask one of the on-call approvers")

    def _members(self, group: str) -> frozenset[str] | None:
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(group)
        if cached is not None and now - cached[0] < GROUP_TTL_S:
            return cached[1]
        if self._directory is None:
            log.warning("approver group %s cannot be listed: Slack is not configured", group)
            return None
        try:
            members = self._directory.members(group)
        except DirectoryError as exc:
            log.warning("%s; %s", exc, "using the members last listed" if cached else "nobody of it can vote now")
            return cached[1] if cached else None
        with self._lock:
            self._cache[group] = (now, members)
        return members
