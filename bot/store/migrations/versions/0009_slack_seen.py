"""Slack requests and events already taken, shared by every replica.

The replay guard lived in each process: a replayed request sent to another replica within
bolt's five-minute timestamp tolerance was taken again (issue 20). A key's first insert
wins on every replica at once; rows older than the tolerance are pruned.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_seen",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("seen_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_slack_seen")),
    )
    op.create_index("ix_slack_seen_seen_at", "slack_seen", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_slack_seen_seen_at", table_name="slack_seen")
    op.drop_table("slack_seen")
