"""The incident engine on a noisy day: an incident's flaps (when it was reopened), how far
its escalation went while nobody acknowledged, and lanes silenced from Slack.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flaps", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("escalation_step", sa.Integer(), nullable=False, server_default=sa.text("0")))
        batch_op.add_column(sa.Column("escalation_since", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "lane_silences",
        sa.Column("silence_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lane", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=64), nullable=True),
        sa.Column("alerts_muted", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("silence_id", name=op.f("pk_lane_silences")),
    )
    op.create_index(op.f("ix_lane_silences_lane_ends_at"), "lane_silences", ["lane", "ends_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_lane_silences_lane_ends_at"), table_name="lane_silences")
    op.drop_table("lane_silences")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("escalation_since")
        batch_op.drop_column("escalation_step")
        batch_op.drop_column("flaps")
