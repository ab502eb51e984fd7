"""A team's shifts over a period, as its members live them: who is primary when, and why.

One function (`team_shifts`) serves every front end that shows the schedule: `callout oncall`, the calendar
feeds, the console's calendar, SHIFTS and the notices ahead. It applies what changes the rotation's plan, in
the order paging does (`rotation.paging_order`): an override (a director's, or a COVER someone took) makes
its member primary; a primary who is away, opted out or inactive is skipped for the next available peer in
rotation order. A shift is cut into stretches wherever that changes (an override starting mid-shift, an AWAY
ending), and a stretch with nobody available is a gap.

AWAY is known from when it was texted until it ends (or until BACK); nobody can text AWAY ahead of time, so
future shifts see only the AWAY periods already running. The rotation of past shifts is worked out with
today's roster, like the rotation itself. The function only reads: it never anchors the rotation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from itertools import chain, pairwise
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callout import rotation
from callout.away import end_of
from callout.models import Member, Override, Team

HORIZON = timedelta(days=90)  # how far ahead feeds and SHIFTS look


class Why(StrEnum):
    """Why a stretch has the primary it has."""

    ROTATION = "rotation"  # the rotation's own primary
    OVERRIDE = "override"  # a director's override
    COVER = "cover"  # an override made when a peer took a COVER
    STAND_IN = "stand-in"  # the next available peer: the primary is away, opted out or inactive
    GAP = "gap"  # nobody is available


@dataclass(frozen=True)
class Away:
    """A member's AWAY period: from when they texted it (None: not known) to its end (None: until BACK)."""

    member: Member
    start: datetime | None
    end: datetime | None

    def covers(self, at: datetime) -> bool:
        """Tell whether the member is away at at."""
        return (self.start is None or self.start <= at) and (self.end is None or at < self.end)


@dataclass(frozen=True)
class Stretch:
    """A part of a shift with one primary (in the team's zone)."""

    start: datetime
    end: datetime
    primary: Member | None
    why: Why
    override: Override | None = None  # the override (or taken cover) in force, if any
    instead_of: Member | None = None  # for a stand-in or a gap: whom the plan made primary

    @property
    def length(self) -> timedelta:
        """Return how long the stretch really lasts (not end - start: that is wall-clock time)."""
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)


@dataclass(frozen=True)
class Shift:
    """One shift from handoff to handoff (in the team's zone), named by the local date it starts on."""

    day: date
    start: datetime
    end: datetime
    scheduled: Member | None  # the rotation's primary, before overrides and AWAY
    stretches: tuple[Stretch, ...]  # cover the shift from start to end, in order
    overrides: tuple[Override, ...]  # the overrides (and covers taken) that overlap the shift
    away: tuple[Away, ...]  # the AWAY periods that overlap the shift, of any member of the team

    @property
    def length(self) -> timedelta:
        """Return how long the shift really lasts: 23 or 25 hours on DST change days.

        Not end - start: Python subtracts two datetimes of one zone as wall-clock times.
        """
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)

    @property
    def primary(self) -> Member | None:
        """Return the primary of the shift's first stretch (who is first paged when it begins)."""
        return self.stretches[0].primary

    @property
    def gaps(self) -> tuple[tuple[datetime, datetime], ...]:
        """Return the stretches of the shift with nobody available."""
        return tuple((s.start, s.end) for s in self.stretches if s.primary is None)

    @property
    def covers(self) -> tuple[Override, ...]:
        """Return the overrides of this shift that come from a COVER someone took."""
        return tuple(o for o in self.overrides if o.cover_id is not None)

    def primary_at(self, at: datetime) -> Member | None:
        """Return the primary at at (which must fall within the shift)."""
        for stretch in self.stretches:
            if stretch.start <= at < stretch.end:
                return stretch.primary
        raise ValueError("that moment is not in this shift")


def away_of(member: Member) -> Away | None:
    """Return the member's AWAY period, or None when they are not away."""
    if member.away_until is None:
        return None
    return Away(member, member.away_since, end_of(member.away_until))


def team_shifts(session: Session, team: Team, start: datetime, end: datetime, now: datetime) -> list[Shift]:
    """Return the team's shifts that overlap [start, end), in order, with their primaries after everything.

    Two queries whatever the period (the team's members, the overrides); overrides' members and the
    anchor come from the members already loaded.
    """
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return []
    zone = ZoneInfo(team.timezone)
    first = rotation.shift_of(team, start)
    last = rotation.shift_of(team, end - timedelta(microseconds=1))
    members = list(session.scalars(select(Member).where(Member.team_id == team.id)))
    peers = sorted((m for m in members if m.role == "peer" and m.active), key=lambda m: (m.position, m.id))
    window = (rotation.shift_start(team, first), rotation.shift_start(team, last + timedelta(days=1)))
    overrides = list(
        session.scalars(
            select(Override)
            .where(Override.team_id == team.id, Override.starts_at < window[1], Override.ends_at > window[0])
            .order_by(Override.starts_at, Override.id)
        )
    )
    aways = [a for a in (away_of(m) for m in members if m.active) if a is not None]
    # Availability by object identity: a 90-day feed asks it thousands of times, ORM attributes are slow.
    rota = _Rota(peers, {id(m) for m in members if not m.active or m.opted_out})
    planned = _planner(session, team, peers, rotation.shift_of(team, now))
    shifts = []
    day = first
    shift_ends = rotation.shift_start(team, first)
    while day <= last:
        shift_begins, shift_ends = shift_ends, rotation.shift_start(team, day + timedelta(days=1))
        index = planned(day)
        mine = [o for o in overrides if o.starts_at < shift_ends and o.ends_at > shift_begins]
        away = [a for a in aways if _overlaps(a, shift_begins, shift_ends)]
        stretches = _stretches(shift_begins, shift_ends, rota, index, mine, away, zone)
        shifts.append(
            Shift(
                day=day,
                start=shift_begins.astimezone(zone),
                end=shift_ends.astimezone(zone),
                scheduled=peers[index] if peers else None,
                stretches=stretches,
                overrides=tuple(mine),
                away=tuple(away),
            )
        )
        day += timedelta(days=1)
    return shifts


def shifts_ahead(session: Session, team: Team, now: datetime, horizon: timedelta = HORIZON) -> list[Shift]:
    """Return the shifts from the one running at now to horizon ahead."""
    return team_shifts(session, team, now, now + horizon, now)


def stretches_of(shifts: Iterable[Shift], member: Member, after: datetime | None = None) -> list[Stretch]:
    """Return the stretches where member is primary (ending after after, when given), joined across handoffs.

    Two shifts in a row as primary (a week's cover, say) read as one stretch.
    """
    joined: list[Stretch] = []
    for shift in shifts:
        for stretch in shift.stretches:
            if stretch.primary is None or stretch.primary.id != member.id:
                continue
            if after is not None and stretch.end <= after:
                continue
            if joined and joined[-1].end == stretch.start and joined[-1].why == stretch.why:
                stretch = Stretch(joined[-1].start, stretch.end, member, stretch.why, stretch.override)
                joined[-1] = stretch
            else:
                joined.append(stretch)
    return joined


def _planner(session: Session, team: Team, peers: Sequence[Member], today: date) -> Callable[[date], int]:
    """Return a function giving the index in peers of a shift day's scheduled primary."""
    if not peers:
        return lambda day: 0
    if team.anchor_shift is None or team.anchor_member_id is None:
        anchor_day, anchor_index = today, 0  # what ensure_anchor would do: the first peer, from today
    else:
        anchor_day, anchor_index = team.anchor_shift, rotation.anchor_index(session, team, peers)
    return lambda day: (anchor_index + (day - anchor_day).days) % len(peers)


@dataclass(frozen=True)
class _Rota:
    """The peers in rotation order, and which members can never be paged (inactive, opted out)."""

    peers: Sequence[Member]
    never: set[int]  # id() of the member objects

    def first_available(
        self, planned: Member | None, index: int, at: datetime, away: dict[int, Away]
    ) -> Member | None:
        """Return planned if available at at, else the first available peer in order from index."""
        n = len(self.peers)
        for member in chain(
            (planned,) if planned is not None else (), (self.peers[(index + k) % n] for k in range(n))
        ):
            key = id(member)
            period = away.get(key)
            if key not in self.never and not (period is not None and period.covers(at)):
                return member
        return None


def _overlaps(away: Away, start: datetime, end: datetime) -> bool:
    """Tell whether an AWAY period overlaps [start, end)."""
    return (away.start is None or away.start < end) and (away.end is None or away.end > start)


def _stretches(
    start: datetime,
    end: datetime,
    rota: _Rota,
    index: int,
    overrides: Sequence[Override],
    away: Sequence[Away],
    zone: ZoneInfo,
) -> tuple[Stretch, ...]:
    """Cut [start, end) wherever the primary may change, and name the primary of each part."""
    cuts = {start, end}
    for each in overrides:
        cuts |= {each.starts_at, each.ends_at}
    for period in away:
        cuts |= {t for t in (period.start, period.end) if t is not None}
    edges = sorted(t for t in cuts if start <= t <= end)
    away_ids = {id(period.member): period for period in away}
    scheduled = rota.peers[index] if rota.peers else None
    stretches: list[Stretch] = []
    for begins, ends in pairwise(edges):
        override = next((o for o in overrides if o.starts_at <= begins < o.ends_at), None)
        planned = override.member if override is not None else scheduled
        primary = rota.first_available(planned, index, begins, away_ids)
        why = _why(primary, planned, override)
        stretch = Stretch(
            begins.astimezone(zone),
            ends.astimezone(zone),
            primary,
            why,
            override,
            planned if why in (Why.STAND_IN, Why.GAP) else None,
        )
        previous = stretches[-1] if stretches else None
        if previous is not None and _same(previous, stretch):
            stretches[-1] = Stretch(
                previous.start, stretch.end, primary, why, previous.override, previous.instead_of
            )
        else:
            stretches.append(stretch)
    return tuple(stretches)


def _why(primary: Member | None, planned: Member | None, override: Override | None) -> Why:
    """Say why primary is primary."""
    if primary is None:
        return Why.GAP
    if primary is planned:
        if override is None:
            return Why.ROTATION
        return Why.COVER if override.cover_id is not None else Why.OVERRIDE
    return Why.STAND_IN


def _same(a: Stretch, b: Stretch) -> bool:
    """Tell whether two adjacent stretches say the same thing (one may follow the other's cut)."""
    same_primary = (a.primary.id if a.primary else None) == (b.primary.id if b.primary else None)
    same_override = (a.override.id if a.override else None) == (b.override.id if b.override else None)
    return same_primary and a.why == b.why and same_override
