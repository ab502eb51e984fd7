"""What happens when someone texts the support line: requesters are helped, members give commands."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callout import (
    away,
    calendar,
    commands,
    consent,
    cover,
    debrief,
    durations,
    escalation,
    members,
    messages,
    notices,
    privacy,
    requests,
    rotation,
    shifts,
    testpage,
)
from callout.crypto import sid_hash
from callout.db import insert_new
from callout.env import Env
from callout.models import (
    Channel,
    InboundSeen,
    Member,
    Page,
    PageState,
    Request,
    RequestKind,
    RequestStatus,
    Team,
)
from callout.outbox import hand_over

log = logging.getLogger(__name__)

FOREVER = away.UNTIL_BACK  # the away_until of an AWAY until BACK (callout.away reads it)


@dataclass
class Reply:
    """The immediate TwiML reply, and words to relay now without storing them."""

    text: str | None = None
    relays: list[tuple[str, list[str]]] = field(default_factory=list)  # (to, the parts, in order)
    request_id: int | None = None  # the request a requester's text went to (its provider ids are kept)


def first_time(session: Session, now: datetime, message_sid: str) -> bool:
    """Record a MessageSid; return False if it was processed before (a provider retry)."""
    if not message_sid:
        return True
    return insert_new(session, InboundSeen, sid_hash=sid_hash(message_sid), seen_at=now)


def handle_sms(
    session: Session,
    env: Env,
    now: datetime,
    team: Team,
    sender: str,
    body: str,
    message_sid: str = "",
    *,
    opt_out_type: str = "",
    requester_allowed: Callable[[], bool] = lambda: True,
) -> Reply:
    """Act on one inbound SMS and return the reply.

    opt_out_type is Twilio's OptOutType: only a STOP ends here (Twilio confirms it to the sender
    itself); a HELP or an opt-in such as YES is also a text to act on, like any other. A requester
    (not a member) is served only while requester_allowed() says the team is not flooded.

    The provider's record of the text is kept (encrypted) with the request it went to, to be deleted
    after the purge; a requester's text that went to no request is queued for deletion at once.
    """
    member = members.by_phone(session, env, team, sender)
    reply = _answer(session, env, now, team, member, sender, body, opt_out_type, requester_allowed)
    if reply.request_id is not None:
        privacy.remember(session, env, now, reply.request_id, message_sid)
    elif member is None:
        privacy.forget_at_provider(session, env, now, message_sid)
    return reply


def _answer(
    session: Session,
    env: Env,
    now: datetime,
    team: Team,
    member: Member | None,
    sender: str,
    body: str,
    opt_out_type: str,
    requester_allowed: Callable[[], bool],
) -> Reply:
    """Decide what one inbound SMS does and what to reply (see handle_sms)."""
    keyword = opt_out_type.strip().upper()
    if keyword == "STOP":
        members.opt_out(session, env, now, team, sender, "STOP")
        return Reply()
    if keyword == "START":
        members.opt_out(session, env, now, team, sender, "START")
        if commands.is_opt_in_only(body):
            return Reply()
    if commands.is_privacy(body):
        limits = env.team(team).confidentiality_limits
        return Reply(messages.privacy_statement(durations.short(env.config.privacy.purge_after), limits))
    if member is None:
        if not requester_allowed():
            log.warning("rate limit: team %s is flooded; answering with the crisis lines only", team.slug)
            return Reply(messages.line_busy())
        return _from_requester(session, env, now, team, sender, body)
    return _from_member(session, env, now, member, body)


def _from_requester(session: Session, env: Env, now: datetime, team: Team, sender: str, body: str) -> Reply:
    """Open a support request, or pass the sender's words on to the peer who has it."""
    request, opened = escalation.live_or_open(session, env, now, team, sender, Channel.SMS)
    if not opened:
        return _follow_up(session, request, body)
    # Someone trying the line before asking (TEST) is told it works; a peer calls all the same.
    testing = commands.parse(body).name == "test"
    ack = messages.requester_ack(team.name, env.team(team).confidentiality_limits, testing)
    return Reply(ack, request_id=request.id)


def _follow_up(session: Session, request: Request, body: str) -> Reply:
    """Relay a follow-up to the accepting peer, or reassure while paging goes on.

    Words sent before a peer accepts reach nobody (they are never stored to be passed on later): the
    first such text is told so, once, with a conditional update so that two at once tell it once.
    """
    holder = request.accepted_by
    if request.status == RequestStatus.ACCEPTED and holder is not None:
        if holder.opted_out:  # texts cannot reach them; they have the number and call
            return Reply(messages.requester_accepted(), request_id=request.id)
        log.info(
            "request %s: relaying a follow-up to %s",
            request.code,
            requests.logged(request, holder.name, holder.role),
        )
        return Reply(None, [(holder.phone, messages.relay(request.code, body))], request.id)
    first = session.execute(
        update(Request)
        .where(Request.id == request.id, Request.told_unrelayed.is_(False))
        .values(told_unrelayed=True)
        .execution_options(synchronize_session=False)
    )
    if first.rowcount == 1:  # type: ignore[attr-defined]
        return Reply(messages.requester_unrelayed(), request_id=request.id)
    return Reply(messages.requester_waiting(), request_id=request.id)


def _from_member(session: Session, env: Env, now: datetime, member: Member, body: str) -> Reply:
    """Carry out a member's command."""
    command = commands.parse(body)
    handler = _HANDLERS.get(command.name)
    answer_without_code = command.name in ("accept", "decline") and command.code is None
    if handler is None or (answer_without_code and not requests.live_pages_for(session, member)):
        own = requests.live_request_of(session, env, member.team, member.phone)
        if own is not None:  # a member who asked for support themselves keeps talking to their peer
            return _follow_up(session, own, body)  # ("No worries, I'm OK now" is words, not a pass)
    if handler is None:
        return Reply(messages.help_text(member.role))
    return Reply(handler(session, env, now, member, command))


def _pick(session: Session, member: Member, command: commands.Command, word: str) -> Request | str:
    """Find the request a 1/2 answers: by code, or the only one open for the member; else a question."""
    if command.code:
        request = requests.find_by_code(session, member.team, command.code)
        if request is None or not requests.can_answer(member, request):
            return messages.unknown_code(command.code)
        return request
    everything = requests.live_pages_for(session, member)
    live = [r for r in everything if r.kind != RequestKind.COVER]  # a cover is taken with its code only
    if len(live) == 1:
        return live[0]
    if len(live) > 1:
        return messages.which_page([r.code for r in live], word)
    covers = [r.code for r in everything if r.kind == RequestKind.COVER]
    if covers:
        return messages.cover_needs_code(covers) if word == "1" else messages.which_page(covers, word)
    recent = session.scalar(
        select(Request)
        .join(Page, Page.request_id == Request.id)
        .where(Page.member_id == member.id, Request.status.in_(requests.LIVE))
        .order_by(Page.paged_at.desc())
        .limit(1)
    )
    if recent is not None and recent.accepted_by is not None and recent.accepted_by_id != member.id:
        return messages.already_taken(recent.code, recent.accepted_by.name)
    if recent is not None and recent.accepted_by_id == member.id:
        return recent  # theirs: a 1 sends the number again, a 2 is told it stays theirs
    if recent is not None and any(
        p.member_id == member.id and p.state == PageState.DECLINED for p in recent.pages
    ):
        if word == "2":
            return messages.passed_already(recent.code)
        if recent.status == RequestStatus.OPEN:
            return messages.passed_first(recent.code)
        return messages.passed_nobody_took(recent.code)  # a bare 1 takes nothing; with its code it may
    return messages.no_open_page()


def _accept(
    session: Session, env: Env, now: datetime, member: Member, command: commands.Command
) -> str | None:
    picked = _pick(session, member, command, "1")
    if isinstance(picked, str):
        return picked
    text = escalation.accept(session, env, now, member, picked, Channel.SMS)
    text = consent.with_reminder(session, env, now, member, picked, text)
    if (
        picked.status == RequestStatus.ACCEPTED
        and picked.accepted_by_id == member.id
        and picked.kind in escalation.ESCALATING
    ):
        # The text holds the requester's number (or dispatch's note): it goes through the outbox, whose
        # provider id is kept to delete Twilio's copy after the purge. A TwiML reply's id is never known.
        hand_over(session, env, now, member, text, picked)
        return None
    return text


def _decline(session: Session, env: Env, now: datetime, member: Member, command: commands.Command) -> str:
    picked = _pick(session, member, command, "2")
    if isinstance(picked, str):
        return picked
    return escalation.decline(session, env, now, member, picked)


def _held(session: Session, member: Member, command: commands.Command) -> Request | str:
    """Find the request a DONE/RELEASE is about: by code, or the only one the member holds."""
    if command.code:
        request = requests.find_by_code(session, member.team, command.code)
        if request is None:
            return messages.unknown_code(command.code)
        return request
    held = session.scalars(
        select(Request).where(Request.accepted_by_id == member.id, Request.status == RequestStatus.ACCEPTED)
    ).all()
    if len(held) == 1:
        return held[0]
    if held:
        return messages.which_held([r.code for r in held], command.name.upper())
    return messages.holding_nothing()


def _done(session: Session, env: Env, now: datetime, member: Member, command: commands.Command) -> str:
    request = _held(session, member, command)
    if isinstance(request, str):
        return request
    if request.kind == RequestKind.DEBRIEF:
        return debrief.finish(session, env, now, member, request)
    requests.lock(session, request)  # a RELEASE or the unspecified close may be under way elsewhere
    if request.accepted_by_id != member.id or request.status != RequestStatus.ACCEPTED:
        return messages.not_yours(request.code)
    areas = env.team(member.team).content_areas
    area, overtime = None, False
    for word in command.args:
        if word == "ot":
            overtime = True
        elif word not in areas:
            return messages.bad_area(areas)
        elif area is not None and word != area:
            return messages.one_area(areas)
        else:
            area = word
    requests.close(session, env, now, request, area=area, overtime=overtime)
    return messages.closed(request.code, area, overtime)


def _release(session: Session, env: Env, now: datetime, member: Member, command: commands.Command) -> str:
    request = _held(session, member, command)
    if isinstance(request, str):
        return request
    return escalation.release(session, env, now, member, request)


def _who(session: Session, env: Env, now: datetime, member: Member, command: commands.Command) -> str:
    team = member.team
    available = env.lineups.available(session, team, now)
    policy = env.team(team).escalation
    names = [m.name for m in available[: policy.peers]]
    _, end = rotation.shift_bounds(team, now)
    following = env.lineups.available(session, team, end)
    return messages.who(names, messages.local(end, team.timezone), following[0].name if following else None)


def _away(session: Session, env: Env, now: datetime, member: Member, command: commands.Command) -> str:
    if member.role not in away.AWAY_ROLES:
        return messages.away_roles_only()
    with notices.told_of_changes(session, env, member.team, now, quiet={member.id}):
        return _go_away(session, env, now, member, command)


def _go_away(session: Session, env: Env, now: datetime, member: Member, command: commands.Command) -> str:
    length = None
    if command.args:
        try:
            length = away.parse_length(" ".join(command.args))
        except away.UnreadableLength as exc:
            return messages.away_usage(exc.reason, exc.bare_number)
    period = away.go_away(member, now, length)
    if period.end is None:
        log.info("%s is away until BACK", member.name)
        return messages.away(None)
    log.info("%s is away until %s", member.name, period.end.isoformat())
    return messages.away(messages.local_day(period.end, member.team.timezone, now))


def _back(session: Session, env: Env, now: datetime, member: Member, command: commands.Command) -> str:
    if member.role not in away.AWAY_ROLES:
        return messages.away_roles_only()
    with notices.told_of_changes(session, env, member.team, now, quiet={member.id}):
        was_away = away.come_back(member, now)
    log.info("%s is back", member.name)
    return messages.back(was_away)


def _talk(session: Session, env: Env, now: datetime, member: Member, command: commands.Command) -> str:
    _, opened = escalation.live_or_open(session, env, now, member.team, member.phone, Channel.SMS)
    return messages.talk_ack() if opened else messages.requester_waiting()


def _page(session: Session, env: Env, now: datetime, member: Member, command: commands.Command) -> str:
    if member.role not in ("dispatch", "director"):
        return messages.page_refused(member.role)
    if not command.note:
        return messages.page_needs_note(command.name.upper())
    kind = RequestKind.DISPATCH if command.name == "page" else RequestKind.DEBRIEF
    if kind == RequestKind.DEBRIEF and command.skill:
        problem = debrief.check_skill(session, member.team, command.skill)
        if problem:
            return problem
    request = escalation.open_request(
        session,
        env,
        now,
        member.team,
        kind=kind,
        channel=Channel.SMS,
        contact=member.phone,
        note=command.note,
        initiator=member,
        skill=command.skill,
    )
    if kind == RequestKind.DISPATCH:
        return messages.dispatch_paging(request.code)
    return messages.debrief_paging(request.code, len(request.pages))


def _shifts(session: Session, env: Env, now: datetime, member: Member, command: commands.Command) -> str:
    team = member.team
    rotation.ensure_anchor(session, team, now)
    ahead = shifts.shifts_ahead(session, team, now)
    mine = shifts.stretches_of(ahead, member, after=now)[:3]
    listed = [
        (messages.local_zoned(s.start, team.timezone), messages.local_zoned(s.end, team.timezone))
        for s in mine
    ]
    link = calendar.url(env, calendar.token_for(session, env, team, member, now))
    fallback = member.role if member.role in env.team(team).escalation.fallback else None
    return messages.shifts_list(listed, link, fallback)


def _cover(session: Session, env: Env, now: datetime, member: Member, command: commands.Command) -> str:
    return cover.ask(session, env, now, member, command.note)


def _test(session: Session, env: Env, now: datetime, member: Member, command: commands.Command) -> str:
    return testpage.start(session, env, now, member)


_HANDLERS = {
    "accept": _accept,
    "decline": _decline,
    "done": _done,
    "release": _release,
    "who": _who,
    "away": _away,
    "back": _back,
    "talk": _talk,
    "page": _page,
    "debrief": _page,
    "shifts": _shifts,
    "cover": _cover,
    "test": _test,
}
