"""The composition: config → database → transport → runtime → sender and scheduler, in one place.

Every process that serves Callout starts here: gunicorn's `webhooks:create_app()` (`wsgi_app`), and
`callout serve`, `callout scheduler` and `callout demo` (`build`, then `start`). Which work a process does is
a setting: the web app where gunicorn or `serve` serves it; the sender in every process; the scheduler where
`[server] scheduler = true`, and in a `callout scheduler` process (no web app) whatever that setting says.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from alembic.util import CommandError
from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from callout.config import Config, ConfigError, load_config
from callout.db import make_engine, make_sessionmaker, transaction, upgrade
from callout.env import make_env
from callout.ratelimit import RateLimiter
from callout.roster import EmptiesRole, RosterDiff, RosterError, import_configured_rosters
from callout.runtime import Runtime
from callout.sender import Clock, Sender, utcnow
from callout.teams import sync_teams
from callout.transport import Transport
from schedules import start_scheduler
from transport import make_transport
from webhooks import create_app

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The service cannot start: the database cannot be opened, migrated or synced, or a roster is bad."""


def open_database(config: Config, *, migrate: bool = True) -> tuple[Engine, sessionmaker[Session]]:
    """Open the configured database, migrate its schema (with migrate) and record the configured teams.

    Raises ConfigError when database_url cannot be used at all, StartupError when the database cannot be
    opened, migrated or synced; either says why in one line.
    """
    try:
        engine = make_engine(config.server.database_url)
    except (ImportError, ValueError, SQLAlchemyError) as exc:  # unknown dialect, driver not installed
        raise ConfigError(f"server.database_url: cannot be used: {_reason(exc)}") from None
    where = engine.url.render_as_string(hide_password=True)
    try:
        if migrate:
            upgrade(engine)
        sessions = make_sessionmaker(engine)
        with transaction(sessions) as session:
            sync_teams(session, config)
    except CommandError as exc:  # e.g. a revision this version does not know
        raise _stop(
            engine, f"cannot upgrade the database {where}: {exc} (is it from a newer Callout?)"
        ) from None
    except IntegrityError as exc:
        raise _stop(
            engine,
            f"cannot record the configured teams in the database {where}: {_reason(exc)}"
            " (a team there has this support_number under another slug; was a slug renamed?)",
        ) from None
    except SQLAlchemyError as exc:
        raise _stop(engine, f"cannot open the database {where}: {_reason(exc)}") from None
    return engine, sessions


def _stop(engine: Engine, message: str) -> StartupError:
    """Release the engine's connections (the caller stops) and return the error to raise."""
    engine.dispose()
    return StartupError(message)


def _reason(exc: BaseException) -> str:
    """Return the first line of what the database driver (or else the exception) said."""
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def build(config: Config, *, transport: Transport | None = None, clock: Clock = utcnow) -> Runtime:
    """Assemble the service, starting nothing: database, configured rosters, transport, runtime, sender.

    transport defaults to the configured one (Twilio with an account, else the console). Raises ConfigError
    or StartupError (see open_database; a bad roster file imports nothing and stops the start).
    """
    engine, sessions = open_database(config)
    try:
        with transaction(sessions) as session:
            diffs = import_configured_rosters(session, config, clock())
    except EmptiesRole as exc:
        raise _stop(engine, _emptied(config, exc)) from None
    except RosterError as exc:
        raise _stop(engine, f"roster error, nothing imported:\n{exc}") from None
    except BaseException:
        engine.dispose()
        raise
    for diff in diffs.values():
        _show(diff)
    env = make_env(config)
    transport = transport if transport is not None else make_transport(config)
    sender = Sender(sessions, env, transport, workers=config.server.senders, clock=clock)
    limits = config.limits
    return Runtime(
        config,
        env,
        engine,
        sessions,
        transport,
        sender,
        clock,
        per_number=RateLimiter(limits.per_number, limits.window),
        per_team=RateLimiter(limits.per_team, limits.window),
    )


def _emptied(config: Config, exc: EmptiesRole) -> str:
    """Say in one line why a configured roster stopped the start, and how to go on."""
    team = exc.diff.team
    source = exc.source or "the roster"
    return (
        f"roster {source}: {exc.diff.refusal()}; nothing was imported and Callout did not start. Fix the"
        f" file, or import it first with `callout roster import {source} --team {team} --force`"
    )


def _show(diff: RosterDiff) -> None:
    """Log what a configured roster changed at start, by name; warn of a role left with nobody.

    The diff is information, not a warning: it is the file the operator edited, applied (`serve` logs at
    INFO; the demo, whose roster is new each time, shows warnings only). A role with nobody needs acting on.
    """
    if diff.changed:
        log.info("roster %s", diff.summary())
    else:
        log.info("roster %s: unchanged", diff.team)
    for note in diff.notes():
        log.warning("roster %s", note)


def start(rt: Runtime, *, scheduler: bool | None = None) -> None:
    """Start the sender, and the scheduler if asked (by default: if `[server] scheduler = true`)."""
    rt.sender.start()
    if rt.config.server.scheduler if scheduler is None else scheduler:
        rt.scheduler = start_scheduler(rt)


def configure_logging(verbose: bool = False) -> None:
    """Log to stderr, a line each, INFO and up (DEBUG with verbose), unless the process set up logging itself.

    The command line calls it, and so does the app gunicorn serves (`wsgi_app`): without it a gunicorn worker
    logs warnings only, and the operator cannot follow a request ("request K7QD opened", "paging a peer").
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # migrations and the scheduler talk a lot; their INFO lines are noise
        for name in ("alembic", "apscheduler"):
            logging.getLogger(name).setLevel(logging.WARNING)


def wsgi_app(config: Config | None = None, *, transport: Transport | None = None) -> Flask:
    """Return the web app of a whole service process, sender and scheduler started (what gunicorn serves).

    Loads the configuration when none is given; a bad one, or a start that fails, exits with its message.
    """
    configure_logging()
    try:
        rt = build(load_config() if config is None else config, transport=transport)
    except ConfigError as exc:
        sys.exit(f"callout: configuration error: {exc}")
    except StartupError as exc:
        sys.exit(f"callout: {exc}")
    app = create_app(rt)
    start(rt)
    _stop_jobs_on_term(rt)
    return app


def _stop_jobs_on_term(rt: Runtime) -> None:
    """Stop the scheduler as soon as gunicorn tells this worker to go (SIGTERM), then let gunicorn go on.

    Gunicorn lets the worker finish its requests and exits; Python then refuses new work to every thread pool
    while it waits for the sends under way, and a periodic job firing in that moment failed with a traceback
    in the log at each restart. Only where the signal already has a Python handler (gunicorn's): the default
    one is never replaced.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        jobs = rt.scheduler
        if jobs is not None:  # not here: a signal handler must not wait for the scheduler's thread
            threading.Thread(target=jobs.shutdown, kwargs={"wait": False}, name="callout-stop").start()
        previous(signum, frame)

    signal.signal(signal.SIGTERM, stop)
