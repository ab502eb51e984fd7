"""The `callout` command line: one group, with commands registered from the modules beside this one."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from callout.config import Config, ConfigError, load_config

YEARS = range(1970, 9001)  # dates the commands take: a day past year 9999 or before year 1 overflows datetime


@dataclass
class Context:
    """What every command gets: the config path given, and the config and database once loaded."""

    config_path: Path | None
    _config: Config | None = None
    _factory: sessionmaker[Session] | None = None
    _engine: Engine | None = None

    @property
    def config(self) -> Config:
        """Load the configuration once; a bad value exits with a one-line message naming the key."""
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as exc:
                fail(f"configuration error: {exc}")
        return self._config

    def sessions(self, upgrade: bool = True) -> sessionmaker[Session]:
        """Return the session factory, migrating the schema and syncing teams first.

        A database that cannot be opened, migrated or synced exits with a one-line message.
        """
        if self._factory is None:
            from alembic.util import CommandError
            from sqlalchemy.exc import IntegrityError, SQLAlchemyError

            from callout.db import make_engine, make_sessionmaker, transaction
            from callout.db import upgrade as upgrade_schema
            from callout.teams import sync_teams

            config = self.config
            try:
                engine = self._engine = make_engine(config.server.database_url)
            except (ImportError, ValueError, SQLAlchemyError) as exc:  # unknown dialect, driver not installed
                fail(f"configuration error: server.database_url: cannot be used: {_reason(exc)}")
            where = engine.url.render_as_string(hide_password=True)
            try:
                if upgrade:
                    upgrade_schema(engine)
                factory = make_sessionmaker(engine)
                with transaction(factory) as session:
                    sync_teams(session, config)
            except CommandError as exc:  # e.g. a revision this version does not know
                fail(f"cannot upgrade the database {where}: {exc} (is it from a newer Callout?)", code=1)
            except IntegrityError as exc:
                fail(
                    f"cannot record the configured teams in the database {where}: {_reason(exc)}"
                    " (a team there has this support_number under another slug; was a slug renamed?)",
                    code=1,
                )
            except SQLAlchemyError as exc:
                fail(f"cannot open the database {where}: {_reason(exc)}", code=1)
            self._factory = factory
        return self._factory

    def close(self) -> None:
        """Release the database connections, if any were opened."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._factory = None


def _reason(exc: BaseException) -> str:
    """Return the first line of what the database driver (or else the exception) said."""
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def fail(message: str, code: int = 2) -> NoReturn:
    """Print message to stderr and exit with code, without a traceback."""
    click.echo(f"callout: {message}", err=True)
    sys.exit(code)


pass_context = click.make_pass_decorator(Context)


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file (default: $CALLOUT_CONFIG, else ./config.toml, else embedded defaults).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: bool) -> None:
    """Callout: the phone line of a police peer support team."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # migrations and the scheduler talk a lot; their INFO lines are noise on the console
        for name in ("alembic", "apscheduler"):
            logging.getLogger(name).setLevel(logging.WARNING)
    ctx.obj = Context(config_path)
    ctx.call_on_close(ctx.obj.close)


def main(argv: list[str] | None = None) -> Any:
    """Run the command line."""
    return cli.main(args=argv, prog_name="callout")


# The commands live beside this module and register themselves on `cli` when imported.
from cli import basics, privacy, report, roster, serve  # noqa: E402, F401
