"""Lanes as wide as the contract allows (v1.1: ids and lanes up to 200 characters).

A 65-character lane was valid by the contract and failed PostgreSQL's VARCHAR(64), losing
the whole batch it came in. SQLite does not enforce lengths, but its schema is brought in
line too (a table copy), so the store's declared shape is the same on both.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None
LANE_COLUMNS = (("events", False), ("alerts", True), ("actions", False), ("lane_status", False))


def _alter(width: int) -> None:
    for table, nullable in LANE_COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("lane", type_=sa.String(length=width), existing_nullable=nullable)


def upgrade() -> None:
    _alter(200)


def downgrade() -> None:
    _alter(64)
