"""incident timeline: step changes, notes, overdue notices, reminders

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("step_key", sa.String(length=100), nullable=True),
        sa.Column("by", sa.String(length=120), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incident_events") as batch:
        batch.create_index("ix_incident_events_incident", ["incident_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident_events") as batch:
        batch.drop_index("ix_incident_events_incident")
    op.drop_table("incident_events")
