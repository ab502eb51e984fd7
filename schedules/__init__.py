"""The jobs: what the timer fires and the periodic work, in which order, each part in its own transaction.

The schedule has one owner, this package: the job lists below, the purge's sequence (also run by
`callout privacy purge`), and when each runs (`start_scheduler`). Each job is one call into the domain;
state lives in the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from time import monotonic
from typing import Protocol, TypeVar

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from callout import cover, debrief, housekeeping, notices, privacy, testpage, timeouts
from callout.due import Due
from callout.env import Env
from callout.logsafe import described
from callout.runtime import Runtime
from callout.transport import Transport
from schedules.timer import Leadership, Timer

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 15
SLOW_JOB = 1.0  # seconds: a job that takes longer is logged, for the operator who looks for a slow answer
GROUP = 10  # due requests (or calls) claimed and committed together
FANOUT = 4  # threads that fire at once when more than a group is due (PostgreSQL)
MAX_GROUPS = 1000  # a tick hands the rest, if ever there is more, to the next one
T = TypeVar("T")

# What every firing of the timer runs, in this order, each part in transactions of its own (`tick`), with
# the part of the timer's look (callout.due.Due) that says when each is next due.
TICK_JOBS: dict[Callable[..., object], str] = {
    timeouts.run_due_steps: "steps",
    timeouts.run_due_calls: "calls",
    debrief.run_due: "debriefs",
}
# Those that take a limit and claim that many due rows at most, so the tick runs them in small groups.
GROUPED_JOBS = (timeouts.run_due_steps, timeouts.run_due_calls)
# The slower periodic work besides the purge, each part in a transaction of its own (`slow`): one that
# fails must not hold up the others, least of all the purge, which runs after them.
SLOW_JOBS: tuple[Callable[[Session, Env, datetime], int], ...] = (
    housekeeping.run_reminders,
    housekeeping.handoff_notices,
    cover.run_due,  # before the heads-ups: a cover ending unanswered tells its asker instead
    notices.shift_notices,
    testpage.run_due,
    housekeeping.coverage_warnings,
    housekeeping.stale_calls,
)


class Run(Protocol):
    """Run work(session, env, now) in a transaction of its own: `Runtime.run`, or the command line's."""

    def __call__(self, work: Callable[[Session, Env, datetime], T], /) -> T: ...


def tick(rt: Runtime, due: Due | None = None) -> None:
    """Fire due escalation steps, calls and debrief deadlines, each part in transactions of its own.

    With due (the timer's last look), only the kinds of work due by now. Steps and calls are claimed GROUP
    at a time, each group committed (and its pages woken into the sender) before the next is claimed: no
    page waits for a whole batch, and no row lock is held long.
    """
    now = rt.clock()
    for job, part in TICK_JOBS.items():
        if due is not None:
            when = getattr(due, part)
            if when is None or when > now:
                continue
        if job in GROUPED_JOBS:
            _run_in_groups(rt, job)
        else:
            _run(rt, job)


def _run_in_groups(rt: Runtime, job: Callable[[Session, Env, datetime, int], int]) -> None:
    """Run job GROUP rows at a time, each group in its own transaction, until a group comes back short.

    When the first group is full (more is due than one group), FANOUT threads claim the rest at once:
    each claim skips the rows the others hold, and a database far away (each statement a round trip) no
    longer bounds how many steps fire per second. SQLite writes one transaction at a time: no fan-out.
    """
    if not _one_group(rt, job):
        return
    fanout = FANOUT if rt.engine.dialect.name == "postgresql" else 1
    if fanout == 1:
        _groups(rt, job, MAX_GROUPS)
        return
    with ThreadPoolExecutor(fanout, thread_name_prefix="callout-fire") as pool:
        for _ in pool.map(lambda _: _groups(rt, job, MAX_GROUPS // fanout), range(fanout)):
            pass


def _groups(rt: Runtime, job: Callable[[Session, Env, datetime, int], int], most: int) -> None:
    """Run groups of job until one comes back short (or most groups ran)."""
    for _ in range(most):
        if not _one_group(rt, job):
            return


def _one_group(rt: Runtime, job: Callable[[Session, Env, datetime, int], int]) -> bool:
    """Run one group of job in its own transaction; tell whether it was full (more may be due)."""
    if job is timeouts.run_due_steps:
        handled = fire_steps(rt)
    else:
        handled = _run(rt, lambda session, env, now: job(session, env, now, GROUP), job.__name__)
    return handled is not None and handled >= GROUP


def fire_steps(rt: Runtime) -> int | None:
    """Fire a group of due steps at once; if one fails, roll the group back and fire it a step at a time.

    One at a time, each step in a savepoint, the one that fails is logged and stays due while the others go.
    """
    try:
        return rt.run(
            lambda session, env, now: timeouts.run_due_steps(session, env, now, GROUP, careful=False)
        )
    except Exception as exc:
        log.warning("steps: a group failed (%s); firing it again a step at a time", described(exc))
    return _run(
        rt, lambda session, env, now: timeouts.run_due_steps(session, env, now, GROUP), "run_due_steps"
    )


def slow(rt: Runtime) -> None:
    """Run the slower periodic work (SLOW_JOBS), then the purge."""
    for job in SLOW_JOBS:
        _run(rt, job)
    _guarded("purge", lambda: purge(rt.run, rt.engine))


def _run(rt: Runtime, job: Callable[[Session, Env, datetime], T], name: str | None = None) -> T | None:
    """Run one job in its own transaction; log a failure (the next firing tries again) and go on."""
    return _guarded(name or job.__name__, lambda: rt.run(job))


def _guarded(name: str, work: Callable[[], T]) -> T | None:
    """Return what work returns; log its failure by name (the next firing tries again) and return None."""
    started = monotonic()
    try:
        return work()
    except Exception as exc:
        log.error("job %s failed; it runs again at its next firing: %s", name, described(exc))
        return None
    finally:
        took = monotonic() - started
        if took >= SLOW_JOB:
            log.warning(
                "job %s took %.1f s (the process's webhooks and timer shared the CPU with it)", name, took
            )


def purge(run: Run, engine: Engine) -> int:
    """Erase the contact details whose time has come, then SQLite's copies; return how many requests."""
    purged = run(housekeeping.purge)
    if purged:
        privacy.scrub_sqlite(engine)
    return purged


def delete_at_provider(run: Run, transport: Transport) -> tuple[int, int] | None:
    """Delete one batch of purged requests' messages and calls at the provider, outside any transaction.

    Returns how many were deleted and how many will be retried later, or None when none was due.
    """
    claimed = run(privacy.due_deletions)
    if not claimed:
        return None
    failed = transport.delete_records([deletion.sid for deletion in claimed])
    deleted = run(lambda session, env, now: privacy.record_deletions(session, now, claimed, failed))
    return deleted, len(failed)


def provider_records(rt: Runtime) -> None:
    """Delete purged requests' messages and calls at the provider, one batch; retry failures later."""
    delete_at_provider(rt.run, rt.transport)


def drain(rt: Runtime) -> None:
    """Send whatever the outbox holds (retries, and rows another process queued), unless a drain runs."""
    rt.sender.drain_unless_busy()


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
