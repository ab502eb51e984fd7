"""The running service: configuration, database, vault, transport and sender, wired once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from callout.config import Config
from callout.db import make_engine, make_sessionmaker, transaction, upgrade
from callout.env import Env, make_env
from callout.ratelimit import RateLimiter
from callout.sender import Clock, Sender, utcnow
from callout.teams import sync_teams
from callout.transport import Transport

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Runtime:
    """Everything a webhook or a job needs to call into the domain."""

    config: Config
    env: Env
    engine: Engine
    sessions: sessionmaker[Session]
    transport: Transport
    sender: Sender
    clock: Clock
    per_number: RateLimiter
    per_team: RateLimiter
    scheduler: Any = None  # the APScheduler instance, when this process runs one

    def run(self, work: Callable[[Session, Env, datetime], T]) -> T:
        """Run work(session, env, now) in one transaction, then wake the sender for what it queued."""
        with transaction(self.sessions) as session:
            result = work(session, self.env, self.clock())
        self.sender.wake()
        return result

    def close(self) -> None:
        """Stop the scheduler and the sender and release the database."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        self.sender.stop()
        self.engine.dispose()


def build_runtime(
    config: Config, transport: Transport, clock: Clock = utcnow, import_rosters: bool = True
) -> Runtime:
    """Migrate the schema, sync the teams, import configured rosters and build the sender."""
    engine = make_engine(config.server.database_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    env = make_env(config)
    with transaction(sessions) as session:
        sync_teams(session, config)
    if import_rosters:
        from callout.roster import import_configured_rosters

        try:
            with transaction(sessions) as session:
                import_configured_rosters(session, config, clock())
        except BaseException:
            engine.dispose()  # the caller stops: release the connections it will never use
            raise
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
