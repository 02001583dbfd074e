"""outbox: the structured message (rendered per channel kind at send time) and its event in a column

The title/body/body_format/attachments columns held a message already rendered as Markdown (or
HTML); rows written before this revision are carried over as a message with that text. The event
(firing, reminder …) was only in the idempotency key; it is read from there once, here.

Revision ID: 0012
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Idempotency keys written before this revision: alert-<id>-<event>-<seq>-<channel>,
# incident-<id>-<overdue|checklist|follow>-…, report-…, heartbeat-…, test-…
_INCIDENT = {"overdue": "overdue", "checklist": "checklist", "follow": "follow_up"}
_ALERT_EVENTS = ("firing", "update", "reminder", "escalation", "resolved")


def _event_of(key: str) -> str:
    parts = key.split("-")
    if parts[0] == "alert" and len(parts) > 2 and parts[2] in _ALERT_EVENTS:
        return parts[2]
    if parts[0] == "incident" and len(parts) > 2:
        return _INCIDENT.get(parts[2], "checklist")
    if parts[0] in ("report", "heartbeat", "test"):
        return parts[0]
    return "firing"


def upgrade() -> None:
    outbox = sa.table(
        "outbox",
        sa.column("id", sa.Integer),
        sa.column("idempotency_key", sa.String),
        sa.column("title", sa.Text),
        sa.column("body", sa.Text),
        sa.column("body_format", sa.String),
        sa.column("attachments", sa.JSON),
        sa.column("event", sa.String),
        sa.column("message", sa.JSON),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("event", sa.String(length=20), nullable=False, server_default="firing"))
        batch.add_column(sa.Column("message", sa.JSON(), nullable=False, server_default="{}"))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(
            outbox.c.id,
            outbox.c.idempotency_key,
            outbox.c.title,
            outbox.c.body,
            outbox.c.body_format,
            outbox.c.attachments,
        )
    ).all()
    for row_id, key, title, body, body_format, attachments in rows:
        event = _event_of(key)
        files = attachments if isinstance(attachments, list) else json.loads(attachments or "[]")
        message = {
            "title": title,
            "event": event,
            "text": body if body_format != "html" else "",
            "html": body if body_format == "html" else "",
            "attachments": [
                {"name": f["name"], "content": f["content"], "mime": f.get("mime", "text/markdown")}
                for f in files
            ],
        }
        conn.execute(outbox.update().where(outbox.c.id == row_id).values(event=event, message=message))
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("event", server_default=None)
        batch.alter_column("message", server_default=None)
        batch.drop_column("attachments")
        batch.drop_column("body_format")
        batch.drop_column("body")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("body", sa.Text(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("body_format", sa.String(length=10), nullable=False, server_default="markdown")
        )
        batch.add_column(sa.Column("attachments", sa.JSON(), nullable=False, server_default="[]"))
        batch.drop_column("message")
        batch.drop_column("event")
