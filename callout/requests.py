"""A request's record: its code, finding it, locking it, its secrets, paging one member for it, closing it.

What the step engine (`escalation`), debriefs, the conversation and the voice line share about a request.
Everything that changes a request or its pages first takes the request's row lock and rereads them (`lock`),
so two processes acting on one request at once act one after the other, each on what the other left. The
caller commits.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from callout import due, durations, messages
from callout.commands import CODE_ALPHABET, CODE_LENGTH
from callout.env import Env
from callout.models import ClosedReason, Member, Page, PageState, Request, RequestKind, RequestStatus, Team
from callout.outbox import enqueue_pages, enqueue_sms

log = logging.getLogger(__name__)

LIVE = (RequestStatus.OPEN, RequestStatus.ACCEPTED, RequestStatus.EXHAUSTED)


class Paged(Protocol):
    """Whom page_members pages: an ORM Member, or the lineup's copy of one (`lineup.Person`)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def phone(self) -> str: ...


class AlreadyOpen(Exception):
    """The sender's support request was opened a moment ago by another text handled at the same time."""

    def __init__(self, request: Request) -> None:
        super().__init__(request.code)
        self.request = request


def logged(request: Request, name: str, role: str) -> str:
    """Return how a log line about request names a member: by role alone when a requester or a TALK opened it.

    Who was paged for a member's own TALK is everyone but the one who asked: a log naming them would give
    away what the purge erases from the database. Codes, steps and roles say enough to follow a request.
    """
    return f"a {role}" if request.kind == RequestKind.SUPPORT else f"{name} ({role})"


def named(env: Env, team: Team, text: str) -> str:
    """Begin text with the team's name where Callout serves several teams (a member may be in two).

    A psychologist shared by two teams gets pages from both support numbers; the name says whose it is.
    """
    return f"{team.name}: {text}" if len(env.config.teams) > 1 else text


# Built once, executed with each call's values: the statements of every inbound text.
_CODE_TAKEN = (
    select(Request.id)
    .where(Request.team_id == bindparam("team"), Request.code == bindparam("code"), Request.status.in_(LIVE))
    .limit(1)
)
_LIVE_OF = (
    select(Request)
    .where(
        Request.team_id == bindparam("team"),
        Request.contact_key == bindparam("key"),
        Request.status.in_(bindparam("statuses", expanding=True)),
    )
    .order_by(Request.id.desc())
    .limit(1)
)


def new_code(session: Session, team: Team) -> str:
    """Return a short code unique among the team's live requests (one indexed look per try)."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if session.scalar(_CODE_TAKEN, {"team": team.id, "code": code}) is None:
            return code


def live_request_of(
    session: Session,
    env: Env,
    team: Team,
    number: str,
    statuses: Sequence[RequestStatus] = (RequestStatus.OPEN, RequestStatus.ACCEPTED),
) -> Request | None:
    """Return this number's newest support request in statuses (by default: still paged or handled)."""
    return session.scalar(
        _LIVE_OF,
        {"team": team.id, "key": env.vault.lookup_key(number), "statuses": [s.value for s in statuses]},
    )


def find_by_code(session: Session, team: Team, code: str) -> Request | None:
    """Return the team's live (or most recent) request with this code."""
    return session.scalar(
        select(Request)
        .where(Request.team_id == team.id, Request.code == code.upper())
        .order_by(Request.status.in_(LIVE).desc(), Request.id.desc())
        .limit(1)
    )


def live_pages_for(session: Session, member: Member) -> list[Request]:
    """Return the requests member may answer now: pending or timed-out pages of live requests."""
    return list(
        session.scalars(
            select(Request)
            .join(Page, Page.request_id == Request.id)
            .where(
                Page.member_id == member.id,
                Page.state.in_((PageState.PENDING, PageState.TIMEOUT)),
                Request.status.in_((RequestStatus.OPEN, RequestStatus.EXHAUSTED)),
                Request.team_id == member.team_id,
            )
            .distinct()
            .order_by(Request.id)
        ).all()
    )


def can_answer(member: Member, request: Request) -> bool:
    """Tell whether member may accept or decline: they were paged for it, or they direct the program."""
    return member.role == "director" or any(p.member_id == member.id for p in request.pages)


def lock(session: Session, request: Request) -> None:
    """Take the request's row lock until the transaction ends, and reread the request and its pages.

    Another process may have changed them since they were loaded: a decline, an acceptance or a step
    decided on stale page states would overwrite what that process recorded. On SQLite, where every
    write transaction runs alone (BEGIN IMMEDIATE), the lock is the transaction's own.
    """
    session.scalars(
        select(Request)
        .where(Request.id == request.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    pages = session.scalars(
        select(Page)
        .where(Page.request_id == request.id)
        .order_by(Page.id)
        .execution_options(populate_existing=True)
    ).all()
    set_committed_value(request, "pages", list(pages))  # so request.pages needs no query of its own


def contact_of(env: Env, request: Request) -> str | None:
    """Return the decrypted contact number of a request, or None once purged."""
    return env.vault.decrypt(request.contact_enc) if request.contact_enc else None


def note_of(env: Env, request: Request) -> str | None:
    """Return the decrypted dispatcher's note of a request."""
    return env.vault.decrypt(request.note_enc) if request.note_enc else None


def tell_requester(session: Session, env: Env, now: datetime, request: Request, text: str) -> None:
    """Text the person who asked for support (never dispatch callbacks), if their number is still kept."""
    contact = contact_of(env, request)
    if contact and request.kind == RequestKind.SUPPORT:
        enqueue_sms(session, env, now, request.team, contact, text, purpose="requester", request=request)


# Built once: the hot path executes them with its values, and SQLAlchemy's statement cache does the rest.
_INSERT_PAGES = insert(Page).returning(Page.id, Page.member_id)


def page_members(
    session: Session,
    env: Env,
    now: datetime,
    request: Request,
    people: Sequence[Paged],
    tier: str,
    timeout: timedelta,
    call_after: timedelta,
    body: str | None = None,
) -> None:
    """Page members (their rows, or the lineup's copies) for the request's current step by SMS.

    They are called too when call_after (the team's, resolved once by the caller) is within the timeout.
    body: the pages' text, when not the usual one (a debrief's carries its note). The pages go in one
    INSERT and their texts in one more, without the unit of work: this is the hot path of every text and
    every timeout. request.pages is read again when next used.
    """
    if not people:
        return
    call_at = now + call_after if timedelta(0) < call_after < timeout else None
    written = session.connection().execute(
        _INSERT_PAGES,
        [
            {
                "request_id": request.id,
                "member_id": person.id,
                "step": request.step,
                "tier": tier,
                "paged_at": now,
                "state": PageState.PENDING,
                "call_at": call_at,
            }
            for person in people
        ],
    )
    page_of = {member_id: page_id for page_id, member_id in written}
    session.expire(request, ["pages"])
    if call_at is not None:
        due.note(session, call_at)
    text = named(
        env, request.team, body or messages.page(request.code, request.kind, durations.short(timeout))
    )
    enqueue_pages(
        session, env, now, request, [(page_of[person.id], person.phone) for person in people], text, timeout
    )
    for person in people:
        log.info(
            "request %s step %d: paging %s", request.code, request.step, logged(request, person.name, tier)
        )


def close(
    session: Session,
    env: Env,
    now: datetime,
    request: Request,
    *,
    area: str | None,
    overtime: bool,
    reason: ClosedReason = ClosedReason.DONE,
) -> None:
    """Close a request with its content area; its contact details are erased purge_after later."""
    request.status = RequestStatus.CLOSED
    request.closed_at = now
    request.closed_reason = reason
    request.content_area = area
    request.overtime = overtime
    request.step_deadline = None
    request.purge_at = now + env.config.privacy.purge_after
    for page in request.pages:
        if page.state == PageState.PENDING:
            page.state = PageState.CLOSED
    log.info("request %s closed (%s)", request.code, reason)
