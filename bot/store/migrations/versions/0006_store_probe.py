"""A one-row table the health check writes to: whether the store takes a write.

``/healthz`` reported 200 while the store answered reads but refused writes (a read-only
PostgreSQL, a full disk, SQLite's lock held by a stuck writer). A real write, at most every
30 seconds, is the only honest probe; it needs a row of its own.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_probe",
        sa.Column("probe_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("probe_id", name=op.f("pk_store_probe")),
    )


def downgrade() -> None:
    op.drop_table("store_probe")
