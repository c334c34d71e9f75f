"""The outbox's queue, kept in the store: a message queued is a message that will be sent,
whatever happens to the process that queued it.

One row per (incident, purpose). Queueing a newer version of a message that still waits
replaces it in place (its turn is kept, its ``version`` goes up), so a card updated five
times while Slack was down is one call when Slack is back, not five. The summary process
queues its card and its actions in the same transaction that marks the summary done, so a
crash leaves either all of them queued or the summary still wanted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.slack.blocks import Message
from bot.store.tables import outbox

BATCH = 200
"""Rows looked at per round: far more than Slack lets out in the time a round takes."""


@dataclass(frozen=True, slots=True)
class Queued:
    outbox_id: int
    incident_id: str
    purpose: str
    message: Message
    version: int
    attempted_at: datetime | None

    @property
    def key(self) -> tuple[str, str]:
        return self.incident_id, self.purpose


def enqueue(conn: Connection, incident_id: str, purpose: str, message: Message, now: datetime) -> None:
    """Queue ``message`` as the latest version of (incident, purpose)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    body = {"text": message.text, "blocks": message.blocks, "broadcast": message.broadcast}
    statement = dialect.insert(outbox).values(incident_id=incident_id, purpose=purpose, message=body, version=1, queued_at=now)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[outbox.c.incident_id, outbox.c.purpose],
            set_={"message": body, "version": outbox.c.version + 1},
        )
    )


def waiting(conn: Connection, limit: int = BATCH) -> list[Queued]:
    """The oldest queued rows, in the order they were first queued."""
    rows = conn.execute(select(outbox).order_by(outbox.c.outbox_id).limit(limit)).mappings()
    return [
        Queued(
            r["outbox_id"],
            r["incident_id"],
            r["purpose"],
            Message(r["message"]["text"], r["message"]["blocks"], r["message"].get("broadcast", False)),
            r["version"],
            r["attempted_at"],
        )
        for r in rows
    ]


def queued(conn: Connection, incident_id: str, purpose: str) -> bool:
    found = conn.scalar(select(outbox.c.outbox_id).where(outbox.c.incident_id == incident_id, outbox.c.purpose == purpose))
    return found is not None


def depth(conn: Connection) -> int:
    """How many messages wait (the ``lanekeeper_outbox_depth`` gauge)."""
    return int(conn.scalar(select(func.count()).select_from(outbox)) or 0)


def mark_attempted(conn: Connection, row: Queued, now: datetime) -> None:
    """Before a post goes out: if the answer is never recorded, Slack may hold the message."""
    conn.execute(update(outbox).where(outbox.c.outbox_id == row.outbox_id).values(attempted_at=now))


def done(conn: Connection, row: Queued) -> None:
    """``row`` was delivered (or refused for good): gone, unless a newer version came
    meanwhile, which then waits as an edit of the message just posted."""
    gone = conn.execute(delete(outbox).where(outbox.c.outbox_id == row.outbox_id, outbox.c.version == row.version))
    if not gone.rowcount:
        conn.execute(update(outbox).where(outbox.c.outbox_id == row.outbox_id).values(attempted_at=None))
