"""Index every settlement event by its settlement id, in place of the terminal-events-only
index: ``lanekeeper settlement ID`` (a dispute's trace) reads all of one settlement's
events, and without it that was a scan of every stored event. Partial: events without a
settlement id (prices, queue depths, canaries, batches) are not indexed, so the cost on
ingest is one index entry per settlement event instead of one per settlement.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None
TERMINAL = sa.text("kind IN ('settlement.finalized', 'settlement.failed')")
SETTLEMENT_EVENT = sa.text("settlement_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_terminal_settlement")
        batch_op.create_index(
            "ix_events_settlement_id", ["settlement_id"], postgresql_where=SETTLEMENT_EVENT, sqlite_where=SETTLEMENT_EVENT
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_settlement_id")
        batch_op.create_index(
            "ix_events_terminal_settlement", ["settlement_id"], postgresql_where=TERMINAL, sqlite_where=TERMINAL
        )
