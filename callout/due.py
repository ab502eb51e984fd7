"""When the timer's work next falls due: step deadlines, page calls, debrief deadlines.

The timer (`schedules.timer`) sleeps until `next_due`, and is woken earlier when a transaction of this
process writes an earlier due time: `note_due` watches each flush and leaves the earliest one it saw
in the session (`written_due`), for the runtime to hand to the timer once the transaction committed.
A change that may make work due at once (a debrief answered) is noted as due at AT_ONCE.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, inspect, select
from sqlalchemy.orm import Session

from callout.env import Env
from callout.models import Page, PageState, Request, RequestKind, RequestStatus, Team

AT_ONCE = datetime.min.replace(tzinfo=UTC)
_KEY = "callout.due"


@dataclass(frozen=True)
class Due:
    """When each kind of the timer's work next falls due (None: nothing of that kind)."""

    steps: datetime | None = None
    calls: datetime | None = None
    debriefs: datetime | None = None

    @property
    def earliest(self) -> datetime | None:
        """Return the earliest of them."""
        return min((t for t in (self.steps, self.calls, self.debriefs) if t is not None), default=None)


def next_due(session: Session | Connection, env: Env, now: datetime) -> Due:
    """Return when steps, calls and debriefs next fall due (past times included): one statement, mostly."""
    step = (
        select(func.min(Request.step_deadline))
        .where(Request.status == RequestStatus.OPEN, Request.kind != RequestKind.DEBRIEF)
        .scalar_subquery()
    )
    call = (
        select(func.min(Page.call_at))
        .where(Page.state == PageState.PENDING, Page.called_at.is_(None))
        .scalar_subquery()
    )
    debriefs = (
        select(func.count())
        .select_from(Request)
        .where(Request.kind == RequestKind.DEBRIEF, Request.status == RequestStatus.OPEN)
        .scalar_subquery()
    )
    steps, calls, open_debriefs = session.execute(select(step, call, debriefs)).one()
    times = _debrief_times(session, env) if open_debriefs else []
    return Due(_aware(steps), _aware(calls), min(times, default=None))


def _aware(value: datetime | None) -> datetime | None:
    """Return a time read by a bare MIN() (the column's type is not applied to it) as aware UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _debrief_times(session: Session | Connection, env: Env) -> list[datetime]:
    """Return when each open debrief next needs looking at: its close, its widening, its next tally."""
    rows = session.execute(
        select(
            Team.slug,
            Request.opened_at,
            Request.step_deadline,
            Request.tally_dirty,
            Request.tally_sent_at,
        )
        .join(Team, Team.id == Request.team_id)
        .where(Request.kind == RequestKind.DEBRIEF, Request.status == RequestStatus.OPEN)
    ).all()
    times = []
    for slug, opened_at, deadline, dirty, tally_sent_at in rows:
        team = next((t for t in env.config.teams if t.slug == slug), None)
        if team is None:
            continue
        times.append(opened_at + team.debrief.window)
        if deadline is not None:
            times.append(deadline)
        if dirty:
            times.append(tally_sent_at + team.debrief.tally_every if tally_sent_at else AT_ONCE)
    return times


def note_due(session: Session, _flush_context: Any) -> None:
    """Remember the earliest due time this flush writes (an after_flush listener; see module doc)."""
    for when in _written(session.new, new=True) + _written(session.dirty, new=False):
        note(session, when)


def note(session: Session, when: datetime) -> None:
    """Remember a due time written without the unit of work (a Core statement), as note_due does."""
    earliest = session.info.get(_KEY)
    if earliest is None or when < earliest:
        session.info[_KEY] = when


def _written(objects: Iterable[object], *, new: bool) -> list[datetime]:
    """Return the due times that these new or changed rows set."""
    times = []
    for obj in objects:
        if isinstance(obj, Request):
            if obj.step_deadline is not None and (new or _changed(obj, "step_deadline")):
                times.append(obj.step_deadline)
        elif isinstance(obj, Page):
            if obj.call_at is not None and (new or _changed(obj, "call_at")):
                times.append(obj.call_at)
            if obj.tier == "debrief" and not new and _changed(obj, "state"):
                times.append(AT_ONCE)  # an answer may leave too few who could still say yes: widen now
    return times


def _changed(obj: object, attribute: str) -> bool:
    """Tell whether the flush writes a new value of obj's attribute."""
    return bool(inspect(obj).attrs[attribute].history.has_changes())


def written_due(session: Session) -> datetime | None:
    """Return (and forget) the earliest due time this session's flushes wrote."""
    when: datetime | None = session.info.pop(_KEY, None)
    return when
