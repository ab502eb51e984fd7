"""Timeouts of support and dispatch requests: the steps whose deadline passed, and the page calls now due.

What the timer fires (`schedules.tick`) for the step engine (`escalation`), each due request claimed with its
row lock, skipping those another process holds. The caller commits, a small group at a time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from callout import escalation, requests
from callout.env import Env
from callout.logsafe import described
from callout.models import Page, PageState, Request, RequestKind, RequestStatus
from callout.outbox import claimed_so_far, enqueue_call, unclaim_since

log = logging.getLogger(__name__)

# A step or call due within AHEAD of now fires with those due now. Deadlines that close together (a burst of
# requests opened seconds apart times out seconds apart, a few milliseconds from each other) then cost the
# timer one wake and one transaction instead of one each; nobody can tell a page 20 ms early.
AHEAD = timedelta(milliseconds=20)


def run_due_steps(
    session: Session, env: Env, now: datetime, limit: int = 500, *, careful: bool = True
) -> int:
    """Advance the open requests whose step deadline has passed, up to limit; return how many were due.

    Each due request is claimed with its row lock, skipping those another process holds (SKIP LOCKED on
    PostgreSQL): two schedulers share the due requests instead of queueing behind each other's locks, and
    the caller commits small groups, so every page goes out as its group commits. Careful, each request
    fires in a savepoint: one that fails is logged and counted, and stays due for the next call. Not
    careful, a failure raises and the caller rolls the group back and fires it again carefully (the
    scheduler does: a savepoint is two round trips, a tenth of a timeout's cost, for a rare failure).
    """
    due = session.scalars(
        select(Request)
        .where(
            Request.status == RequestStatus.OPEN,
            Request.step_deadline <= now + AHEAD,
            Request.kind != RequestKind.DEBRIEF,
        )
        .order_by(Request.step_deadline, Request.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        # Read under the lock, for the whole group in one statement each (the teams: not one by one).
        .options(selectinload(Request.pages), selectinload(Request.team))
        .execution_options(populate_existing=True)
    ).all()
    for request in due:
        step = request.step
        if not careful:
            _fire(session, env, now, request, step)
            continue
        claimed = claimed_so_far(session)
        try:
            with session.begin_nested():  # one request that fails must not hold up the others
                _fire(session, env, now, request, step)
        except Exception as exc:
            unclaim_since(session, claimed)  # its pages were rolled back with it: nothing to send
            log.error(
                "request %s: step %d could not be fired, retried next tick: %s",
                request.code,
                step,
                described(exc),
            )
    return len(due)


def _fire(session: Session, env: Env, now: datetime, request: Request, step: int) -> None:
    """Move a due request on from step (or end it, if its team is no longer configured)."""
    if env.configured(request.team) is None:
        _orphaned(session, env, now, request, step)
    else:
        escalation.advance(session, env, now, request, expected_step=step)


def _orphaned(session: Session, env: Env, now: datetime, request: Request, step: int) -> None:
    """End a request whose team was removed from the configuration: nobody can be paged for it any more."""
    claimed = session.execute(
        update(Request)
        .where(Request.id == request.id, Request.step == step, Request.status == RequestStatus.OPEN)
        .values(step_deadline=None)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount == 1:  # type: ignore[attr-defined]
        requests.lock(session, request)
        log.error("request %s: team %s is no longer configured; ending it", request.code, request.team.slug)
        escalation.exhaust(session, env, now, request)


def run_due_calls(session: Session, env: Env, now: datetime, limit: int = 500) -> int:
    """Phone the paged members who have not answered by SMS after call_after, up to limit; each page once.

    Returns how many calls were due. Like a step, a call is claimed by its request's row lock, skipping
    the requests another process holds: locking the page first would deadlock with a scheduler that
    holds the request and times the page out.
    """
    due = session.scalars(
        select(Page.id)
        .join(Request, Request.id == Page.request_id)
        .where(Page.state == PageState.PENDING, Page.call_at <= now + AHEAD, Page.called_at.is_(None))
        .order_by(Page.call_at, Page.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Request)
    ).all()
    for page_id in due:
        claimed = session.execute(
            update(Page)
            .where(Page.id == page_id, Page.called_at.is_(None), Page.state == PageState.PENDING)
            .values(called_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            page = session.get(Page, page_id)
            assert page is not None
            session.refresh(page)
            enqueue_call(session, env, now, page)
            who = requests.logged(page.request, page.member.name, page.tier)
            log.info("request %s: calling %s", page.request.code, who)
    return len(due)
