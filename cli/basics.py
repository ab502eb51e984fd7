"""The `db upgrade` and `keygen` commands."""

from __future__ import annotations

import click

from callout.crypto import new_key
from cli.group import Context, cli, pass_context


@cli.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Create or migrate the schema to the newest revision."""
    ctx.sessions(upgrade=True)
    click.echo("database is up to date")


@cli.command()
def keygen() -> None:
    """Print a new data_key for [privacy] data_key or CALLOUT_DATA_KEY."""
    click.echo(new_key())
