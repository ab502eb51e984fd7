"""The director's console: users, login failures, the audit log, stored secrets, who opened a page

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from callout.models import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the console's tables and link a request to the console user who opened it."""
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("totp_secret_enc", sa.Text(), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("password_changed_at", UTCDateTime(), nullable=False),
        sa.Column("last_login_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_index("ix_users_team_id", "users", ["team_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failures_key_at", "login_failures", ["key", "at"])
    op.create_index("ix_login_failures_at", "login_failures", ["at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_team_at", "audit_log", ["team_id", "at"])
    op.create_table(
        "stored_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # A plain ADD COLUMN (see 0002): SQLite takes the REFERENCES clause of a new nullable column in place,
    # though alembic cannot say it there.
    if op.get_context().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE requests ADD COLUMN opened_by_user_id INTEGER"
            " REFERENCES users (id)"
        )
    else:
        op.add_column("requests", sa.Column("opened_by_user_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            None, "requests", "users", ["opened_by_user_id"], ["id"]
        )
    op.create_index("ix_requests_opened_by_user_id", "requests", ["opened_by_user_id"])


def downgrade() -> None:
    """Drop what upgrade made."""
    op.drop_index("ix_requests_opened_by_user_id", "requests")
    if op.get_context().dialect.name != "sqlite":
        op.drop_constraint("requests_opened_by_user_id_fkey", "requests", type_="foreignkey")
    op.drop_column("requests", "opened_by_user_id")
    op.drop_table("stored_secrets")
    op.drop_table("audit_log")
    op.drop_table("login_failures")
    op.drop_table("users")
