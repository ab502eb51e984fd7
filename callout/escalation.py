"""The escalation engine: page in rotation, move on, fall back, accept exactly once, hand back.

Everything that changes a request or its pages first takes the request's row lock (`requests.lock`, or
the timer's claim of due requests), and a step moves on only from the step it read (`advance`), so a
timeout, a decline and a second process racing for the same request advance it exactly once. The caller
commits. What the timer fires (due steps and page calls) is in `timeouts`; a request's record and its
lock, in `requests`.

Over 400 lines because accept, decline, release and exhaustion each say what is true to the member (a
pass after a YES, nobody left to page), and those answers read best beside the engine that decides them.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from callout import cover, db, debrief, due, messages, requests, rotation, testpage
from callout.env import Env
from callout.lineup import Person
from callout.models import (
    Channel,
    Member,
    OutboxStatus,
    Page,
    PageState,
    Request,
    RequestKind,
    RequestStatus,
    Team,
)
from callout.outbox import by_provider_sid, notify

log = logging.getLogger(__name__)

# Requests that page one step after another; a debrief widens on its own schedule, and a cover or a test
# page never moves on to anyone else.
ESCALATING = (RequestKind.SUPPORT, RequestKind.DISPATCH)
# A step's unanswered pages time out in one statement, built once (building it per timeout cost more than it).
TIME_OUT_PAGES = (
    update(Page).where(Page.id.in_(bindparam("ids", expanding=True))).values(state=PageState.TIMEOUT)
)


def open_request(
    session: Session,
    env: Env,
    now: datetime,
    team: Team,
    *,
    kind: RequestKind,
    channel: Channel,
    contact: str | None = None,
    note: str | None = None,
    initiator: Member | None = None,
    skill: str | None = None,
    opened_by: int | None = None,
) -> Request:
    """Open a request and page its first step at once (opened_by: the console user who raised it)."""
    vault = env.vault
    request = Request(
        team_id=team.id,
        code=requests.new_code(session, team),
        kind=kind,
        channel=channel,
        status=RequestStatus.OPEN,
        opened_at=now,
        step=0 if kind == RequestKind.DEBRIEF else 1,
        contact_enc=vault.encrypt(contact) if contact else None,
        contact_key=vault.lookup_key(contact) if contact and kind == RequestKind.SUPPORT else None,
        note_enc=vault.encrypt(note) if note else None,
        initiator_id=initiator.id if initiator else None,
        skill=skill,
        opened_by_user_id=opened_by,
        step_deadline=None,
    )
    set_committed_value(request, "team", team)
    set_committed_value(request, "initiator", initiator)
    set_committed_value(request, "accepted_by", None)
    set_committed_value(request, "pages", [])
    if kind != RequestKind.DEBRIEF:  # nobody else can see it yet: decide its first step before writing it
        first = next_targets(session, env, now, request)
        request.step_deadline = now + first.timeout if first.people else None
    # One INSERT, skipped when another text of the same number opened one a moment ago (the unique index).
    if not db.insert_loaded(session, request, unless_conflict=True):
        existing = requests.live_request_of(session, env, team, contact or "")
        if existing is None:
            raise RuntimeError("a request could not be written, and none is open for its sender")
        raise requests.AlreadyOpen(existing)
    if request.step_deadline is not None:
        due.note(session, request.step_deadline)
    log.info("request %s opened: %s via %s", request.code, kind, channel)
    if kind == RequestKind.DEBRIEF:
        debrief.start(session, env, now, request)
    elif first.people:
        _page(session, env, now, request, first)
    else:
        exhaust(session, env, now, request)
    return request


def live_or_open(
    session: Session, env: Env, now: datetime, team: Team, contact: str, channel: Channel
) -> tuple[Request, bool]:
    """Return the number's live support request, else one opened now; and whether it was opened now.

    A request another text or call of the same number opened a moment ago (AlreadyOpen) is the live one.
    """
    request = requests.live_request_of(session, env, team, contact)
    if request is not None:
        return request, False
    try:
        return open_request(
            session, env, now, team, kind=RequestKind.SUPPORT, channel=channel, contact=contact
        ), True
    except requests.AlreadyOpen as race:
        return race.request, False


def _excluded(session: Session, env: Env, request: Request) -> set[int]:
    """Return ids never to page for a request: already paged, the initiator, a member asking for help."""
    excluded = {page.member_id for page in request.pages}
    # A request decided on before it is written has its initiator but not yet initiator_id.
    initiator = request.initiator_id or (request.initiator.id if request.initiator else None)
    if initiator:
        excluded.add(initiator)
    if request.contact_key:
        excluded |= env.lineups.with_key(session, request.team, request.contact_key)
    return excluded


class Targets(NamedTuple):
    """Whom a step pages (nobody: the request is exhausted), as which tier, for how long, and when to call."""

    people: list[Person]
    tier: str
    timeout: timedelta
    call_after: timedelta


def next_targets(session: Session, env: Env, now: datetime, request: Request) -> Targets:
    """Decide who the next step pages, from the team's configuration looked up once for the step.

    They come from the team's lineup (`callout.lineup`): deciding reads no member's row.
    """
    policy = env.team(request.team).escalation
    excluded = _excluded(session, env, request)
    peer_pages = {page.member_id for page in request.pages if page.tier == "peer"}
    if len(peer_pages) < policy.peers:
        for person in env.lineups.available(session, request.team, now):
            if person.id not in excluded:
                return Targets([person], "peer", policy.ack_timeout, policy.call_after)
    done = {page.tier for page in request.pages}
    fallback = env.lineups.reachable_by_role(session, request.team, policy.fallback, now)
    for role in policy.fallback:
        if role in done:
            continue
        people = [p for p in fallback[role] if p.id not in excluded]
        if people:
            return Targets(people, role, policy.fallback_timeout, policy.call_after)
    return Targets([], "", timedelta(0), timedelta(0))


def advance(session: Session, env: Env, now: datetime, request: Request, expected_step: int) -> bool:
    """Move the request from expected_step to the next step; False if another caller already did.

    The caller holds the request's row lock and has read the request and its pages since taking it
    (`requests.lock`, or the timer's claim of due requests), so what is decided here is what is committed.
    """
    if request.status != RequestStatus.OPEN or request.step != expected_step:
        return False
    timed_out = [page for page in request.pages if page.state == PageState.PENDING]
    if timed_out:
        session.connection().execute(TIME_OUT_PAGES, {"ids": [page.id for page in timed_out]})
        for page in timed_out:
            set_committed_value(page, "state", PageState.TIMEOUT)
    targets = next_targets(session, env, now, request)
    if not targets.people:
        db.update_loaded(session, request, step=expected_step + 1, step_deadline=None)
        exhaust(session, env, now, request)
        return True
    deadline = now + targets.timeout
    db.update_loaded(session, request, step=expected_step + 1, step_deadline=deadline)
    due.note(session, deadline)
    _page(session, env, now, request, targets)
    return True


def _page(session: Session, env: Env, now: datetime, request: Request, targets: Targets) -> None:
    """Page the members of the request's current step (its deadline is the caller's to write)."""
    requests.page_members(
        session, env, now, request, targets.people, targets.tier, targets.timeout, targets.call_after
    )


def exhaust(session: Session, env: Env, now: datetime, request: Request) -> bool:
    """Give the requester the crisis lines; alert the director (and dispatcher) that nobody accepted.

    Returns whether a director was alerted.
    """
    request.status = RequestStatus.EXHAUSTED
    request.exhausted_at = now
    request.declined_by_all = bool(request.pages) and all(
        p.state == PageState.DECLINED for p in request.pages
    )
    request.step_deadline = None
    request.purge_at = now + env.config.privacy.purge_after
    log.warning("request %s exhausted after %d pages", request.code, len(request.pages))
    directors = rotation.directors_to_tell(session, request.team, now)
    requests.tell_requester(session, env, now, request, messages.requester_exhausted(bool(directors)))
    alert = requests.named(
        env, request.team, messages.exhausted_alert(request.code, request.kind, len(request.pages))
    )
    for director in directors:
        notify(session, env, now, director, alert, request)
    if request.initiator is not None and request.initiator.role != "director":
        notify(
            session,
            env,
            now,
            request.initiator,
            messages.exhausted_dispatch(request.code, len(request.pages)),
            request,
        )
    return bool(directors)


def _step_done(request: Request) -> bool:
    """Tell whether nobody paged in the current step can still answer."""
    return not any(p.state == PageState.PENDING and p.step == request.step for p in request.pages)


def advance_if_step_done(session: Session, env: Env, now: datetime, request: Request) -> None:
    """Page the next step at once when everyone of this step declined or could not be reached."""
    # A debrief pages many at once and widens on its own schedule (debrief.run_due).
    if request.status == RequestStatus.OPEN and request.kind in ESCALATING and _step_done(request):
        advance(session, env, now, request, expected_step=request.step)


def accept(
    session: Session,
    env: Env,
    now: datetime,
    member: Member,
    request: Request,
    channel: Channel = Channel.SMS,
    *,
    despite_a_pass: bool = False,
) -> str:
    """Accept for member if nobody has yet; return what to tell them.

    A member's first answer stands: a YES after their own pass (two texts sent at once, say) is refused
    while others are paged in their place, since the pass already paged them. Once nobody is left to page
    (exhausted), a late YES is welcome from anyone. despite_a_pass: accept all the same (a member who
    picked up the caller's call is already talking to them).
    """
    if request.kind not in ESCALATING:
        return _answer_other(session, env, now, member, request, channel, yes=True)
    requests.lock(session, request)
    if request.status == RequestStatus.CLOSED:
        return messages.already_closed(request.code)
    if request.accepted_by_id == member.id:
        return _accepted_text(env, request)
    if request.accepted_by is not None:
        return messages.already_taken(request.code, request.accepted_by.name)
    mine = [p.state for p in request.pages if p.member_id == member.id]
    if (
        request.status == RequestStatus.OPEN
        and mine
        and set(mine) == {PageState.DECLINED}
        and not despite_a_pass
    ):
        return messages.passed_first(request.code)
    won = session.execute(
        update(Request)
        .where(
            Request.id == request.id,
            Request.accepted_by_id.is_(None),
            Request.status.in_((RequestStatus.OPEN, RequestStatus.EXHAUSTED)),
        )
        .values(
            status=RequestStatus.ACCEPTED,
            accepted_by_id=member.id,
            accepted_at=now,
            accepted_channel=channel,
            step_deadline=None,
            purge_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(request)
    if won.rowcount != 1:  # type: ignore[attr-defined]
        holder = request.accepted_by.name if request.accepted_by else "someone else"
        return messages.already_taken(request.code, holder)
    log.info(
        "request %s accepted by %s via %s",
        request.code,
        requests.logged(request, member.name, member.role),
        channel,
    )
    for page in request.pages:
        if page.member_id == member.id and page.state in (
            PageState.PENDING,
            PageState.TIMEOUT,
            PageState.DECLINED,
            PageState.FAILED,
        ):
            page.state, page.answered_at, page.answer_channel = PageState.ACCEPTED, now, channel
    stood_down = set()
    for page in request.pages:
        if (
            page.member_id != member.id
            and page.state in (PageState.PENDING, PageState.TIMEOUT)
            and page.member_id not in stood_down
        ):
            page.state = PageState.STOOD_DOWN
            stood_down.add(page.member_id)
            notify(session, env, now, page.member, messages.stand_down(request.code, member.name), request)
    requests.tell_requester(session, env, now, request, messages.requester_accepted())
    if request.initiator is not None and request.initiator.id != member.id:
        notify(
            session,
            env,
            now,
            request.initiator,
            messages.dispatch_accepted(request.code, member.name),
            request,
        )
    return _accepted_text(env, request)


def _accepted_text(env: Env, request: Request) -> str:
    """Return what the accepting member needs: the number to call (and the dispatcher's note)."""
    if request.kind == RequestKind.DISPATCH:
        return messages.accepted_dispatch(
            request.code, requests.note_of(env, request), requests.contact_of(env, request)
        )
    return messages.accepted_support(request.code, requests.contact_of(env, request))


def decline(
    session: Session,
    env: Env,
    now: datetime,
    member: Member,
    request: Request,
    channel: Channel = Channel.SMS,
) -> str:
    """Record a pass and page the next person at once; return what to tell the member."""
    if request.kind not in ESCALATING:
        return _answer_other(session, env, now, member, request, channel, yes=False)
    requests.lock(session, request)
    if request.status == RequestStatus.ACCEPTED and request.accepted_by_id == member.id:
        return messages.yours_already(request.code)  # their YES came first: a NO does not undo it
    mine = [
        p
        for p in request.pages
        if p.member_id == member.id and p.state in (PageState.PENDING, PageState.TIMEOUT)
    ]
    if not mine:
        if any(p.member_id == member.id and p.state == PageState.DECLINED for p in request.pages):
            return messages.passed_already(request.code)
        if request.accepted_by is not None:
            return messages.already_taken(request.code, request.accepted_by.name)
        return messages.no_open_page()
    for page in mine:
        page.state, page.answered_at, page.answer_channel = PageState.DECLINED, now, channel
    log.info("request %s declined by %s", request.code, requests.logged(request, member.name, member.role))
    step = request.step
    advance_if_step_done(session, env, now, request)
    if (
        request.status == RequestStatus.EXHAUSTED
    ):  # nobody was left to page: say so, and whether a director was told
        return messages.declined_nobody_left(request.code, _director_alerted(session, now, request, member))
    return messages.declined(request.code, next_paged=request.step != step)


def _director_alerted(session: Session, now: datetime, request: Request, member: Member) -> bool:
    """Tell whether exhausting request alerted a director other than member (who needs no alert of it)."""
    return any(d.id != member.id for d in rotation.directors_to_tell(session, request.team, now))


def _answer_other(
    session: Session,
    env: Env,
    now: datetime,
    member: Member,
    request: Request,
    channel: Channel,
    *,
    yes: bool,
) -> str:
    """Pass a 1 (yes) or a 2 to a debrief, a cover or a test page, each of which answers it its own way."""
    if request.kind == RequestKind.DEBRIEF:
        return debrief.respond(session, env, now, member, request, yes=yes)
    if request.kind == RequestKind.COVER:
        return (cover.take if yes else cover.decline)(session, env, now, member, request)
    assert request.kind == RequestKind.TEST, request.kind
    if yes:
        return testpage.confirm(session, env, now, member, request, channel)
    return testpage.decline(session, env, now, member, request)


def delivery_failed(session: Session, env: Env, now: datetime, page: Page, status: str) -> None:
    """Treat an undeliverable page as no answer: the next person is paged at once."""
    requests.lock(session, page.request)
    page.delivery_status = status
    if page.state != PageState.PENDING:
        return
    page.state = PageState.FAILED
    who = requests.logged(page.request, page.member.name, page.tier)
    log.warning("request %s: page to %s %s", page.request.code, who, status)
    advance_if_step_done(session, env, now, page.request)


def release(session: Session, env: Env, now: datetime, member: Member, request: Request) -> str:
    """Hand an accepted request back; paging resumes with the next person."""
    requests.lock(session, request)
    if request.accepted_by_id != member.id or request.status != RequestStatus.ACCEPTED:
        return messages.not_yours(request.code)
    request.status = RequestStatus.OPEN
    request.accepted_by_id = None
    request.accepted_at = None
    request.accepted_channel = None
    request.reminded_at = None  # whoever accepts next gets their own reminder
    for page in request.pages:
        if page.member_id == member.id and page.state == PageState.ACCEPTED:
            page.state = PageState.RELEASED
    session.flush()
    log.info("request %s released by %s", request.code, requests.logged(request, member.name, member.role))
    advance(session, env, now, request, expected_step=request.step)
    if request.status == RequestStatus.EXHAUSTED:  # nobody was left to page: say so, and who was told
        return messages.released_nobody_left(request.code, _director_alerted(session, now, request, member))
    return messages.released(request.code)


def record_status(session: Session, env: Env, now: datetime, sid: str, status: str) -> bool:
    """Record a provider status callback (a failed page counts as no answer); False if the sid is unknown."""
    status = status[:20]  # Twilio's statuses are short words; a longer one is not Twilio's and fits anyway
    row = by_provider_sid(session, sid)
    if row is None:
        return False
    page = session.get(Page, row.page_id) if row.page_id else None
    if row.channel == "call":
        if page is not None:
            page.call_status = status
        return True
    if status in (OutboxStatus.DELIVERED, OutboxStatus.FAILED, OutboxStatus.UNDELIVERED):
        row.status = OutboxStatus(status)
    if page is not None:
        if status in (OutboxStatus.FAILED, OutboxStatus.UNDELIVERED):
            delivery_failed(session, env, now, page, status)
        else:
            page.delivery_status = status
    return True
