"""console_logins: the console's sessions kept in the database, so that logging out (or a new password, a
removal, a change of role or team) ends them, whatever cookie a browser still holds

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from callout.models import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table (sessions opened before it, in cookies only, end: their users log in again)."""
    op.create_table(
        "console_logins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_console_logins_user_id", "console_logins", ["user_id"])
    op.create_index("ix_console_logins_seen_at", "console_logins", ["seen_at"])


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("console_logins")
