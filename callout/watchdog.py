"""The watchdog: what is overdue, so that an outside monitor can page a human (`GET /healthz`).

A stuck scheduler or sender fails silently: nothing errors, pages just stop going out. So health is
judged by the work itself: escalation steps past their deadline, messages past their send time, page
calls past their time, each by more than OVERDUE.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from callout.models import Outbox, Page, Request

OVERDUE = timedelta(minutes=1)


def overdue(session: Session, now: datetime, stuck: timedelta) -> list[str]:
    """Return a line for each kind of work overdue by more than a minute (none: all is well).

    stuck is how old a claim on a message must be to belong to a sender that died (outbox.stuck_after).
    """
    late = now - OVERDUE
    steps = session.scalar(
        select(func.count())
        .select_from(Request)
        .where(Request.status == "open", Request.step_deadline < late)
    )
    sends = session.scalar(
        select(func.count())
        .select_from(Outbox)
        .where(
            or_(
                (Outbox.status == "pending") & (Outbox.next_attempt_at < late),
                (Outbox.status == "sending") & (Outbox.claimed_at < late - stuck),
            )
        )
    )
    calls = session.scalar(
        select(func.count())
        .select_from(Page)
        .where(Page.state == "pending", Page.call_at < late, Page.called_at.is_(None))
    )
    problems = []
    if steps:
        problems.append(f"{steps} escalation step(s) overdue by more than a minute")
    if sends:
        problems.append(f"{sends} message(s) or call(s) waiting to be sent for more than a minute")
    if calls:
        problems.append(f"{calls} page call(s) overdue by more than a minute")
    return problems
