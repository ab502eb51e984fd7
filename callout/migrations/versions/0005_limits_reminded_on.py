"""members.limits_reminded_on: the day a member who accepted was last reminded of the confidentiality limits

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column, empty: every member is reminded at their next acceptance."""
    op.add_column("members", sa.Column("limits_reminded_on", sa.Date(), nullable=True))


def downgrade() -> None:
    """Drop the column (SQLite 3.35 and later drop a column in place)."""
    op.drop_column("members", "limits_reminded_on")
