"""The timer: fire due steps, calls and debrief deadlines at their deadline, in one process at a time.

It sleeps until the next due time (`callout.due.next_due`), and wakes earlier when this process commits an
earlier one (`wake_by`, from `Runtime.run`). What other processes write it finds by looking again at least
every `[server] tick` (a bounded poll of one indexed query), so a deadline written elsewhere less than a
tick before it falls due is at most a tick late; every other one is on time.

One process leads the timer (`Leadership`): on PostgreSQL the one holding an advisory lock on a
connection of its own, on SQLite the one holding a file lock beside the database. The others try to
take over every HANDOVER_POLL, so when the leader dies (its connection closes, its file lock goes with
it) another leads within about that. Leading is for economy, not for correctness: every step and call is
claimed on its row (SKIP LOCKED), so two leaders for a moment never fire one twice.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime
from typing import IO

from sqlalchemy import Connection, Engine, text

from callout import due
from callout.db import reading_connection
from callout.logsafe import described
from callout.runtime import Runtime

log = logging.getLogger(__name__)

TIMER_LOCK = 0x63616C6C74696D  # "calltim": the advisory lock of the timer's leader
HANDOVER_POLL = 0.5  # seconds between a follower's tries to lead
EARLY = 0.001  # seconds: Event.wait may return a hair early; don't spin on a deadline not yet reached


class Leadership:
    """Whether this process leads the timer: an advisory lock (PostgreSQL) or a file lock (SQLite)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._file: IO[bytes] | None = None
        self._without_lock = False

    def hold(self) -> bool:
        """Take the lead if it is free, or check that this process still holds it; tell which."""
        if self.engine.dialect.name == "postgresql":
            return self._hold_advisory()
        return self._hold_file()

    def _hold_advisory(self) -> bool:
        try:
            if self._connection is not None:
                self._connection.execute(text("SELECT 1"))  # the lock lives as long as this connection
                return True
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                taken = connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": TIMER_LOCK})
            except BaseException:
                connection.close()
                raise
            if not taken:
                connection.close()
                return False
            self._connection = connection
            log.info("timer: this process leads")
            return True
        except Exception as exc:
            log.warning("timer: lost the lead (database: %s)", type(exc).__name__)
            self.release()
            return False

    def _hold_file(self) -> bool:
        if self._file is not None or self._without_lock:
            return True
        database = self.engine.url.database
        if not database or database == ":memory:":
            return True  # a database no other process can open
        try:
            handle = open(f"{os.path.abspath(database)}.timer-lock", "ab")  # noqa: SIM115 (held while leading)
        except OSError as exc:  # a folder this process cannot write: SQLite serves one process anyway
            log.warning("timer: no lock file beside the database (%s); leading without one", exc.strerror)
            self._without_lock = True
            return True
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        log.info("timer: this process leads")
        return True

    def release(self) -> None:
        """Give up the lead (closing the lock's connection for good: a pooled one would keep the lock)."""
        if self._connection is not None:
            try:
                # Unlock first: the server ends a closed connection's session (and its locks) a moment later.
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": TIMER_LOCK})
            except Exception as exc:
                log.warning("timer: giving up the lead: %s", described(exc))
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception as exc:
                log.warning("timer: closing the lock's connection: %s", described(exc))
            self._connection = None
        if self._file is not None:
            self._file.close()  # the flock goes with it
            self._file = None


class Timer:
    """A thread that fires due work (fire) at its due time while this process leads."""

    def __init__(
        self, rt: Runtime, fire: Callable[[Runtime, due.Due | None], None], leadership: Leadership
    ) -> None:
        self.rt = rt
        self.fire = fire
        self.leadership = leadership
        self.poll = rt.config.server.tick.total_seconds()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._target: datetime | None = None  # when the sleeping timer means to fire next
        self._due: due.Due | None = None  # what the last look found (None: fire every kind of work)
        # Set by another thread (wake_by) when it committed work the last look did not see; read and cleared
        # by the timer's own thread only, so neither ever sees the other's half-made change.
        self._stale = threading.Event()
        self._leading = False  # a follower is not woken by what this process writes: it has no work
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Tell whether the timer's thread runs (leading or ready to)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="callout-timer", daemon=True)
            self._thread.start()

    def shutdown(self, wait: bool = True) -> None:
        """Stop the thread (with wait, once what it is firing is done) and give up the lead."""
        self._stop.set()
        self._wake.set()
        if wait and self._thread is not None:
            self._thread.join(timeout=30)
        self.leadership.release()

    def wake_by(self, when: datetime | None) -> None:
        """Wake the timer if when (a due time just committed) comes before the time it sleeps until."""
        target = self._target
        if self._leading and when is not None and (target is None or when < target):
            self._stale.set()  # the last look did not see it: fire every kind of work
            self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._leading = self.leadership.hold()
            if not self._leading:
                self._target = None
                self._wake.wait(HANDOVER_POLL)
                self._wake.clear()
                continue
            try:
                pause = self._cycle()
            except Exception as exc:  # a bug must not end the thread: the lead would be held and nothing fire
                log.error("timer: a cycle failed; trying again a poll later: %s", described(exc))
                self._due = None
                pause = self.poll
            self._wait(pause)

    def _cycle(self) -> float:
        """Fire what is due now; return how long to sleep before the next due time (at most a poll)."""
        self._wake.clear()  # what is committed from here on is seen by the look below, or wakes us again
        stale = self._stale.is_set()
        self._stale.clear()
        fired_at = self.rt.clock()
        try:
            self.fire(self.rt, None if stale else self._due)
            with reading_connection(self.rt.engine) as connection:  # a bare connection: the look is frequent
                looked = due.next_due(connection, self.rt.env, self.rt.clock())
        except Exception as exc:  # the database may be away for a while; try again a poll later
            log.error("timer: %s", described(exc))
            self._due = None
            return self.poll
        self._due = looked
        nxt = self._target = looked.earliest
        if nxt is None or nxt <= fired_at:  # nothing due, or work that was due and failed: a poll later
            return self.poll
        return min(max((nxt - self.rt.clock()).total_seconds() + EARLY, 0.0), self.poll)

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._wake.wait(seconds)
