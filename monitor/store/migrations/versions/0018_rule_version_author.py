"""rule_versions.author: who saved a version from the console (None: loaded from disk)

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rule_versions", sa.Column("author", sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rule_versions") as batch:
        batch.drop_column("author")
