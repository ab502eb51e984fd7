"""The escalation engine: page in rotation, time out, fall back, accept exactly once, close.

Every step is claimed with a conditional update on (request, step), so a timeout, a decline and a
second process racing for the same request advance it exactly once. Everything else that changes a
request or its pages first takes the request's row lock (`requests.lock`). The caller commits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callout import cover, debrief, messages, requests, rotation, testpage
from callout.env import Env
from callout.lineup import Person
from callout.logsafe import described
from callout.models import Member, Page, Request, Team
from callout.outbox import by_provider_sid, enqueue_call, notify

log = logging.getLogger(__name__)

# Requests that page one step after another; a debrief widens on its own schedule, and a cover or a test
# page never moves on to anyone else.
ESCALATING = ("support", "dispatch")


def open_request(
    session: Session,
    env: Env,
    now: datetime,
    team: Team,
    *,
    kind: str,
    channel: str,
    contact: str | None = None,
    note: str | None = None,
    initiator: Member | None = None,
    skill: str | None = None,
    opened_by: int | None = None,
) -> Request:
    """Open a request and page its first step at once (opened_by: the console user who raised it)."""
    vault = env.vault
    request = Request(
        team=team,
        code=requests.new_code(session, team),
        kind=kind,
        channel=channel,
        status="open",
        opened_at=now,
        step=0 if kind == "debrief" else 1,
        contact_enc=vault.encrypt(contact) if contact else None,
        contact_key=vault.lookup_key(contact) if contact and kind == "support" else None,
        note_enc=vault.encrypt(note) if note else None,
        initiator=initiator,
        skill=skill,
        opened_by_user_id=opened_by,
    )
    if kind != "debrief":  # nobody else can see it yet: decide its first step before writing it
        first = next_targets(session, env, now, request)
        request.step_deadline = now + first[2] if first[0] else None
    try:
        with session.begin_nested():
            session.add(request)
            session.flush()
    except IntegrityError:
        existing = requests.live_request_of(session, env, team, contact or "")
        if existing is None:
            raise
        raise requests.AlreadyOpen(existing) from None
    log.info("request %s opened: %s via %s", request.code, kind, channel)
    if kind == "debrief":
        debrief.start(session, env, now, request)
    else:
        _page_step(session, env, now, request, *first)
    return request


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


def next_targets(
    session: Session, env: Env, now: datetime, request: Request
) -> tuple[list[Person], str, timedelta]:
    """Decide who the next step pages: (members, tier, timeout); no members means exhausted.

    They come from the team's lineup (`callout.lineup`): deciding reads no member's row.
    """
    team_config = env.team(request.team)
    policy = team_config.escalation
    excluded = _excluded(session, env, request)
    peer_pages = {page.member_id for page in request.pages if page.tier == "peer"}
    if len(peer_pages) < policy.peers:
        for person in env.lineups.available(session, request.team, now):
            if person.id not in excluded:
                return [person], "peer", policy.ack_timeout
    done = {page.tier for page in request.pages}
    fallback = env.lineups.reachable_by_role(session, request.team, policy.fallback, now)
    for role in policy.fallback:
        if role in done:
            continue
        people = [p for p in fallback[role] if p.id not in excluded]
        if people:
            return people, role, policy.fallback_timeout
    return [], "", timedelta(0)


def advance(session: Session, env: Env, now: datetime, request: Request, expected_step: int) -> bool:
    """Move the request from expected_step to the next step; False if another caller already did."""
    claimed = session.execute(
        update(Request)
        .where(Request.id == request.id, Request.step == expected_step, Request.status == "open")
        .values(step=expected_step + 1, step_deadline=None)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    requests.lock(session, request)  # the claim holds the row: reread what others answered meanwhile
    for page in request.pages:
        if page.state == "pending":
            page.state = "timeout"
    _page_step(session, env, now, request, *next_targets(session, env, now, request))
    return True


def _page_step(
    session: Session,
    env: Env,
    now: datetime,
    request: Request,
    targets: Sequence[Person],
    tier: str,
    timeout: timedelta,
) -> None:
    """Page the members of the request's current step, or end it when there is nobody left."""
    if not targets:
        exhaust(session, env, now, request)
        return
    for member in targets:
        requests.page_member(session, env, now, request, member, tier, timeout)
    request.step_deadline = now + timeout


def exhaust(session: Session, env: Env, now: datetime, request: Request) -> bool:
    """Give the requester the crisis lines; alert the director (and dispatcher) that nobody accepted.

    Returns whether a director was alerted.
    """
    request.status = "exhausted"
    request.exhausted_at = now
    request.declined_by_all = bool(request.pages) and all(p.state == "declined" for p in request.pages)
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
    return not any(p.state == "pending" and p.step == request.step for p in request.pages)


def advance_if_step_done(session: Session, env: Env, now: datetime, request: Request) -> None:
    """Page the next step at once when everyone of this step declined or could not be reached."""
    # A debrief pages many at once and widens on its own schedule (debrief.run_due).
    if request.status == "open" and request.kind in ESCALATING and _step_done(request):
        advance(session, env, now, request, expected_step=request.step)


def accept(
    session: Session,
    env: Env,
    now: datetime,
    member: Member,
    request: Request,
    channel: str = "sms",
    *,
    despite_a_pass: bool = False,
) -> str:
    """Accept for member if nobody has yet; return what to tell them.

    A member's first answer stands: a YES after their own pass (two texts sent at once, say) is refused
    while others are paged in their place, since the pass already paged them. Once nobody is left to page
    (exhausted), a late YES is welcome from anyone. despite_a_pass: accept all the same (a member who
    picked up the caller's call is already talking to them).
    """
    if request.kind == "debrief":
        return debrief.respond(session, env, now, member, request, yes=True)
    if request.kind == "cover":
        return cover.take(session, env, now, member, request)
    if request.kind == "test":
        return testpage.confirm(session, env, now, member, request, channel)
    requests.lock(session, request)
    if request.status == "closed":
        return messages.already_closed(request.code)
    if request.accepted_by_id == member.id:
        return _accepted_text(env, request)
    if request.accepted_by is not None:
        return messages.already_taken(request.code, request.accepted_by.name)
    mine = [p.state for p in request.pages if p.member_id == member.id]
    if request.status == "open" and mine and set(mine) == {"declined"} and not despite_a_pass:
        return messages.passed_first(request.code)
    won = session.execute(
        update(Request)
        .where(
            Request.id == request.id,
            Request.accepted_by_id.is_(None),
            Request.status.in_(("open", "exhausted")),
        )
        .values(
            status="accepted",
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
        if page.member_id == member.id and page.state in ("pending", "timeout", "declined", "failed"):
            page.state, page.answered_at, page.answer_channel = "accepted", now, channel
    stood_down = set()
    for page in request.pages:
        if (
            page.member_id != member.id
            and page.state in ("pending", "timeout")
            and page.member_id not in stood_down
        ):
            page.state = "stood_down"
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
    if request.kind == "dispatch":
        return messages.accepted_dispatch(
            request.code, requests.note_of(env, request), requests.contact_of(env, request)
        )
    return messages.accepted_support(request.code, requests.contact_of(env, request))


def decline(
    session: Session, env: Env, now: datetime, member: Member, request: Request, channel: str = "sms"
) -> str:
    """Record a pass and page the next person at once; return what to tell the member."""
    if request.kind == "debrief":
        return debrief.respond(session, env, now, member, request, yes=False)
    if request.kind == "cover":
        return cover.decline(session, env, now, member, request)
    if request.kind == "test":
        return testpage.decline(session, env, now, member, request)
    requests.lock(session, request)
    if request.status == "accepted" and request.accepted_by_id == member.id:
        return messages.yours_already(request.code)  # their YES came first: a NO does not undo it
    mine = [p for p in request.pages if p.member_id == member.id and p.state in ("pending", "timeout")]
    if not mine:
        if any(p.member_id == member.id and p.state == "declined" for p in request.pages):
            return messages.passed_already(request.code)
        if request.accepted_by is not None:
            return messages.already_taken(request.code, request.accepted_by.name)
        return messages.no_open_page()
    for page in mine:
        page.state, page.answered_at, page.answer_channel = "declined", now, channel
    log.info("request %s declined by %s", request.code, requests.logged(request, member.name, member.role))
    step = request.step
    advance_if_step_done(session, env, now, request)
    if request.status == "exhausted":  # nobody was left to page: say so, and whether a director was told
        directors = rotation.directors_to_tell(session, request.team, now)
        alerted = any(director.id != member.id for director in directors)
        return messages.declined_nobody_left(request.code, alerted)
    return messages.declined(request.code, next_paged=request.step != step)


def delivery_failed(session: Session, env: Env, now: datetime, page: Page, status: str) -> None:
    """Treat an undeliverable page as no answer: the next person is paged at once."""
    requests.lock(session, page.request)
    page.delivery_status = status
    if page.state != "pending":
        return
    page.state = "failed"
    who = requests.logged(page.request, page.member.name, page.tier)
    log.warning("request %s: page to %s %s", page.request.code, who, status)
    advance_if_step_done(session, env, now, page.request)


def release(session: Session, env: Env, now: datetime, member: Member, request: Request) -> str:
    """Hand an accepted request back; paging resumes with the next person."""
    requests.lock(session, request)
    if request.accepted_by_id != member.id or request.status != "accepted":
        return messages.not_yours(request.code)
    request.status = "open"
    request.accepted_by_id = None
    request.accepted_at = None
    request.accepted_channel = None
    request.reminded_at = None  # whoever accepts next gets their own reminder
    for page in request.pages:
        if page.member_id == member.id and page.state == "accepted":
            page.state = "released"
    session.flush()
    log.info("request %s released by %s", request.code, requests.logged(request, member.name, member.role))
    advance(session, env, now, request, expected_step=request.step)
    if request.status == "exhausted":  # nobody was left to page: say so, and who was told
        directors = rotation.directors_to_tell(session, request.team, now)
        alerted = any(director.id != member.id for director in directors)
        return messages.released_nobody_left(request.code, alerted)
    return messages.released(request.code)


def run_due_steps(session: Session, env: Env, now: datetime, limit: int = 500) -> int:
    """Advance the open requests whose step deadline has passed, up to limit; return how many were due.

    Each due request is claimed with its row lock, skipping those another process holds (SKIP LOCKED on
    PostgreSQL): two schedulers share the due requests instead of queueing behind each other's locks, and
    the caller commits small groups, so every page goes out as its group commits. A request that fails
    is logged and counted; it stays due for the next call.
    """
    due = session.scalars(
        select(Request)
        .where(Request.status == "open", Request.step_deadline <= now, Request.kind != "debrief")
        .order_by(Request.step_deadline, Request.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    for request in due:
        step = request.step
        try:
            with session.begin_nested():  # one request that fails must not hold up the others
                if env.configured(request.team) is None:
                    _orphaned(session, env, now, request, step)
                else:
                    advance(session, env, now, request, expected_step=step)
        except Exception as exc:
            log.error(
                "request %s: step %d could not be fired, retried next tick: %s",
                request.code,
                step,
                described(exc),
            )
    return len(due)


def _orphaned(session: Session, env: Env, now: datetime, request: Request, step: int) -> None:
    """End a request whose team was removed from the configuration: nobody can be paged for it any more."""
    claimed = session.execute(
        update(Request)
        .where(Request.id == request.id, Request.step == step, Request.status == "open")
        .values(step_deadline=None)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount == 1:  # type: ignore[attr-defined]
        requests.lock(session, request)
        log.error("request %s: team %s is no longer configured; ending it", request.code, request.team.slug)
        exhaust(session, env, now, request)


def run_due_calls(session: Session, env: Env, now: datetime, limit: int = 500) -> int:
    """Phone the paged members who have not answered by SMS after call_after, up to limit; each page once.

    Returns how many calls were due. Like a step, a call is claimed by its request's row lock, skipping
    the requests another process holds: locking the page first would deadlock with a scheduler that
    holds the request and times the page out.
    """
    due = session.scalars(
        select(Page.id)
        .join(Request, Request.id == Page.request_id)
        .where(Page.state == "pending", Page.call_at <= now, Page.called_at.is_(None))
        .order_by(Page.call_at, Page.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Request)
    ).all()
    for page_id in due:
        claimed = session.execute(
            update(Page)
            .where(Page.id == page_id, Page.called_at.is_(None), Page.state == "pending")
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
    if status in ("delivered", "failed", "undelivered"):
        row.status = status
    if page is not None:
        if status in ("failed", "undelivered"):
            delivery_failed(session, env, now, page, status)
        else:
            page.delivery_status = status
    return True
