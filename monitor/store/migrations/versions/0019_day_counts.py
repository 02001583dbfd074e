"""day_counts: items per (local day, platform, product, SKU, sentiment) for the reports (#18)

Backfilled from the stored items in the default timezone (Asia/Shanghai); a daemon configured with
another one counts again before its first report (monitor.store.rollup.ensure).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "day_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("platform", sa.String(length=40), nullable=False),
        sa.Column("product", sa.String(length=300), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("sentiment", sa.String(length=8), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "platform", "product", "sku", "sentiment"),
    )
    op.create_table(
        "rollup_state",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    from monitor.store import rollup

    rollup.rebuild(op.get_bind(), ZoneInfo(rollup.DEFAULT_TIMEZONE))


def downgrade() -> None:
    op.drop_table("rollup_state")
    op.drop_table("day_counts")
