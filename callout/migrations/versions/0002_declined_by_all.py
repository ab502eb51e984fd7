"""requests.declined_by_all: the outcome kept once the purge deletes a request's pages

Also adds, on PostgreSQL, the teams.anchor_member_id foreign key that 0001 declared with use_alter but never
created there (SQLite got it inline).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column, and work it out for the requests already exhausted from their pages."""
    # A plain ADD COLUMN, not a batch: on SQLite a batch rebuilds the table, and dropping the old one
    # fails while pages refer to it (foreign keys are on).
    op.add_column(
        "requests", sa.Column("declined_by_all", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.execute(
        """
        UPDATE requests SET declined_by_all = (
            EXISTS (SELECT 1 FROM pages WHERE pages.request_id = requests.id)
            AND NOT EXISTS (
                SELECT 1 FROM pages WHERE pages.request_id = requests.id AND pages.state <> 'declined'
            )
        )
        WHERE exhausted_at IS NOT NULL AND kind <> 'debrief'
        """
    )
    if op.get_context().dialect.name == "postgresql":
        op.create_foreign_key("fk_team_anchor_member", "teams", "members", ["anchor_member_id"], ["id"])


def downgrade() -> None:
    """Drop the column (SQLite 3.35 and later drop a column in place), and the foreign key 0001 lacked."""
    if op.get_context().dialect.name == "postgresql":
        op.drop_constraint("fk_team_anchor_member", "teams", type_="foreignkey")
    op.drop_column("requests", "declined_by_all")
