"""The `callout` group and what every command shares: its context (config, database), `fail`, `YEARS`."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import service
from callout.config import Config, ConfigError, load_config
from callout.runtime import Runtime

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
            try:
                self._engine, self._factory = service.open_database(self.config, migrate=upgrade)
            except ConfigError as exc:
                fail(f"configuration error: {exc}")
            except service.StartupError as exc:
                fail(str(exc), code=1)
        return self._factory

    def runtime(self) -> Runtime:
        """Assemble the service (nothing started yet); exit with one line if it cannot start."""
        try:
            return service.build(self.config)
        except ConfigError as exc:
            fail(f"configuration error: {exc}")
        except service.StartupError as exc:
            fail(str(exc), code=1)

    def close(self) -> None:
        """Release the database connections, if any were opened."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._factory = None


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
    service.configure_logging(verbose)
    ctx.obj = Context(config_path)
    ctx.call_on_close(ctx.obj.close)
