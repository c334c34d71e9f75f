"""Actions: suggested, voted on, decided and executed, each step a compare-and-set in the store."""

from bot.actions.approvers import Approvers, Directory, DirectoryError, SlackDirectory
from bot.actions.lifecycle import Actions
from bot.actions.model import (
    DECIDED,
    PAGE_PREFIX,
    UNKNOWN_OUTCOME,
    ActionError,
    ActionState,
    Ballot,
    Decision,
    Status,
    Vote,
    is_page,
)
from bot.actions.webhook import EXERCISE, RUNBOOK, Executor, Outcome, Webhook, sign

__all__ = [
    "DECIDED",
    "EXERCISE",
    "PAGE_PREFIX",
    "RUNBOOK",
    "UNKNOWN_OUTCOME",
    "ActionError",
    "ActionState",
    "Actions",
    "Approvers",
    "Ballot",
    "Decision",
    "Directory",
    "DirectoryError",
    "Executor",
    "Outcome",
    "SlackDirectory",
    "Status",
    "Vote",
    "Webhook",
    "is_page",
    "sign",
]
