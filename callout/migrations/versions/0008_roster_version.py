"""teams.roster_version: counted up by the database on every change to a team's members or overrides

Each process keeps a team's roster in memory for as long as this number stays the same
(`callout.lineup`), so a change made in any process, by any code path, is seen by all of them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns the in-memory roster holds: a change to any other column of members leaves it valid.
MEMBER_COLUMNS = "team_id, name, phone, role, skills, active, position, away_until, opted_out"
OVERRIDE_COLUMNS = "team_id, member_id, starts_at, ends_at"
TABLES = {"members": MEMBER_COLUMNS, "overrides": OVERRIDE_COLUMNS}

POSTGRES_FUNCTION = """
CREATE FUNCTION callout_roster_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE teams SET roster_version = roster_version + 1 WHERE id = OLD.team_id;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.team_id IS DISTINCT FROM OLD.team_id THEN
        UPDATE teams SET roster_version = roster_version + 1 WHERE id = NEW.team_id;
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    """Add the column and the triggers that count it up."""
    op.add_column("teams", sa.Column("roster_version", sa.Integer(), server_default="0", nullable=False))
    if op.get_context().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        for table, columns in TABLES.items():
            op.execute(
                f"CREATE TRIGGER {table}_roster_version AFTER INSERT OR DELETE OR UPDATE OF {columns}"
                f" ON {table} FOR EACH ROW EXECUTE FUNCTION callout_roster_changed()"
            )
        return
    bump = "UPDATE teams SET roster_version = roster_version + 1 WHERE id = {row}.team_id;"
    for table, columns in TABLES.items():
        op.execute(
            f"CREATE TRIGGER {table}_roster_version_insert AFTER INSERT ON {table}"
            f" BEGIN {bump.format(row='NEW')} END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_roster_version_delete AFTER DELETE ON {table}"
            f" BEGIN {bump.format(row='OLD')} END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_roster_version_update AFTER UPDATE OF {columns} ON {table}"
            f" BEGIN {bump.format(row='OLD')}"
            f" UPDATE teams SET roster_version = roster_version + 1"
            f" WHERE id = NEW.team_id AND NEW.team_id IS NOT OLD.team_id; END"
        )


def downgrade() -> None:
    """Drop the triggers and the column."""
    if op.get_context().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_roster_version ON {table}")
        op.execute("DROP FUNCTION callout_roster_changed()")
    else:
        for table in TABLES:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER {table}_roster_version_{event}")
    op.drop_column("teams", "roster_version")
