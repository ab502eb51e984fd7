"""TEST: a member asks for a test page (or the director sends one from the console), paged like a real one.

A test is a request of kind "test" paged to the member alone by `requests.page_members`: the text at once,
the call after `call_after` (the same job places it), `ack_timeout` to answer. Their `1`, by text or on the
call, confirms it and records the time on the member (`callout roster list` shows it). Unanswered after
`ack_timeout` it ends, and the member is told (if the text got through, that says the call or their
attention did not). The caller commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callout import durations, messages, requests
from callout.env import Env
from callout.models import Channel, ClosedReason, Member, PageState, Request, RequestKind, RequestStatus
from callout.outbox import notify

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What asking for a test page did."""

    PAGED = "paged"
    WAITING = "waiting"  # a test page already waits for the member's answer
    OPTED_OUT = "opted out"  # texts cannot reach them (STOP)
    INACTIVE = "inactive"


@dataclass(frozen=True)
class Started:
    """A test page asked for: what happened, and the test's code (paged or waiting)."""

    outcome: Outcome
    code: str | None = None


def send(session: Session, env: Env, now: datetime, member: Member) -> Started:
    """Page member a test, unless one is already waiting for their answer or pages cannot reach them."""
    team = member.team
    if not member.active:
        return Started(Outcome.INACTIVE)
    waiting = session.scalar(
        select(Request).where(
            Request.team_id == team.id,
            Request.kind == RequestKind.TEST,
            Request.status == RequestStatus.OPEN,
            Request.initiator_id == member.id,
        )
    )
    if waiting is not None:
        return Started(Outcome.WAITING, waiting.code)
    if member.opted_out:
        return Started(Outcome.OPTED_OUT)
    policy = env.team(team).escalation
    request = Request(
        team=team,
        code=requests.new_code(session, team),
        kind=RequestKind.TEST,
        channel=Channel.SMS,
        status=RequestStatus.OPEN,
        opened_at=now,
        step=1,
        initiator=member,
    )
    session.add(request)
    session.flush()
    requests.page_members(session, env, now, request, [member], "test", policy.ack_timeout, policy.call_after)
    log.info("test %s: paging %s", request.code, member.name)
    return Started(Outcome.PAGED, request.code)


def start(session: Session, env: Env, now: datetime, member: Member) -> str:
    """Page member a test (unless one is already waiting for their answer); return the reply to TEST."""
    started = send(session, env, now, member)
    if started.outcome is Outcome.WAITING and started.code is not None:
        return messages.test_waiting(started.code)
    if started.outcome is Outcome.OPTED_OUT:
        return messages.test_opted_out()
    call_after = env.team(member.team).escalation.call_after
    return messages.test_started(durations.short(call_after) if call_after else None)


def confirm(
    session: Session, env: Env, now: datetime, member: Member, request: Request, channel: Channel
) -> str:
    """Confirm a test page with the member's 1 (by text or on the call); return what to tell them."""
    requests.lock(session, request)
    if request.accepted_by_id == member.id:
        return messages.test_confirmed(request.code, channel)
    if request.initiator_id != member.id:
        return messages.unknown_code(request.code)
    won = session.execute(
        update(Request)
        .where(Request.id == request.id, Request.status == RequestStatus.OPEN)
        .values(
            status=RequestStatus.CLOSED,
            accepted_by_id=member.id,
            accepted_at=now,
            accepted_channel=channel,
            closed_at=now,
            closed_reason=ClosedReason.CONFIRMED,
            purge_at=now + env.config.privacy.purge_after,
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(request)
    if won.rowcount != 1:  # type: ignore[attr-defined]
        return messages.test_over(request.code)
    member.test_confirmed_at = now
    for page in request.pages:
        if page.state in (PageState.PENDING, PageState.TIMEOUT):
            page.state, page.answered_at, page.answer_channel = PageState.ACCEPTED, now, channel
    log.info("test %s confirmed by %s via %s", request.code, member.name, channel)
    return messages.test_confirmed(request.code, channel)


def decline(session: Session, env: Env, now: datetime, member: Member, request: Request) -> str:
    """Answer a 2 to a test page: it is a test; 1 confirms."""
    return messages.test_two(request.code)


def run_due(session: Session, env: Env, now: datetime) -> int:
    """End the tests nobody confirmed within ack_timeout, each once, and tell the member."""
    ended = 0
    # One look for every team's open tests (there are seldom any), not one per team: this runs every 15 s in
    # every process, and at 100 teams a look per team cost a tenth of a second of CPU each time.
    waiting = session.scalars(
        select(Request)
        .where(Request.kind == RequestKind.TEST, Request.status == RequestStatus.OPEN)
        .order_by(Request.id)
    ).all()
    for request in waiting:
        configured = env.configured(request.team)
        if configured is None:
            continue
        timeout = configured.escalation.ack_timeout
        if request.opened_at > now - timeout:
            continue
        claimed = session.execute(
            update(Request)
            .where(Request.id == request.id, Request.status == RequestStatus.OPEN)
            .values(
                status=RequestStatus.CLOSED,
                closed_at=now,
                closed_reason=ClosedReason.UNANSWERED,
                purge_at=now + env.config.privacy.purge_after,
            )
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue
        session.refresh(request)
        for page in request.pages:
            if page.state == PageState.PENDING:
                page.state = PageState.TIMEOUT
        if request.initiator is not None:
            notify(
                session,
                env,
                now,
                request.initiator,
                messages.test_unanswered(request.code, durations.short(timeout)),
            )
            log.info("test %s: %s did not confirm it", request.code, request.initiator.name)
        ended += 1
    return ended
