"""Schema migrations: a database an older Callout made is brought up to date, its data kept and completed."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, text

from callout.db import MIGRATIONS, make_engine, upgrade


def migrate_to(url: str, revision: str) -> None:
    engine = make_engine(url)
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def insert(db: Connection, table: str, **row: Any) -> None:
    columns = ", ".join(row)
    values = ", ".join(f":{name}" for name in row)
    db.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), row)


def test_0002_works_out_declined_by_all_from_the_pages_the_purge_will_delete(new_database: str) -> None:
    migrate_to(new_database, "0001")
    engine = make_engine(new_database)
    opened = "2026-03-10 15:00:00"
    try:
        with engine.begin() as db:
            insert(db, "teams", id=1, slug="odessa", name="Odessa", support_number="+14325550100",
                   timezone="America/Chicago", handoff="07:00")  # fmt: skip
            insert(db, "members", id=1, team_id=1, name="Rivera", phone="+14325550101", role="peer",
                   skills="[]", active=True, position=0, opted_out=False)  # fmt: skip
            requests = (
                ("AAAA", "exhausted", "declined"),
                ("CCCC", "exhausted", "timeout"),
                ("DDDD", "open", "declined"),
            )
            for n, (code, status, page) in enumerate(requests, start=1):
                exhausted = "2026-03-10 15:30:00" if status == "exhausted" else None
                insert(db, "requests", id=n, team_id=1, code=code, kind="support", channel="sms",
                       status=status, opened_at=opened, step=1, exhausted_at=exhausted, overtime=False,
                       tally_dirty=False)  # fmt: skip
                insert(db, "pages", id=n, request_id=n, member_id=1, step=1, tier="peer", paged_at=opened,
                       state=page)  # fmt: skip
        upgrade(engine)
        with engine.connect() as db:
            flags = {
                code: bool(flag)
                for code, flag in db.execute(text("SELECT code, declined_by_all FROM requests"))
            }
        assert flags == {"AAAA": True, "CCCC": False, "DDDD": False}
    finally:
        engine.dispose()


def test_the_migrations_build_exactly_the_schema_the_models_describe(new_database: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from callout.models import Base

    engine = make_engine(new_database)
    try:
        upgrade(engine)
        with engine.connect() as db:
            assert compare_metadata(MigrationContext.configure(db), Base.metadata) == []
    finally:
        engine.dispose()
