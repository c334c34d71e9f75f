"""One Slack thread per incident: a short number people type (``#7``), what the card shows
(kept as data, so any process can draw it again after an ack or a resolution), and how far
the incident's timeline has been told in its thread.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("card", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("thread_entry_id", sa.Integer(), nullable=False, server_default="0"))
    incidents = sa.table("incidents", sa.column("incident_id", sa.String), sa.column("number", sa.Integer))
    bind = op.get_bind()
    ordered = bind.execute(sa.text("SELECT incident_id FROM incidents ORDER BY opened_at, incident_id")).scalars().all()
    for number, incident_id in enumerate(ordered, start=1):
        bind.execute(sa.update(incidents).where(incidents.c.incident_id == incident_id).values(number=number))
    # Entries already in the store were never told in a thread, and never will be.
    bind.execute(sa.text("UPDATE incidents SET thread_entry_id = COALESCE((SELECT MAX(entry_id) FROM incident_timeline), 0)"))
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.alter_column("number", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_incidents_number"), ["number"])


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_incidents_number"), type_="unique")
        batch_op.drop_column("thread_entry_id")
        batch_op.drop_column("card")
        batch_op.drop_column("number")
