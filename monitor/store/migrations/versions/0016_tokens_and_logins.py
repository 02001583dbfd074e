"""api_tokens: scope and expiry; login_throttle: failed logins per account and address

Tokens issued before this revision keep acting with their user's whole role (scope ``admin``) and
never expire, as before; ``monitor users tokens NAME`` lists them. Live tokens of users who are
disabled now are revoked, so enabling such a user later revives none of them.

Revision ID: 0016
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "api_tokens", sa.Column("scope", sa.String(length=8), nullable=False, server_default="admin")
    )
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    tokens = sa.table(
        "api_tokens",
        sa.column("user_id", sa.Integer()),
        sa.column("revoked_at", sa.DateTime(timezone=True)),
    )
    users = sa.table("users", sa.column("id", sa.Integer()), sa.column("disabled", sa.Boolean()))
    op.execute(
        tokens.update()
        .where(tokens.c.revoked_at.is_(None))
        .where(tokens.c.user_id.in_(sa.select(users.c.id).where(users.c.disabled.is_(True))))
        .values(revoked_at=datetime.now(UTC))
    )
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=120), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_login_throttle_last_failed_at", "login_throttle", ["last_failed_at"])


def downgrade() -> None:
    op.drop_index("ix_login_throttle_last_failed_at", table_name="login_throttle")
    op.drop_table("login_throttle")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("scope")
