"""The voice line: a call hunts the on-call list one callee at a time; paged members answer by phone.

A hunt's state lives in the database (`VoiceHunt`), so any process can answer Twilio's next callback, and
every callback is claimed with a conditional update on (hunt, status, position): a retried callback finds
the hunt already moved and gets the same answer again. Nothing here renders TwiML: the functions return
what the call should do next (`Ring`, `Unanswered`, `Over`, `Prompt`) and the webhook says it.

Just over 400 lines: the caller's hunt and the paged member's call share the claims above; splitting
them would split one state machine.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callout import consent, escalation, messages, privacy, requests, rotation
from callout.crypto import sid_hash
from callout.env import Env
from callout.models import (
    Channel,
    ClosedReason,
    HuntStatus,
    Member,
    Page,
    PageState,
    Request,
    RequestKind,
    RequestStatus,
    Team,
    VoiceHunt,
)
from callout.outbox import hand_over
from callout.phones import maybe_e164

log = logging.getLogger(__name__)

RING_SECONDS = 20  # how long each callee's phone rings before the next one is tried
ANSWER_SECONDS = 5  # how long a callee (or a paged member) has to press a key after the prompt
STALE_AFTER = timedelta(hours=1)  # a hunt Twilio never called back about (the caller left at the greeting)
# What Twilio sends as From when the caller withheld their number.
WITHHELD = frozenset({"+266696687", "+7378742833", "+86282452253", "+2562533", "anonymous", "restricted"})
MACHINES = ("machine", "fax")  # AnsweredBy values of a page call nobody can answer


@dataclass(frozen=True)
class Ring:
    """Ring the callee at position of the hunt, showing the support number as caller ID."""

    token: str
    position: int
    number: str
    support_number: str


@dataclass(frozen=True)
class Unanswered:
    """Nobody accepted: give the crisis lines; callback tells whether a peer will text back."""

    callback: bool


@dataclass(frozen=True)
class Over:
    """Nothing more to say: the call was connected and ended, or the caller left."""


Step = Ring | Unanswered | Over


@dataclass(frozen=True)
class Prompt:
    """What a paged member hears on a page call; with gather, a 1 or 2 is collected after it."""

    text: str
    gather: bool = False


# --- calls to the support line ------------------------------------------------------------------


def caller_id(from_: str | None) -> str | None:
    """Return the caller's number as E.164, or None when it is withheld or not a phone number."""
    if not from_ or from_.strip().lower() in WITHHELD:
        return None
    return maybe_e164(from_)


def hunt_list(session: Session, env: Env, now: datetime, team: Team, caller: str | None) -> list[Member]:
    """Return whom a call rings, in order: the peers an SMS request pages, then the fallback roles."""
    policy = env.team(team).escalation
    peers = [m for m in rotation.availability_list(session, team, now) if m.phone != caller]
    fallback = [m for role in policy.fallback for m in rotation.fallback_members(session, team, role, now)]
    order: list[Member] = []
    for member in [*peers[: policy.peers], *fallback]:
        if member.phone != caller and all(m.id != member.id for m in order):
            order.append(member)
    return order


def start(session: Session, env: Env, now: datetime, team: Team, call_sid: str, caller: str | None) -> Step:
    """Start hunting for a new call (a retried webhook continues its hunt); return what the call does."""
    end_stale(session, now)
    key = sid_hash(call_sid)
    hunt = session.scalar(select(VoiceHunt).where(VoiceHunt.call_sid_hash == key))
    if hunt is not None:
        return current(session, hunt)
    members = hunt_list(session, env, now, team, caller)
    hunt = VoiceHunt(
        token=secrets.token_urlsafe(16),
        team=team,
        call_sid_hash=key,
        members=[m.id for m in members],
        position=0,
        status=HuntStatus.DIALING,
        caller_enc=env.vault.encrypt(caller) if caller else None,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(hunt)
    except IntegrityError:  # the same webhook, retried while the first was still being answered
        found = session.scalar(select(VoiceHunt).where(VoiceHunt.call_sid_hash == key))
        return current(session, found) if found is not None else Over()
    log.info("voice: hunt %d for %s rings %d members", hunt.id, team.slug, len(members))
    if not members:
        return _unanswered(session, env, now, hunt, call_sid)
    return current(session, hunt)


def find(session: Session, token: str) -> VoiceHunt | None:
    """Return the hunt our action URLs call token."""
    return session.scalar(select(VoiceHunt).where(VoiceHunt.token == token))


def current(session: Session, hunt: VoiceHunt) -> Step:
    """Return what the call does in the hunt's present state (the answer to repeat on a retry)."""
    if hunt.status == HuntStatus.DIALING:
        member = session.get(Member, hunt.members[hunt.position])
        assert member is not None  # members are deactivated, never deleted
        return Ring(hunt.token, hunt.position, member.phone, hunt.team.support_number)
    if hunt.status in (HuntStatus.CALLBACK, HuntStatus.MISSED):
        return Unanswered(callback=hunt.status == HuntStatus.CALLBACK)
    return Over()


def dialed(
    session: Session,
    env: Env,
    now: datetime,
    token: str,
    position: int,
    caller_left: bool = False,
    call_sid: str = "",
) -> Step:
    """Move on after the callee at position: ring the next, or end the hunt when nobody is left."""
    hunt = find(session, token)
    if hunt is None:
        return Over()
    claimed = session.execute(
        update(VoiceHunt)
        .where(
            VoiceHunt.id == hunt.id, VoiceHunt.status == HuntStatus.DIALING, VoiceHunt.position == position
        )
        .values(position=position + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(hunt)
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return Over() if caller_left else current(session, hunt)  # accepted, or a retried callback
    if caller_left or hunt.position >= len(hunt.members):
        step = _unanswered(session, env, now, hunt, call_sid)
        return Over() if caller_left else step
    return current(session, hunt)


def whisper_due(session: Session, token: str, position: int) -> bool:
    """Tell whether the callee at position is the one the hunt is ringing (so may take the call)."""
    hunt = find(session, token)
    return hunt is not None and hunt.status == HuntStatus.DIALING and hunt.position == position


def answer(
    session: Session, env: Env, now: datetime, token: str, position: int, digits: str, call_sid: str = ""
) -> bool:
    """Take the call for the callee at position if they pressed 1; return whether to connect them.

    call_sid is the caller's call (Twilio's ParentCallSid of the callee's call).
    """
    hunt = find(session, token)
    if hunt is None or digits.strip() != "1":
        return False
    claimed = session.execute(
        update(VoiceHunt)
        .where(
            VoiceHunt.id == hunt.id, VoiceHunt.status == HuntStatus.DIALING, VoiceHunt.position == position
        )
        .values(status=HuntStatus.ACCEPTED, ended_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(hunt)
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return hunt.status == HuntStatus.ACCEPTED and hunt.position == position  # a retried 1
    member = session.get(Member, hunt.members[position])
    assert member is not None
    _record_acceptance(session, env, now, hunt, member, call_sid)
    return True


def _record_acceptance(
    session: Session, env: Env, now: datetime, hunt: VoiceHunt, member: Member, call_sid: str
) -> None:
    """Record an accepted call as an SMS acceptance is recorded, and text the member its code.

    A caller who already asked for support has the callee take that request over (everyone else paged
    stands down); a new request is opened only when there is none, or someone else already has it.
    """
    caller = env.vault.decrypt(hunt.caller_enc) if hunt.caller_enc else None
    request = _take_over(session, env, now, hunt.team, member, caller) if caller else None
    if request is None:
        request = _accepted_request(session, env, now, hunt, member, caller)
    _end(session, env, now, hunt, request, call_sid)
    # The call-taken text, not accept's: the member is already talking to the caller.
    taken = messages.call_taken(request.code, caller)
    text = consent.with_reminder(session, env, now, member, request, taken)
    hand_over(session, env, now, member, text, request)  # it holds the caller's number
    log.info(
        "request %s accepted by %s via voice",
        request.code,
        requests.logged(request, member.name, member.role),
    )


def _take_over(
    session: Session, env: Env, now: datetime, team: Team, member: Member, caller: str
) -> Request | None:
    """Accept the caller's live request for member; None when it is someone else's (or there is none)."""
    request = requests.live_request_of(session, env, team, caller, requests.LIVE)  # exhausted too
    if request is None or request.accepted_by_id not in (None, member.id):
        return None
    if request.accepted_by_id is None:
        escalation.accept(session, env, now, member, request, channel=Channel.VOICE, despite_a_pass=True)
        if request.accepted_by_id != member.id:  # taken by text a moment ago
            return None
    if not any(p.member_id == member.id and p.state == PageState.ACCEPTED for p in request.pages):
        _accepted_page(session, env, now, request, member)
    return request


def _accepted_page(session: Session, env: Env, now: datetime, request: Request, member: Member) -> None:
    """Record the accepting member's page: RELEASE hands the request back to the others, never to them."""
    page = next((p for p in request.pages if p.member_id == member.id and p.step == request.step), None)
    if page is None:
        tier = member.role if member.role in env.team(request.team).escalation.fallback else "peer"
        page = Page(request=request, member=member, step=request.step, tier=tier, paged_at=now)
        session.add(page)
    page.state, page.answered_at, page.answer_channel = PageState.ACCEPTED, now, Channel.VOICE
    session.flush()


def _accepted_request(
    session: Session, env: Env, now: datetime, hunt: VoiceHunt, member: Member, caller: str | None
) -> Request:
    """Open a voice request already accepted by member."""
    team = hunt.team
    request = Request(
        team=team,
        code=requests.new_code(session, team),
        kind=RequestKind.SUPPORT,
        channel=Channel.VOICE,
        status=RequestStatus.ACCEPTED,
        opened_at=hunt.created_at,
        step=1,
        contact_enc=env.vault.encrypt(caller) if caller else None,
        contact_key=env.vault.lookup_key(caller) if caller else None,
        accepted_at=now,
        accepted_by=member,
        accepted_channel=Channel.VOICE,
    )
    session.add(request)
    _accepted_page(session, env, now, request, member)
    return request


def _unanswered(session: Session, env: Env, now: datetime, hunt: VoiceHunt, call_sid: str) -> Step:
    """End a hunt nobody accepted: open a text request to the caller, or count a withheld call."""
    caller = env.vault.decrypt(hunt.caller_enc) if hunt.caller_enc else None
    team = hunt.team
    if caller:
        request, opened = escalation.live_or_open(session, env, now, team, caller, Channel.VOICE)
        if opened and request.status == RequestStatus.OPEN:
            ack = messages.requester_ack(team.name, env.team(team).confidentiality_limits)
            requests.tell_requester(session, env, now, request, ack)
        hunt.status = HuntStatus.CALLBACK
    else:
        request = _missed(session, env, now, hunt)
        hunt.status = HuntStatus.MISSED
    _end(session, env, now, hunt, request, call_sid)
    log.info("voice: hunt %d unanswered, request %s (%s)", hunt.id, request.code, hunt.status)
    return Unanswered(callback=hunt.status == HuntStatus.CALLBACK)


def _missed(session: Session, env: Env, now: datetime, hunt: VoiceHunt) -> Request:
    """Record a withheld call nobody took, for the statistics only: nobody can call it back."""
    request = Request(
        team=hunt.team,
        code=requests.new_code(session, hunt.team),
        kind=RequestKind.SUPPORT,
        channel=Channel.VOICE,
        status=RequestStatus.CLOSED,
        opened_at=hunt.created_at,
        exhausted_at=now,
        closed_at=now,
        closed_reason=ClosedReason.UNANSWERED,
        purge_at=now + env.config.privacy.purge_after,
    )
    session.add(request)
    session.flush()
    return request


def _end(session: Session, env: Env, now: datetime, hunt: VoiceHunt, request: Request, call_sid: str) -> None:
    """Link a finished hunt to its request and forget the caller; the provider's log of the call goes too."""
    hunt.request = request
    privacy.remember(session, env, now, request.id, call_sid)
    hunt.ended_at = now
    hunt.caller_enc = None
    hunt.call_sid_hash = None


def end_stale(session: Session, now: datetime) -> int:
    """Forget the callers of hunts Twilio never called back about (the caller hung up at the greeting)."""
    result = session.execute(
        update(VoiceHunt)
        .where(VoiceHunt.status == HuntStatus.DIALING, VoiceHunt.created_at < now - STALE_AFTER)
        .values(status=HuntStatus.ABANDONED, caller_enc=None, call_sid_hash=None, ended_at=now)
        .execution_options(synchronize_session=False)
    )
    count: int = result.rowcount  # type: ignore[attr-defined]
    if count:
        log.info("voice: %d abandoned hunts ended", count)
    return count


# --- pages by phone (call_after) ------------------------------------------------------------------


def page_prompt(session: Session, page_id: int, answered_by: str = "") -> Prompt:
    """Return what a paged member hears when they pick up; a machine hears nothing and changes nothing."""
    page = session.get(Page, page_id)
    if page is None or answered_by.startswith(MACHINES):
        return Prompt("")
    request = page.request
    if page.state in (PageState.PENDING, PageState.TIMEOUT) and request.status in (
        RequestStatus.OPEN,
        RequestStatus.EXHAUSTED,
    ):
        return Prompt(messages.voice_page(request.code, request.kind), gather=True)
    return _no_longer_waiting(page)


def page_answer(session: Session, env: Env, now: datetime, page_id: int, digits: str) -> Prompt:
    """Act on a key pressed on a page call: 1 accepts and 2 passes, as by SMS; others ask again."""
    page = session.get(Page, page_id)
    if page is None:
        return Prompt("")
    request, member = page.request, page.member
    key = digits.strip()[:1]
    if request.kind == RequestKind.TEST:  # a TEST page: 1 confirms, anything else asks again
        if key != "1":
            return page_prompt(session, page_id)
        escalation.accept(session, env, now, member, request, channel=Channel.VOICE)
        return Prompt(messages.voice_test_confirmed(request.code))
    if key == "1":
        if page.state == PageState.ACCEPTED or request.accepted_by_id == member.id:
            return Prompt(messages.voice_accepted(request.code))  # a retried 1: the text is on its way
        text = escalation.accept(session, env, now, member, request, channel=Channel.VOICE)
        if request.kind != RequestKind.DEBRIEF and request.accepted_by_id != member.id:
            return _no_longer_waiting(page)
        text = consent.with_reminder(session, env, now, member, request, text)
        hand_over(session, env, now, member, text, request)  # the number goes by text, never by voice
        return Prompt(messages.voice_accepted(request.code))
    if key == "2":
        step = request.step
        if page.state in (PageState.PENDING, PageState.TIMEOUT):
            escalation.decline(session, env, now, member, request, channel=Channel.VOICE)
        if page.state == PageState.DECLINED:
            next_paged = request.status == RequestStatus.OPEN and request.step != step
            return Prompt(messages.voice_declined(request.code, next_paged))
        return _no_longer_waiting(page)
    return page_prompt(session, page_id)


def _no_longer_waiting(page: Page) -> Prompt:
    """Return what to tell a paged member when the page needs no answer any more."""
    request = page.request
    if request.accepted_by_id == page.member_id:
        return Prompt(messages.voice_yours(request.code))
    if page.state == PageState.DECLINED and request.status == RequestStatus.OPEN:
        return Prompt(messages.voice_passed(request.code))
    if request.accepted_by is not None:
        return Prompt(messages.voice_taken(request.code, request.accepted_by.name))
    return Prompt(messages.voice_not_waiting(request.code))
