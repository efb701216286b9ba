"""Occurrences of recurring meetings: those known to have settings of their own, and each
meeting's rotation cursor (``zoomguard.service.occurrences``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# zoomguard.store.base.UTCDateTime stores exactly this type.
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "remembered_occurrences",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.String(length=64), nullable=False),
        sa.Column("occurrence_id", sa.String(length=64), nullable=False),
        sa.Column("noted_by", sa.String(length=16), nullable=False),
        sa.Column("noted_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint(
            "account_id", "meeting_id", "occurrence_id", name=op.f("pk_remembered_occurrences")
        ),
    )
    op.create_table(
        "occurrence_cursors",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.String(length=64), nullable=False),
        sa.Column("occurrence_id", sa.String(length=64), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "meeting_id", name=op.f("pk_occurrence_cursors")),
    )


def downgrade() -> None:
    op.drop_table("occurrence_cursors")
    op.drop_table("remembered_occurrences")
