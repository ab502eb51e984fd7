"""scan_notes: until when a periodic scan has nothing to do for a team, and on what roster

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 23:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callout.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table (empty: each scan works every team out once, then notes it)."""
    op.create_table(
        "scan_notes",
        sa.Column("scan", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("since", callout.models.UTCDateTime(), nullable=False),
        sa.Column("until", callout.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("scan", "team_id"),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("scan_notes")
