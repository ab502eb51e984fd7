"""requests.told_unrelayed: the requester was told their texts reach no peer until one has the request

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the flag, false: a requester of an open request is told at their next text."""
    op.add_column(
        "requests", sa.Column("told_unrelayed", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    """Drop the column (SQLite 3.35 and later drop a column in place)."""
    op.drop_column("requests", "told_unrelayed")
