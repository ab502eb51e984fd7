"""The console's live board: what is open or being handled, and what needs the director's eye.

It shows codes, kinds, channels, times, states, steps and roles. Of members it names only who holds a
request, who is being paged for a dispatch page, and a debrief's responders; for a support request it never
names who is or was paged (whoever is missing from the list could be the member who asked: a TALK), and it
never reads a request's contact or note.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from callout import debrief, durations, requests, rotation
from callout.env import Env
from callout.models import Channel, Page, PageState, Request, RequestKind, RequestStatus, Team

COVERAGE_DAYS = 7
TIER_ROLE = {"peer": "peer", "psychologist": "psychologist", "director": "director", "debrief": "team"}


@dataclass(frozen=True)
class Row:
    """One live request as the board shows it."""

    code: str
    kind: str  # support | dispatch | debrief
    channel: str  # sms | voice | api | console (a page or debrief opened by a console user)
    opened_at: datetime
    status: str  # open | accepted | exhausted
    step: int
    paging: str | None  # the role being paged now ("peer", "psychologist", ...), None when nobody is
    paging_names: tuple[str, ...]  # who is being paged now: dispatch pages only
    holder: str | None
    deadline: datetime | None
    yes: tuple[str, ...] = ()  # a debrief's responders, in the order they answered
    no: int = 0
    waiting: int = 0
    mine: bool = False  # opened by the console user looking at it


@dataclass(frozen=True)
class Warning:
    """Something the director should fix before it matters."""

    text: str
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class Board:
    """The board of one team at one moment."""

    rows: tuple[Row, ...]
    counts: dict[str, int]
    warnings: tuple[Warning, ...]
    primary: str | None
    shift_end: datetime


def _row(request: Request, user_id: int | None) -> Row:
    """Describe one live request for the board."""
    pending = [p for p in request.pages if p.state == PageState.PENDING and p.step == request.step]
    tiers = sorted({p.tier for p in pending})
    paging = (
        ", ".join(TIER_ROLE.get(t, t) for t in tiers)
        if pending and request.status == RequestStatus.OPEN
        else None
    )
    names: tuple[str, ...] = ()
    if request.kind == RequestKind.DISPATCH and paging is not None:
        names = tuple(p.member.name for p in pending)
    yes: tuple[str, ...] = ()
    no = waiting = 0
    if request.kind == RequestKind.DEBRIEF:
        counted = debrief.tally(request)
        yes, no, waiting = tuple(counted.yes), len(counted.no), counted.waiting
    return Row(
        code=request.code,
        kind=request.kind,
        channel="console"
        if request.channel == Channel.API and request.opened_by_user_id
        else request.channel,
        opened_at=request.opened_at,
        status=request.status,
        step=request.step,
        paging=paging,
        paging_names=names,
        holder=request.accepted_by.name if request.accepted_by is not None else None,
        deadline=request.step_deadline,
        yes=yes,
        no=no,
        waiting=waiting,
        mine=user_id is not None and request.opened_by_user_id == user_id,
    )


BOARD_KINDS = (RequestKind.SUPPORT, RequestKind.DISPATCH, RequestKind.DEBRIEF)


def live_requests(
    session: Session, team: Team, *, support: bool = True, opened_by: int | None = None
) -> list[Request]:
    """Return the team's live requests, oldest first; without support, pages and debriefs only.

    Live: open, accepted, or exhausted and not yet purged (a late YES still accepts one until then; after
    the purge nobody could call the person back). opened_by limits them to the pages and debriefs that
    console user opened.
    """
    query = (
        select(Request)
        .where(
            Request.team_id == team.id,
            Request.kind.in_(BOARD_KINDS),  # a member's COVER or TEST page is nobody asking for help
            or_(
                Request.status.in_((RequestStatus.OPEN, RequestStatus.ACCEPTED)),
                and_(Request.status == RequestStatus.EXHAUSTED, Request.purged_at.is_(None)),
            ),
        )
        .options(
            selectinload(Request.pages).selectinload(Page.member),
            selectinload(Request.accepted_by),
        )
        .order_by(Request.opened_at, Request.id)
    )
    if not support:
        query = query.where(Request.kind != RequestKind.SUPPORT)
    if opened_by is not None:
        query = query.where(Request.opened_by_user_id == opened_by)
    return list(session.scalars(query))


def warnings(session: Session, env: Env, now: datetime, team: Team) -> list[Warning]:
    """Return the coverage warnings: coming shifts with nobody reachable in a role, members opted out."""
    configured = env.configured(team)
    roles: Sequence[str] = configured.escalation.fallback if configured else ()
    found = []
    for gap in rotation.uncovered(session, team, now, COVERAGE_DAYS, fallback=roles):
        who = " or ".join("peer" if role == "peer" else f"{role}" for role in gap.missing)
        found.append(Warning(f"No {who} can be reached for this shift", gap.start, gap.end))
    opted_out = [m for m in team.members if m.active and m.opted_out]
    for member in opted_out:
        found.append(Warning(f"{member.name} opted out of texts (texted STOP): they cannot be paged"))
    return found


def board(
    session: Session,
    env: Env,
    now: datetime,
    team: Team,
    *,
    support: bool = True,
    opened_by: int | None = None,
    viewer_id: int | None = None,
) -> Board:
    """Return the board of team at now (see live_requests for support and opened_by)."""
    live = live_requests(session, team, support=support, opened_by=opened_by)
    rows = tuple(_row(request, viewer_id) for request in live)
    counts = Counter(row.status for row in rows)
    available = rotation.availability_list(session, team, now)
    _start, end = rotation.shift_bounds(team, now)
    return Board(
        rows=rows,
        counts={status: counts.get(status, 0) for status in requests.LIVE},
        warnings=tuple(warnings(session, env, now, team)) if support else (),
        primary=available[0].name if available else None,
        shift_end=end,
    )


def age(now: datetime, since: datetime) -> str:
    """Return how long ago since was, as a board shows it: "45s", "12 min", "3 h 05"."""
    return durations.board(now - since)


def remaining(now: datetime, deadline: datetime | None) -> str | None:
    """Return the time left until deadline ("2 min"), or None without one."""
    if deadline is None:
        return None
    if deadline <= now:
        return "now"
    return age(deadline, now)
