"""detector_state: elevated_since, the start of a scope's slow rise (drift) for the console

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("detector_state") as batch:
        batch.add_column(sa.Column("elevated_since", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_detector_state_elevated_since", ["elevated_since"])


def downgrade() -> None:
    with op.batch_alter_table("detector_state") as batch:
        batch.drop_index("ix_detector_state_elevated_since")
        batch.drop_column("elevated_since")
