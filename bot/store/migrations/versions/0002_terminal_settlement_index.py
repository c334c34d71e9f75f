"""Index settlement ids of terminal events only (the start-up rebuild's lookup), not of every event.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
TERMINAL = sa.text("kind IN ('settlement.finalized', 'settlement.failed')")


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_settlement_id")
        batch_op.create_index(
            "ix_events_terminal_settlement", ["settlement_id"], postgresql_where=TERMINAL, sqlite_where=TERMINAL
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_terminal_settlement")
        batch_op.create_index("ix_events_settlement_id", ["settlement_id"], unique=False)
