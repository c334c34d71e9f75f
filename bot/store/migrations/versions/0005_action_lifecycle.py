"""Actions as a state machine: an outcome per action, and at most one open action of a
kind per lane in an incident.

Before, re-running ``/rollback`` reused the action's id and deleted its votes, and every
summary suggested its actions anew, so two open rollbacks of one lane could each be
approved and executed. Open actions (suggested, executing, or approved with the call still
to make) are now unique per (incident, kind, lane); older duplicates are expired here so
the index can be built.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
OPEN = sa.text("status IN ('suggested', 'executing') OR (status = 'approved' AND outcome IS NULL)")


def upgrade() -> None:
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
    # An approval made before this version called the webhook (or handed it to the runbook) at
    # once, unrecorded: it is finished, and only a person can tell what it did. Left approved
    # with no outcome, the first start would take it for a call cut short and make it again.
    op.execute(
        "UPDATE actions SET status = 'unknown', outcome = 'outcome unknown: check the target before acting "
        "(approved before this version recorded what became of an approval)' WHERE status = 'approved'"
    )
    # Keep the newest open action of each (incident, kind, lane); the others can never be decided again.
    op.execute(
        """
        UPDATE actions SET status = 'expired', outcome = 'expired: superseded by a newer suggestion'
        WHERE status IN ('suggested', 'executing') AND EXISTS (
            SELECT 1 FROM actions AS newer
            WHERE newer.incident_id = actions.incident_id AND newer.kind = actions.kind AND newer.lane = actions.lane
              AND newer.status IN ('suggested', 'executing')
              AND (newer.created_at > actions.created_at
                   OR (newer.created_at = actions.created_at AND newer.action_id > actions.action_id))
        )
        """
    )
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_actions_open", ["incident_id", "kind", "lane"], unique=True, postgresql_where=OPEN, sqlite_where=OPEN
        )


def downgrade() -> None:
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index("uq_actions_open")
        batch_op.drop_column("finished_at")
        batch_op.drop_column("started_at")
        batch_op.drop_column("outcome")
