"""The jobs: the timer's tick and the periodic work, each one line into the domain; state lives in the db."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session

from callout import housekeeping, privacy
from callout.env import Env
from callout.logsafe import described
from callout.runtime import Runtime
from schedules.timer import Leadership, Timer

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 15
GROUP = 10  # due requests (or calls) claimed and committed together
MAX_GROUPS = 1000  # a tick hands the rest, if ever there is more, to the next one
T = TypeVar("T")


def tick(rt: Runtime) -> None:
    """Fire due escalation steps, calls and debrief deadlines, each part in transactions of its own.

    Steps and calls are claimed GROUP at a time, each group committed (and its pages woken into the
    sender) before the next is claimed: no page waits for a whole batch, and no row lock is held long.
    """
    for job in housekeeping.TICK_JOBS:
        if job in housekeeping.GROUPED_JOBS:
            _run_in_groups(rt, job)
        else:
            _run(rt, job)


def _run_in_groups(rt: Runtime, job: Callable[[Session, Env, datetime, int], int]) -> None:
    """Run job GROUP rows at a time, each group in its own transaction, until a group comes back short."""
    for _ in range(MAX_GROUPS):
        handled = _run(rt, lambda session, env, now: job(session, env, now, GROUP), job.__name__)
        if handled is None or handled < GROUP:
            return


def slow(rt: Runtime) -> None:
    """Send reminders, handoff notices and coverage warnings, and purge contact details."""
    for job in housekeeping.SLOW_JOBS:
        _run(rt, job)
    if _run(rt, housekeeping.purge):
        privacy.scrub_sqlite(rt.engine)


def _run(rt: Runtime, job: Callable[[Session, Env, datetime], T], name: str | None = None) -> T | None:
    """Run one job in its own transaction; log a failure (the next firing tries again) and go on."""
    try:
        return rt.run(job)
    except Exception as exc:
        log.error("job %s failed; it runs again at its next firing: %s", name or job.__name__, described(exc))
        return None


def provider_records(rt: Runtime) -> None:
    """Delete purged requests' messages and calls at the provider, outside any transaction; retry failures."""
    claimed = rt.run(privacy.due_deletions)
    if claimed:
        failed = rt.transport.delete_records([deletion.sid for deletion in claimed])
        rt.run(lambda session, env, now: privacy.record_deletions(session, now, claimed, failed))


def drain(rt: Runtime) -> None:
    """Send whatever the outbox holds (retries, and rows another process queued)."""
    rt.sender.drain()


class Jobs:
    """The jobs a process runs: the timer (due steps, calls, debriefs) and APScheduler's periodic ones."""

    def __init__(self, timer: Timer, periodic: BackgroundScheduler) -> None:
        self.timer = timer
        self.periodic = periodic

    @property
    def running(self) -> bool:
        """Tell whether both are running."""
        return self.timer.running and bool(self.periodic.running)

    def wake_by(self, when: datetime) -> None:
        """Wake the timer if when, a due time just committed, comes before its next one."""
        self.timer.wake_by(when)

    def shutdown(self, wait: bool = True) -> None:
        """Stop both; with wait, let what they are running finish."""
        self.timer.shutdown(wait=wait)
        self.periodic.shutdown(wait=wait)


def start_scheduler(rt: Runtime) -> Jobs:
    """Start the timer (leading when no other process does) and the periodic jobs (every 1 and 15 s)."""
    periodic = BackgroundScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
    )
    periodic.add_job(drain, "interval", seconds=1, args=[rt], id="drain")
    periodic.add_job(slow, "interval", seconds=HOUSEKEEPING_SECONDS, args=[rt], id="housekeeping")
    periodic.add_job(provider_records, "interval", seconds=HOUSEKEEPING_SECONDS, args=[rt], id="provider")
    periodic.start()
    timer = Timer(rt, tick, Leadership(rt.engine))
    timer.start()
    log.info(
        "scheduler started: the timer fires at each deadline, looking again at least every %s", _tick(rt)
    )
    return Jobs(timer, periodic)


def _tick(rt: Runtime) -> str:
    return f"{rt.config.server.tick.total_seconds():g}s"
