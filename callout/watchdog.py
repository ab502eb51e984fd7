"""The watchdog: what is overdue, so that an outside monitor can page a human (`GET /healthz`).

A stuck scheduler or sender fails silently: nothing errors, pages just stop going out. So health is
judged by the work itself: escalation steps past their deadline, messages past their send time, page
calls past their time, each by more than OVERDUE; and messages waiting because the provider (Twilio) failed
to take them, from its first failure until it takes them again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from callout import outbox
from callout.models import Outbox, OutboxStatus, Page, PageState, Request, RequestStatus

OVERDUE = timedelta(minutes=1)
PROVIDER_MEMORY = timedelta(minutes=2)  # how long a provider failure with nothing tried since still counts


def overdue(
    session: Session, now: datetime, stuck: timedelta, provider_failed_at: datetime | None = None
) -> list[str]:
    """Return a line for each kind of work overdue by more than a minute (none: all is well).

    stuck is how old a claim on a message must be to belong to a sender that died (outbox.stuck_after).
    provider_failed_at: when this process's sender last saw the provider fail, if nothing went through since.
    """
    late = now - OVERDUE
    steps = session.scalar(
        select(func.count())
        .select_from(Request)
        .where(Request.status == RequestStatus.OPEN, Request.step_deadline < late)
    )
    sends = session.scalar(
        select(func.count())
        .select_from(Outbox)
        .where(
            or_(
                (Outbox.status == OutboxStatus.PENDING) & (Outbox.next_attempt_at < late),
                (Outbox.status == OutboxStatus.SENDING) & (Outbox.claimed_at < late - stuck),
            )
        )
    )
    calls = session.scalar(
        select(func.count())
        .select_from(Page)
        .where(Page.state == PageState.PENDING, Page.call_at < late, Page.called_at.is_(None))
    )
    refused = outbox.waiting_on_provider(session)
    problems = []
    if refused:
        problems.append(
            f"{refused} message(s) or call(s) waiting to be retried: Twilio refused them or did not answer"
        )
    elif provider_failed_at is not None and now - provider_failed_at < PROVIDER_MEMORY:
        # Between a page dropped at the end of its step and the next one tried, nothing waits: still down.
        problems.append("Twilio refused the last message or did not answer; none has gone through since")
    if steps:
        problems.append(f"{steps} escalation step(s) overdue by more than a minute")
    if sends:
        problems.append(f"{sends} message(s) or call(s) waiting to be sent for more than a minute")
    if calls:
        problems.append(f"{calls} page call(s) overdue by more than a minute")
    return problems
