"""members.away_since (when an AWAY began) and overrides.cover_id (the COVER an override came from)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callout.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the two columns; an AWAY already running is taken to have begun now (its start is unknown)."""
    op.add_column("members", sa.Column("away_since", callout.models.UTCDateTime(), nullable=True))
    op.execute("UPDATE members SET away_since = CURRENT_TIMESTAMP WHERE away_until IS NOT NULL")
    with op.batch_alter_table("overrides") as batch:
        batch.add_column(sa.Column("cover_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_overrides_cover_id", "requests", ["cover_id"], ["id"])


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("overrides") as batch:
        batch.drop_constraint("fk_overrides_cover_id", type_="foreignkey")
        batch.drop_column("cover_id")
    op.drop_column("members", "away_since")
