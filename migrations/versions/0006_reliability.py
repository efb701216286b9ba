"""Reliability: sweeps that completed with errors and what they could not check; audit intents.

``sweeps.status`` grows to 32 characters ("completed_with_errors") and ``sweeps.not_checked``
counts the meetings Zoom would not give or change after the retries. ``audit_log.state`` is
"intent" for an entry written before zoomguard asked Zoom for a change and not yet completed
(NULL for every completed entry, so the existing rows need no update); ``audit_log.event_id``
names the inbox event whose handler made the change, so a re-run of it finds it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sweeps") as batch:
        batch.alter_column(
            "status",
            existing_type=sa.String(length=16),
            type_=sa.String(length=32),
            existing_nullable=False,
        )
        batch.add_column(
            sa.Column("not_checked", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("state", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("event_id", sa.BigInteger(), nullable=True))
        batch.create_index(batch.f("ix_audit_log_state"), ["state"])
        batch.create_index(batch.f("ix_audit_log_event_id"), ["event_id"])


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index(batch.f("ix_audit_log_event_id"))
        batch.drop_index(batch.f("ix_audit_log_state"))
        batch.drop_column("event_id")
        batch.drop_column("state")
    # A completed_with_errors sweep reads as completed in the older schema's 16 characters.
    op.execute("UPDATE sweeps SET status = 'completed' WHERE status = 'completed_with_errors'")
    with op.batch_alter_table("sweeps") as batch:
        batch.drop_column("not_checked")
        batch.alter_column(
            "status",
            existing_type=sa.String(length=32),
            type_=sa.String(length=16),
            existing_nullable=False,
        )
