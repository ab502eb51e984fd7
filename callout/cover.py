"""COVER: a peer asks the other peers to take one of their shifts; the first `1 CODE` takes it as an override.

A cover is a request of kind "cover" (its code is unique among live requests, so it never equals a support
request's code) with a `covers` row for the stretch asked about. Each other peer who can be paged then gets a
page of tier "cover" (a text, never a call). Taking it is claimed with a conditional update on the request,
as an acceptance is, so with several processes exactly one `1 CODE` wins; the winner's override is written
in the same transaction. Unanswered by `ALERT_BEFORE` the shift, the director is alerted; unanswered when
the shift begins, it ends. A cover whose shift stopped being the asker's (the director's override, their
own AWAY) ends as moot, and the asker and the peers still asked are told. Each end and the alert are claimed
on the covers row, so they happen once. The caller commits.

A bare `1` never takes a cover: covers always need their code, so a page answered with a bare 1 is never
mistaken for one.

Over 400 lines because COVER is one flow (ask, page, take, pass, alert, end) whose claims are read together.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callout import messages, notices, requests, rotation, shifts
from callout.env import Env
from callout.models import (
    Channel,
    ClosedReason,
    Cover,
    CoverState,
    Member,
    Override,
    Page,
    PageState,
    Request,
    RequestKind,
    RequestStatus,
    Team,
)
from callout.outbox import enqueue_sms, notify
from callout.shifts import Stretch

log = logging.getLogger(__name__)

ALERT_BEFORE = timedelta(hours=12)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_SLASHED = re.compile(r"^(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2}|\d{4}))?$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_NAMED = re.compile(r"^(?:(\d{1,2})\s*([a-z]{3,9})|([a-z]{3,9})\s*(\d{1,2}))$")


def parse_day(text: str, today: date) -> date | None:
    """Read the day a COVER names: 12/24, 12/24/26, 2026-12-24, Dec 24, 24 Dec, Thu, today, tomorrow.

    A month and day without a year is the next one to come (today included). Returns None when the text is
    not a date.
    """
    word = " ".join(text.lower().replace(",", " ").split()).rstrip(".")
    if word in ("today", "tonight"):
        return today
    if word in ("tomorrow", "tmrw", "tmw"):
        return today + timedelta(days=1)
    for index, name in enumerate(WEEKDAYS):
        if len(word) >= 3 and name.startswith(word):  # thu, thur, thurs, thursday
            return today + timedelta(days=(index - today.weekday()) % 7)
    try:
        if match := _ISO.match(word):
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if match := _SLASHED.match(word):
            month, day, year = int(match.group(1)), int(match.group(2)), match.group(3)
            if year is not None:
                return date(int(year) + (2000 if len(year) == 2 else 0), month, day)
            return _coming(today, month, day)
        if match := _NAMED.match(word):
            day_text, month_text = (
                (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(3))
            )
            named = next((i + 1 for i, m in enumerate(MONTHS) if month_text.startswith(m)), None)
            if named is None:
                return None
            return _coming(today, named, int(day_text))
    except ValueError:  # 2/30, 13/1: no such day
        return None
    return None


def _coming(today: date, month: int, day: int) -> date:
    """Return the next month/day on or after today (raise ValueError if there is no such day)."""
    this_year = date(today.year, month, day) if (month, day) != (2, 29) else _leap(today.year, today)
    return this_year if this_year >= today else date(today.year + 1, month, day)


def _leap(year: int, today: date) -> date:
    """Return the next 29 February on or after today."""
    while True:
        try:
            candidate = date(year, 2, 29)
        except ValueError:
            year += 1
            continue
        if candidate >= today:
            return candidate
        year += 1


def ask(session: Session, env: Env, now: datetime, member: Member, day_text: str) -> str:
    """Ask the other peers to take one of member's shifts (their next, or the one starting on a day)."""
    team = member.team
    if member.role != "peer":
        return messages.cover_peers_only()
    zone = ZoneInfo(team.timezone)
    rotation.ensure_anchor(session, team, now)  # the shift asked about must stay the one it is
    ahead = shifts.shifts_ahead(session, team, now)
    mine = [s for s in shifts.stretches_of(ahead, member, after=now) if s.start > now]
    running = next((s for s in shifts.stretches_of(ahead, member, after=now) if s.start <= now), None)
    if day_text:
        today = now.astimezone(zone).date()
        day = parse_day(day_text, today)
        if day is None:
            return messages.cover_usage()
        if ahead and not ahead[0].day <= day <= ahead[-1].day:  # "isn't your shift" would be a guess
            named = day.strftime("%a %d %b") + (f" {day.year}" if day.year != today.year else "")
            if day < ahead[0].day:
                return messages.cover_past(named)
            return messages.cover_too_far(named, (day - shifts.HORIZON).strftime("%a %d %b"))
        wanted = [s for s in _per_shift(ahead, member) if _shift_day(team, s) == day]
        if (
            running is not None
            and _shift_day(team, running) == day
            and not any(s.start > now for s in wanted)
        ):
            return messages.cover_begun(_when(team, running.end))
        stretch = next((s for s in wanted if s.start > now), None)
        if stretch is None:
            return messages.cover_not_yours(
                day.strftime("%a %d %b"), [_when(team, s.start) for s in mine[:3]]
            )
    else:
        stretch = next(iter(_per_shift(ahead, member, after=now)), None)
        if stretch is None:
            if running is not None:
                return messages.cover_begun(_when(team, running.end))
            return messages.cover_none()
    open_one = session.scalar(
        select(Cover).where(
            Cover.team_id == team.id, Cover.starts_at == stretch.start, Cover.state == CoverState.OPEN
        )
    )
    if open_one is not None:
        if open_one.asker_id == member.id:
            return messages.cover_again(_when(team, stretch.start), open_one.request.code)
        _moot(session, env, now, open_one.request, open_one)  # its shift is this member's now
    asked = _whom_to_ask(session, team, member, stretch)
    if not asked:
        return messages.cover_nobody()
    soon = stretch.start - ALERT_BEFORE <= now  # past the time the director would be alerted: at once
    request = Request(
        team=team,
        code=requests.new_code(session, team),
        kind=RequestKind.COVER,
        channel=Channel.SMS,
        status=RequestStatus.OPEN,
        opened_at=now,
        step=0,
        initiator=member,
    )
    try:
        with session.begin_nested():
            session.add(request)
            session.flush()
            session.add(
                Cover(
                    request_id=request.id,
                    team_id=team.id,
                    asker_id=member.id,
                    starts_at=stretch.start,
                    ends_at=stretch.end,
                    alert_at=max(stretch.start - ALERT_BEFORE, now),
                    alerted_at=now if soon else None,  # told below, with the ask
                    state=CoverState.OPEN,
                )
            )
            session.flush()
    except IntegrityError:  # the same COVER, texted twice at once: the other one asked
        return messages.cover_again(_when(team, stretch.start), None)
    start, end = _when(team, stretch.start), _when(team, stretch.end)
    for peer in asked:
        page = Page(request=request, member=peer, step=0, tier="cover", paged_at=now, state=PageState.PENDING)
        session.add(page)
        session.flush()
        body = messages.cover_page(request.code, member.name, start, end)
        enqueue_sms(session, env, now, team, peer.phone, body, purpose="page", request=request, page=page)
    if soon:
        for director in rotation.directors_to_tell(session, team, now):
            notify(session, env, now, director, messages.cover_alert_soon(request.code, member.name, start))
    log.info(
        "cover %s: %s asks %d peers for %s", request.code, member.name, len(asked), stretch.start.isoformat()
    )
    return messages.cover_asked(request.code, len(asked), start, end, director_told=soon)


def _per_shift(ahead: list[shifts.Shift], member: Member, after: datetime | None = None) -> list[Stretch]:
    """Return member's stretches as primary, one per shift (a cover is of one shift at most)."""
    return [
        s
        for shift in ahead
        for s in shift.stretches
        if s.primary is not None and s.primary.id == member.id and (after is None or s.start > after)
    ]


def _shift_day(team: Team, stretch: Stretch) -> date:
    """Return the day of the shift a stretch belongs to (its local start date, before the handoff too)."""
    return rotation.shift_of(team, stretch.start)


def _when(team: Team, at: datetime) -> str:
    return messages.local_zoned(at, team.timezone)


def _whom_to_ask(session: Session, team: Team, asker: Member, stretch: Stretch) -> list[Member]:
    """Return the other active peers who could be paged when the stretch begins, in rotation order."""
    return [
        peer
        for peer in rotation.rotation_peers(session, team)
        if peer.id != asker.id and not peer.opted_out and not _away_at(peer, stretch.start)
    ]


def _away_at(member: Member, at: datetime) -> bool:
    away = shifts.away_of(member)
    return away is not None and away.covers(at)


def take(session: Session, env: Env, now: datetime, member: Member, request: Request) -> str:
    """Take the cover for member if nobody has yet (`1 CODE`); return what to tell them."""
    requests.lock(session, request)
    cover = session.get(Cover, request.id, populate_existing=True)
    assert cover is not None
    asker, team = cover.asker, request.team
    if request.accepted_by is not None:
        if request.accepted_by_id == member.id:
            return messages.cover_yours(asker.name, _when(team, cover.starts_at), _when(team, cover.ends_at))
        return messages.cover_taken(request.code, request.accepted_by.name)
    if member.id == asker.id:
        return messages.cover_own(request.code)
    if not any(p.member_id == member.id for p in request.pages):
        return messages.unknown_code(request.code)
    if cover.state != CoverState.OPEN or now >= cover.starts_at:
        return _ended(session, request, cover, member, now)
    if not _still_theirs(session, team, cover, now):
        _moot(session, env, now, request, cover, answering=member)
        return _changed(session, request, cover, member, now)
    if _away_at(member, cover.starts_at):  # AWAY since the page: they would be skipped, the shift uncovered
        return messages.cover_away(request.code, _when(team, cover.starts_at))
    won = session.execute(
        update(Request)
        .where(
            Request.id == request.id, Request.accepted_by_id.is_(None), Request.status == RequestStatus.OPEN
        )
        .values(
            status=RequestStatus.CLOSED,
            accepted_by_id=member.id,
            accepted_at=now,
            accepted_channel=Channel.SMS,
            closed_at=now,
            closed_reason=ClosedReason.TAKEN,
            purge_at=now + env.config.privacy.purge_after,
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(request)
    if won.rowcount != 1:  # type: ignore[attr-defined]
        holder = request.accepted_by.name if request.accepted_by else "someone else"
        return messages.cover_taken(request.code, holder)
    cover.state = CoverState.TAKEN
    with notices.told_of_changes(session, env, team, now, quiet={member.id, asker.id}):
        _make_room(session, team, cover.starts_at, cover.ends_at)
        session.add(
            Override(
                team_id=team.id,
                member_id=member.id,
                member=member,
                starts_at=cover.starts_at,
                ends_at=cover.ends_at,
                created_at=now,
                cover_id=request.id,
            )
        )
    start, end = _when(team, cover.starts_at), _when(team, cover.ends_at)
    log.info("cover %s taken by %s", request.code, member.name)
    for page in request.pages:
        if page.member_id == member.id:
            page.state, page.answered_at, page.answer_channel = PageState.ACCEPTED, now, Channel.SMS
        elif page.state in (PageState.PENDING, PageState.DECLINED, PageState.TIMEOUT, PageState.FAILED):
            if page.state == PageState.PENDING:
                notify(session, env, now, page.member, messages.cover_stand_down(request.code, member.name))
            page.state = PageState.STOOD_DOWN if page.state == PageState.PENDING else page.state
    notify(session, env, now, asker, messages.cover_done_asker(request.code, member.name, start, end))
    for director in rotation.directors_to_tell(session, team, now):
        notify(
            session,
            env,
            now,
            director,
            messages.cover_done_director(request.code, member.name, asker.name, start, end),
        )
    return messages.cover_yours(asker.name, start, end)


def _holder(session: Session, team: Team, cover: Cover, now: datetime) -> Member | None:
    """Return who is primary when the cover's stretch begins, as the plan stands now (None: nobody)."""
    (shift,) = shifts.team_shifts(
        session, team, cover.starts_at, cover.starts_at + timedelta(microseconds=1), now
    )
    return shift.primary_at(cover.starts_at)


def _still_theirs(session: Session, team: Team, cover: Cover, now: datetime) -> bool:
    """Tell whether the asker is still the primary when the stretch begins (the plan may have changed)."""
    primary = _holder(session, team, cover, now)
    return primary is not None and primary.id == cover.asker_id


def _make_room(session: Session, team: Team, start: datetime, end: datetime) -> None:
    """Cut the overrides overlapping [start, end) out of it: the cover's override takes that time."""
    overlapping = session.scalars(
        select(Override).where(
            Override.team_id == team.id, Override.starts_at < end, Override.ends_at > start
        )
    ).all()
    for override in overlapping:
        if override.starts_at < start and override.ends_at > end:  # around it: keep both ends
            session.add(
                Override(
                    team_id=team.id,
                    member_id=override.member_id,
                    starts_at=end,
                    ends_at=override.ends_at,
                    created_at=override.created_at,
                    cover_id=override.cover_id,
                )
            )
            override.ends_at = start
        elif override.starts_at < start:
            override.ends_at = start
        elif override.ends_at > end:
            override.starts_at = end
        else:
            session.delete(override)
    session.flush()


def decline(session: Session, env: Env, now: datetime, member: Member, request: Request) -> str:
    """Record a pass (`2 CODE`); when everyone asked has passed, alert the director at once."""
    requests.lock(session, request)
    cover = session.get(Cover, request.id, populate_existing=True)
    assert cover is not None
    paged = [p for p in request.pages if p.member_id == member.id]
    mine = [p for p in paged if p.state == PageState.PENDING]
    if not mine:
        if request.status != RequestStatus.OPEN:
            return _ended(session, request, cover, member, now)
        if any(p.state == PageState.DECLINED for p in paged):
            return messages.cover_passed(request.code)  # a second 2: the same answer
        return messages.unknown_code(request.code)
    for page in mine:
        page.state, page.answered_at, page.answer_channel = PageState.DECLINED, now, Channel.SMS
    if all(p.state != PageState.PENDING for p in request.pages) and cover.state == CoverState.OPEN:
        if _still_theirs(session, request.team, cover, now):
            _alert(session, env, now, request, cover, everyone_passed=True)
        else:  # nobody needs to take it: no alert
            _moot(session, env, now, request, cover, answering=member)
    return messages.cover_passed(request.code)


def _alert(
    session: Session, env: Env, now: datetime, request: Request, cover: Cover, everyone_passed: bool
) -> None:
    """Alert the director (and tell the asker) that nobody has taken the cover; once per cover."""
    claimed = session.execute(
        update(Cover)
        .where(
            Cover.request_id == cover.request_id, Cover.alerted_at.is_(None), Cover.state == CoverState.OPEN
        )
        .values(alerted_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return
    team = request.team
    start = _when(team, cover.starts_at)
    for director in rotation.directors_to_tell(session, team, now):
        notify(
            session,
            env,
            now,
            director,
            messages.cover_alert(request.code, cover.asker.name, start, everyone_passed),
        )
    notify(session, env, now, cover.asker, messages.cover_alert_asker(request.code, start))
    log.warning("cover %s: nobody has taken it; the director was alerted", request.code)


def _end(
    session: Session, env: Env, now: datetime, request: Request, cover: Cover, state: CoverState
) -> bool:
    """End an open cover (unanswered when its shift began, or moot); False if it had ended already."""
    claimed = session.execute(
        update(Cover)
        .where(Cover.request_id == cover.request_id, Cover.state == CoverState.OPEN)
        .values(state=state)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.refresh(cover)
    requests.lock(session, request)
    request.status, request.closed_at, request.closed_reason = RequestStatus.CLOSED, now, ClosedReason(state)
    request.purge_at = now + env.config.privacy.purge_after
    for page in request.pages:
        if page.state == PageState.PENDING:
            page.state = PageState.CLOSED
    return True


def _ended(session: Session, request: Request, cover: Cover, member: Member, now: datetime) -> str:
    """Answer member's reply to a cover that has ended, saying how it ended."""
    if cover.state == CoverState.TAKEN and request.accepted_by is not None:
        return messages.cover_taken(request.code, request.accepted_by.name)
    if cover.state == CoverState.MOOT and now < cover.starts_at:
        return _changed(session, request, cover, member, now)
    return messages.cover_over(request.code)


def _moot(
    session: Session, env: Env, now: datetime, request: Request, cover: Cover, answering: Member | None = None
) -> bool:
    """End a cover whose shift is no longer the asker's; tell the asker and the peers still asked.

    answering, a peer whose 1 found it moot, is told by the reply. Returns False if it had ended already.
    """
    waiting = [p.member for p in request.pages if p.state == PageState.PENDING and p.member is not answering]
    if not _end(session, env, now, request, cover, CoverState.MOOT):
        return False
    team = request.team
    holder = _holder(session, team, cover, now)
    start = _when(team, cover.starts_at)
    closed = messages.cover_moot_asker(request.code, start, holder.name if holder else None)
    notify(session, env, now, cover.asker, closed)
    for peer in waiting:
        notify(session, env, now, peer, _changed(session, request, cover, peer, now, holder))
    log.info("cover %s ended: its shift is no longer its asker's", request.code)
    return True


def _changed(
    session: Session,
    request: Request,
    cover: Cover,
    peer: Member,
    now: datetime,
    holder: Member | None = None,
) -> str:
    """Tell a peer asked that a cover is no longer needed, and who has the shift now (them, perhaps)."""
    holder = holder or _holder(session, request.team, cover, now)
    if holder is None:
        return messages.cover_changed(request.code)
    return messages.cover_changed(request.code, holder.name, yours=holder.id == peer.id)


def run_due(session: Session, env: Env, now: datetime) -> int:
    """End the covers whose shift began unanswered, or is no longer the asker's; alert the director of those
    nobody took by 12 h before.

    Every open cover is looked at (a few a team at most): whether its shift is still the asker's is known only
    by working the shift out, and a change (an override, an AWAY) may come at any time.
    """
    done = 0
    for cover in session.scalars(
        select(Cover).where(Cover.state == CoverState.OPEN).order_by(Cover.starts_at)
    ).all():
        if not _still_theirs(session, cover.request.team, cover, now):
            done += _moot(session, env, now, cover.request, cover)
        elif cover.starts_at <= now:
            done += _unanswered(session, env, now, cover)
        elif cover.alerted_at is None and cover.alert_at <= now:
            _alert(session, env, now, cover.request, cover, everyone_passed=False)
            done += 1
    return done


def _unanswered(session: Session, env: Env, now: datetime, cover: Cover) -> bool:
    """End a cover nobody took by the start of its shift, and tell its asker they are on call."""
    if not _end(session, env, now, cover.request, cover, CoverState.UNANSWERED):
        return False
    team = cover.request.team
    notices.claim(session, now, team, cover.asker, cover.starts_at)  # this text is their notice
    notify(
        session,
        env,
        now,
        cover.asker,
        messages.cover_unanswered(cover.request.code, _when(team, cover.ends_at)),
    )
    log.info("cover %s ended unanswered: the shift began", cover.request.code)
    return True
