"""Critical-incident debriefs: page the whole team at once, tally the answers, widen when too few say yes.

A debrief pages in stages: the peers with its skill (when one is given), then every peer, then the fallback
roles. The first stage is paged at once, and the next ones too while fewer members than min_responders
could still say yes. After that it widens when fewer than min_responders said yes by step_deadline
(widen_after after the last stage), or as soon as too few could still say yes (passes, failed deliveries).
request.step is the stage reached, one past the last once the initiator was told that everyone has been
paged. step_deadline is cleared while enough say yes. The debrief ends when its initiator texts DONE CODE, or
window after it opened. The caller commits.

Every process's scheduler runs run_due, and replies come in at once, so each change to a debrief is claimed
on its row: a stage, the close and a tally with a conditional update (the loser does and says nothing), a
deadline only for the step it was decided on, an answer under the row's lock (SELECT ... FOR UPDATE). The
winner then rereads the debrief and its pages, so it counts and pages from what is committed, not from what
it loaded. Answering marks tally_dirty with an UPDATE while holding the lock; a tally clears it with a
conditional update, which waits for an answer being made, and counts after it: an answer is in the tally that
cleared its mark, or its mark is still set for the next tally.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from callout import messages, requests, rotation
from callout.config import DebriefConfig
from callout.env import Env
from callout.models import (
    Channel,
    ClosedReason,
    ConsoleUser,
    Member,
    Page,
    PageState,
    Request,
    RequestKind,
    RequestStatus,
    Team,
)
from callout.outbox import notify

log = logging.getLogger(__name__)

STAGE_WORDS = {"skill": "the peers with the skill", "peers": "all peers", "fallback": "the fallback roles"}
STARTED_WORDS = {"peers": "all peers", "fallback": "the fallback roles"}  # "skill": "#SKILL peers"


@dataclass(frozen=True)
class Tally:
    """Who said yes (names, in the order they answered), who is unable, and how many have not answered."""

    yes: list[str]
    no: list[str]
    waiting: int


def has_skill(member: Member, skill: str) -> bool:
    """Tell whether member has skill (tags compare without case or a leading #)."""
    wanted = skill.lstrip("#").lower()
    return any(tag.lstrip("#").lower() == wanted for tag in member.skills or [])


def check_skill(session: Session, team: Team, skill: str) -> str | None:
    """Return why a debrief for skill cannot be called (no active peer has it), or None if it can."""
    peers = rotation.rotation_peers(session, team)
    if any(has_skill(peer, skill) for peer in peers):
        return None
    known = sorted({tag.lstrip("#").lower() for peer in peers for tag in peer.skills or []})
    return messages.debrief_unknown_skill(skill.lstrip("#").lower(), known)


def tally(request: Request) -> Tally:
    """Count a debrief's answers so far."""
    answered = sorted(
        (p for p in request.pages if p.state in (PageState.ACCEPTED, PageState.DECLINED)),
        key=lambda p: (p.answered_at or p.paged_at, p.id),
    )
    return Tally(
        yes=[p.member.name for p in answered if p.state == PageState.ACCEPTED],
        no=[p.member.name for p in answered if p.state == PageState.DECLINED],
        waiting=sum(1 for p in request.pages if p.state == PageState.PENDING),
    )


def tally_text(request: Request) -> str:
    """Return the running tally as the initiator reads it."""
    counted = tally(request)
    return messages.debrief_tally(request.code, counted.yes, len(counted.no), counted.waiting)


def _settings(env: Env, request: Request) -> DebriefConfig:
    return env.team(request.team).debrief


def _stages(request: Request) -> list[str]:
    return (["skill"] if request.skill else []) + ["peers", "fallback"]


def _candidates(session: Session, env: Env, now: datetime, request: Request, stage: str) -> list[Member]:
    """Return who a stage pages, before leaving out those already paged."""
    team = request.team
    if stage == "fallback":
        roles = env.team(team).escalation.fallback
        return [m for role in roles for m in rotation.fallback_members(session, team, role, now)]
    peers = rotation.availability_list(session, team, now)
    if stage == "skill" and request.skill:
        return [peer for peer in peers if has_skill(peer, request.skill)]
    return peers


def _page_text(env: Env, now: datetime, request: Request) -> str:
    """Return a debrief's page: its note, how to answer, and when the call-out ends (its window)."""
    end = request.opened_at + _settings(env, request).window
    until = messages.local_time(end, request.team.timezone, now)
    return messages.debrief_page(request.code, requests.note_of(env, request), until)


def _page(
    session: Session, env: Env, now: datetime, request: Request, members: list[Member], text: str
) -> None:
    """Page members for the debrief by SMS (no call: a debrief is not a one-person hunt)."""
    left = max(request.opened_at + _settings(env, request).window - now, timedelta(minutes=1))
    requests.page_members(
        session, env, now, request, members, "debrief", left, call_after=timedelta(0), body=text
    )


def _reachable(request: Request) -> int:
    """Return how many could still be responding: those who said yes and those yet to answer."""
    return sum(1 for p in request.pages if p.state in (PageState.ACCEPTED, PageState.PENDING))


def _claim_stage(session: Session, request: Request, expected: int) -> bool:
    """Move the debrief from stage expected to the next; False if another caller already did."""
    claimed = session.execute(
        update(Request)
        .where(Request.id == request.id, Request.step == expected, Request.status == RequestStatus.OPEN)
        .values(step=expected + 1)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    requests.lock(session, request)  # whom the stage skips: every page and answer committed so far
    return True


def _page_stages(session: Session, env: Env, now: datetime, request: Request) -> list[tuple[str, int]] | None:
    """Page the next stage, and the ones after it while too few could say yes; return (stage, count)s.

    Returns None if another process had moved the debrief on first (it pages and tells).
    """
    settings = _settings(env, request)
    stages = _stages(request)
    paged: list[tuple[str, int]] = []
    claimed = False
    while request.step < len(stages) and _claim_stage(session, request, request.step):
        claimed = True
        stage = stages[request.step - 1]
        skip = {p.member_id for p in request.pages} | {request.initiator_id}
        members = [m for m in _candidates(session, env, now, request, stage) if m.id not in skip]
        members = list({m.id: m for m in members}.values())  # a member in two fallback roles: once
        text = _page_text(env, now, request) if members else ""
        _page(session, env, now, request, members, text)
        if members:
            paged.append((stage, len(members)))
            log.info("debrief %s: stage %s paged %d members", request.code, stage, len(members))
            if _reachable(request) >= settings.min_responders:
                break
    if not paged and request.step == len(stages):
        # Nobody left: widening is over, and whoever claims that tells the initiator so.
        claimed = _claim_stage(session, request, request.step) or claimed
    if not claimed:
        return None
    request.step_deadline = now + settings.widen_after if request.step <= len(stages) else None
    return paged


def _directors(session: Session, request: Request, now: datetime) -> list[Member]:
    """Return the directors to tell (see `rotation.directors_to_tell`), but not the initiator."""
    return [m for m in rotation.directors_to_tell(session, request.team, now) if m.id != request.initiator_id]


def _tell(session: Session, env: Env, now: datetime, request: Request, text: str, director: bool) -> None:
    """Text the initiator (a member; an API caller reads the API), and the directors too when asked."""
    if request.initiator is not None:
        notify(session, env, now, request.initiator, text, request)
    if director:
        for member in _directors(session, request, now):
            notify(session, env, now, member, text, request)


def _called_by(session: Session, request: Request) -> str:
    """Say who called a debrief: the member who texted it, the console user, or dispatch's API."""
    if request.initiator is not None:
        return request.initiator.name
    if request.opened_by_user_id is not None:
        user = session.get(ConsoleUser, request.opened_by_user_id)
        if user is not None:
            return f"{user.username} (console)"
    return "dispatch (API)"


def start(session: Session, env: Env, now: datetime, request: Request) -> None:
    """Page everyone of the first stage at once (widening at once if too few), and tell the director."""
    paged = _page_stages(session, env, now, request) or []
    by = _called_by(session, request)
    note = requests.note_of(env, request) or "no note"
    words = {**STARTED_WORDS, "skill": f"#{request.skill} peers"}
    whom = ", then ".join(words[stage] for stage, _ in paged) or "nobody"
    text = messages.debrief_started(request.code, by, whom, len(request.pages), note)
    for director in _directors(session, request, now):
        notify(session, env, now, director, text, request)
    log.info("debrief %s started: %d paged", request.code, len(request.pages))


def respond(session: Session, env: Env, now: datetime, member: Member, request: Request, yes: bool) -> str:
    """Record a member's YES or NO to a debrief (a later answer replaces theirs); return the reply."""
    if request.status != RequestStatus.OPEN:
        return messages.debrief_over(request.code)
    if member.id == request.initiator_id:
        return messages.debrief_own(request.code)
    # A tally, widen or close of this debrief by another process waits for this answer, or this for it.
    requests.lock(session, request)
    if request.status != RequestStatus.OPEN:
        return messages.debrief_over(request.code)
    mine = [p for p in request.pages if p.member_id == member.id]
    if not mine:
        if member.role != "director":  # the director may answer a debrief they were not paged for
            return messages.no_open_page()
        page = Page(request=request, member=member, step=request.step, tier="debrief", paged_at=now)
        session.add(page)
        mine = [page]
    state = PageState.ACCEPTED if yes else PageState.DECLINED
    if any(p.state != state for p in mine):
        for page in mine:
            page.state, page.answered_at, page.answer_channel = state, now, Channel.SMS
        # An UPDATE, not an attribute: the ORM writes nothing when the value it loaded was already True.
        session.execute(update(Request).where(Request.id == request.id).values(tally_dirty=True))
        log.info("debrief %s: %s %s", request.code, member.name, "responding" if yes else "unable")
    if yes:
        contact = requests.contact_of(env, request)
        return messages.debrief_yes(request.code, requests.note_of(env, request), contact)
    return messages.debrief_no(request.code)


def finish(session: Session, env: Env, now: datetime, member: Member, request: Request) -> str:
    """End a debrief on DONE CODE from its initiator (or a director, for one called through the API)."""
    allowed = member.id == request.initiator_id or (
        request.initiator_id is None and member.role == "director"
    )
    if not allowed:
        return messages.debrief_not_yours(request.code)
    if not _close(session, env, now, request, ClosedReason.DONE):
        return messages.debrief_over(request.code)
    text = messages.debrief_closed(tally_text(request))
    for director in _directors(session, request, now):
        if director.id != member.id:
            notify(session, env, now, director, text, request)
    return text


def _close(session: Session, env: Env, now: datetime, request: Request, reason: ClosedReason) -> bool:
    """Close an open debrief once (False if it was already closed); its contact details are purged later."""
    claimed = session.execute(
        update(Request)
        .where(Request.id == request.id, Request.status == RequestStatus.OPEN)
        .values(status=RequestStatus.CLOSED)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    requests.lock(session, request)  # close the pages still pending now, and end on a tally of every answer
    requests.close(session, env, now, request, area=None, overtime=False, reason=reason)
    request.tally_dirty = False
    request.tally_sent_at = now
    return True


def _set_deadline(session: Session, request: Request, deadline: datetime | None) -> bool:
    """Set the step deadline if the debrief is still open at the step it was loaded at; False if not."""
    claimed = session.execute(
        update(Request)
        .where(Request.id == request.id, Request.step == request.step, Request.status == RequestStatus.OPEN)
        .values(step_deadline=deadline)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    set_committed_value(request, "step_deadline", deadline)
    return True


def _widen_due(session: Session, request: Request, settings: DebriefConfig, now: datetime) -> bool:
    """Tell whether to widen now: too few said yes by the deadline, or too few could still say yes.

    While enough say yes the deadline is cleared; a change of mind that leaves too few sets it again.
    False, changing nothing, when another process has moved the debrief on since it was loaded.
    """
    if request.step > len(_stages(request)):
        return False
    if sum(1 for p in request.pages if p.state == PageState.ACCEPTED) >= settings.min_responders:
        if request.step_deadline is not None:
            _set_deadline(session, request, None)
        return False
    if request.step_deadline is None and not _set_deadline(session, request, now + settings.widen_after):
        return False
    assert request.step_deadline is not None
    return request.step_deadline <= now or _reachable(request) < settings.min_responders


def _widen(session: Session, env: Env, now: datetime, request: Request) -> None:
    """Page the next stage(s) and tell the initiator and director; or that nobody is left to page."""
    settings = _settings(env, request)
    paged = _page_stages(session, env, now, request)
    if paged is None:  # another process widened it and told them
        return
    yes = len(tally(request).yes)
    if paged:
        whom = " and ".join(STAGE_WORDS[stage] for stage, _ in paged)
        count = sum(n for _, n in paged)
        text = messages.debrief_widened(request.code, yes, settings.min_responders, whom, count)
    else:
        text = messages.debrief_short(request.code, yes, settings.min_responders)
    log.info(
        "debrief %s: %d of %d responding; widened to %s",
        request.code,
        yes,
        settings.min_responders,
        ", ".join(stage for stage, _ in paged) or "nobody more",
    )
    _tell(session, env, now, request, text, director=True)


def _send_tally(session: Session, env: Env, now: datetime, request: Request, every: timedelta) -> None:
    """Send the initiator the tally if answers came in and the last one was sent at least every ago."""
    if not request.tally_dirty:
        return
    last = request.tally_sent_at
    if last is not None and now - last < every:
        return
    claimed = session.execute(
        update(Request)
        .where(
            Request.id == request.id,
            Request.tally_dirty.is_(True),
            Request.tally_sent_at.is_(None) if last is None else Request.tally_sent_at == last,
        )
        .values(tally_dirty=False, tally_sent_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return
    # Count after the claim: it waited for any answer being made, so its mark cannot be cleared uncounted.
    requests.lock(session, request)
    _tell(session, env, now, request, tally_text(request), director=False)


def run_due(session: Session, env: Env, now: datetime) -> None:
    """Close debriefs past their window, widen those short of responders, and send the due tallies."""
    ids: Sequence[int] = session.scalars(
        select(Request.id)
        .where(Request.kind == RequestKind.DEBRIEF, Request.status == RequestStatus.OPEN)
        .order_by(Request.id)
    ).all()
    for request_id in ids:
        request = session.get(Request, request_id)
        if request is None or request.status != RequestStatus.OPEN:
            continue
        settings = _settings(env, request)
        if now >= request.opened_at + settings.window:
            if _close(session, env, now, request, ClosedReason.WINDOW):
                _tell(session, env, now, request, messages.debrief_closed(tally_text(request)), director=True)
            continue
        if _widen_due(session, request, settings, now):
            _widen(session, env, now, request)
        _send_tally(session, env, now, request, settings.tally_every)
