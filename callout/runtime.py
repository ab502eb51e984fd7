"""The running service as the webhooks and the jobs see it: configuration, database, transport and sender.

`service/` assembles it (and starts its sender and scheduler); nothing here starts a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from callout import outbox
from callout.config import Config
from callout.db import reading, transaction
from callout.due import written_due
from callout.env import Env
from callout.ratelimit import RateLimiter
from callout.sender import Clock, Sender
from callout.transport import Transport

T = TypeVar("T")


class Scheduler(Protocol):
    """The jobs a process may run (the timer and APScheduler's, started by `schedules.start_scheduler`)."""

    @property
    def running(self) -> bool:
        """Tell whether its jobs are firing."""
        ...

    def shutdown(self, wait: bool = True) -> None:
        """Stop firing jobs; with wait, let the running ones finish first."""
        ...

    def wake_by(self, when: datetime) -> None:
        """Fire earlier than planned if when, a due time just committed, comes first."""
        ...


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
    scheduler: Scheduler | None = None  # when this process runs the jobs

    def run(self, work: Callable[[Session, Env, datetime], T]) -> T:
        """Run work(session, env, now) in one transaction, then wake the sender for what it queued.

        The scheduler is woken too when the transaction wrote a due time earlier than the one it waits for.
        """
        claimed: list[outbox.Claimed] = []  # pages the transaction claimed for this process's sender
        try:
            with transaction(self.sessions) as session:
                session.info[outbox.HANDS] = self.sender
                session.info[outbox.CLAIMED] = claimed
                result = work(session, self.env, self.clock())
                session.flush()  # what the commit would write: its due times are noted now
                written = written_due(session)
        except BaseException:
            self.sender.release(len(claimed))  # rolled back: none of them exists
            raise
        self.sender.hand(claimed)
        self.sender.wake()
        if written is not None and self.scheduler is not None:
            self.scheduler.wake_by(written)
        return result

    def read(self, work: Callable[[Session, Env, datetime], T]) -> T:
        """Run work(session, env, now) in a transaction that only reads (SQLite: without the write lock)."""
        with reading(self.sessions) as session:
            return work(session, self.env, self.clock())

    def close(self) -> None:
        """Stop the scheduler and the sender and release the database."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        self.sender.stop()
        self.engine.dispose()
