"""covers (the shift a COVER asks about) and members.test_confirmed_at (the last TEST page confirmed)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callout.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table and add the column."""
    op.add_column("members", sa.Column("test_confirmed_at", callout.models.UTCDateTime(), nullable=True))
    op.create_table(
        "covers",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("asker_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", callout.models.UTCDateTime(), nullable=False),
        sa.Column("ends_at", callout.models.UTCDateTime(), nullable=False),
        sa.Column("alert_at", callout.models.UTCDateTime(), nullable=False),
        sa.Column("alerted_at", callout.models.UTCDateTime(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["asker_id"], ["members.id"]),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"]),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_index("ix_covers_state_alert", "covers", ["state", "alert_at"])
    op.create_index(
        "uq_covers_open_start",
        "covers",
        ["team_id", "starts_at"],
        unique=True,
        sqlite_where=sa.text("state = 'open'"),
        postgresql_where=sa.text("state = 'open'"),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_index("uq_covers_open_start", table_name="covers")
    op.drop_index("ix_covers_state_alert", table_name="covers")
    op.drop_table("covers")
    op.drop_column("members", "test_confirmed_at")
