"""Accounts: the data-centre regions the last baseline read, for the dashboard.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of zoomguard.store.base.UTCDateTime's storage type (see 0001).
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("data_center_regions", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("data_center_regions_read_at", TIMESTAMP, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("data_center_regions_read_at")
        batch.drop_column("data_center_regions")
