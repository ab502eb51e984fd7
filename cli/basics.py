"""The `db upgrade` and `keygen` commands."""

from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError

from callout import db as database
from callout.crypto import new_key
from cli.group import Context, cli, pass_context


@cli.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Create or migrate the schema to the newest revision, and say which it did."""
    before = _revision_before(ctx)
    engine = ctx.sessions(upgrade=True).kw["bind"]
    after = database.revision(engine)
    if before is None:
        click.echo(f"created the schema at revision {after}")
    elif before == "?":
        click.echo(f"the schema is at revision {after}")
    elif before != after:
        click.echo(f"migrated the schema from revision {before} to {after}")
    else:
        click.echo(f"database is up to date (revision {after})")


def _revision_before(ctx: Context) -> str | None:
    """Return the schema's revision before the upgrade (None: no schema yet; "?": it could not be read).

    A database that cannot be opened is left to the upgrade, which says why in one line.
    """
    try:
        engine = database.make_engine(ctx.config.server.database_url)
    except (ImportError, ValueError, SQLAlchemyError):
        return "?"
    try:
        return database.revision(engine)
    except SQLAlchemyError:
        return "?"
    finally:
        engine.dispose()


@cli.command()
def keygen() -> None:
    """Print a new data_key for [privacy] data_key or CALLOUT_DATA_KEY."""
    click.echo(new_key())
