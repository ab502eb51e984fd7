"""The daily rotation: shifts, who is primary, overrides (shift swaps) and the availability list.

A shift runs from the handoff time to the next day's handoff in the team's zone and is named by the
local date it starts on. The primary of a shift is counted from the team's anchor (a shift date and
the peer who was primary on it), so it is a pure function of the date: right after any downtime.
Roster changes re-anchor (`roster_change`) so that nobody's current shift moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callout import away
from callout.models import Member, Override, Team

Window = tuple[datetime, datetime]


class OverrideError(ValueError):
    """An override (shift swap) that cannot be added or found."""


@dataclass(frozen=True)
class Handoff:
    """The current shift and the member to text that it began (None when no peer is available)."""

    shift: date
    start: datetime
    end: datetime
    primary: Member | None


# --- shifts -------------------------------------------------------------------------------------


def _zone(team: Team) -> ZoneInfo:
    return ZoneInfo(team.timezone)


def _handoff(team: Team) -> time:
    hours, minutes = team.handoff.split(":")
    return time(int(hours), int(minutes))


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive datetime given to the rotation; use aware datetimes")
    return at.astimezone(UTC)


def local_time(team: Team, at: datetime) -> datetime:
    """Return at in the team's time zone."""
    return _aware(at).astimezone(_zone(team))


def shift_start(team: Team, shift: date) -> datetime:
    """Return when the shift named by its local start date begins, in UTC.

    Like RFC 5545: a handoff inside a DST gap is read with the offset before the gap (02:30 on a
    spring-forward night becomes 03:30), and one inside a fold is its first occurrence. Either way
    shift starts stay strictly increasing.
    """
    local = datetime.combine(shift, _handoff(team), tzinfo=_zone(team))  # fold=0
    return local.astimezone(UTC)


def shift_of(team: Team, at: datetime) -> date:
    """Return the local date of the shift containing at."""
    at = _aware(at)
    shift = at.astimezone(_zone(team)).date()
    while at < shift_start(team, shift):
        shift -= timedelta(days=1)
    while at >= shift_start(team, shift + timedelta(days=1)):
        shift += timedelta(days=1)
    return shift


def shift_bounds(team: Team, at: datetime) -> Window:
    """Return the [start, end) of the shift containing at, in UTC (at exactly handoff: the new shift)."""
    shift = shift_of(team, at)
    return shift_start(team, shift), shift_start(team, shift + timedelta(days=1))


# --- the rotation -------------------------------------------------------------------------------


def rotation_peers(session: Session, team: Team) -> list[Member]:
    """Return the team's active peers in rotation (position) order."""
    query = (
        select(Member)
        .where(Member.team_id == team.id, Member.role == "peer", Member.active.is_(True))
        .order_by(Member.position, Member.id)
    )
    return list(session.scalars(query))


def fallback_members(session: Session, team: Team, role: str, at: datetime) -> list[Member]:
    """Return the members of role who can be paged at at (active, not opted out, not away), in order."""
    return fallback_by_role(session, team, (role,), at)[role]


def fallback_by_role(
    session: Session, team: Team, roles: Sequence[str], at: datetime
) -> dict[str, list[Member]]:
    """Return the members of each role who can be paged at at, in position order (in one query)."""
    by_role: dict[str, list[Member]] = {role: [] for role in roles}
    for member in _reachable(session, team, roles):
        if not away.is_away(member, _aware(at)):
            by_role[member.role].append(member)
    return by_role


def directors_to_tell(session: Session, team: Team, at: datetime) -> list[Member]:
    """Return the directors an alert or warning goes to: those not away at at, else every reachable one.

    A director who is away is not paged, but when every director is away an alert still reaches them:
    that nobody was reached, or that a shift has no cover, must be known by someone.
    """
    directors = list(_reachable(session, team, ("director",)))
    present = [m for m in directors if not away.is_away(m, _aware(at))]
    return present or directors


def _reachable(session: Session, team: Team, roles: Sequence[str]) -> Sequence[Member]:
    """Return the active, not opted-out members of roles, in position order."""
    query = (
        select(Member)
        .where(
            Member.team_id == team.id,
            Member.role.in_(roles),
            Member.active.is_(True),
            Member.opted_out.is_(False),
        )
        .order_by(Member.position, Member.id)
    )
    return session.scalars(query).all()


class Rotating(Protocol):
    """A member as the rotation sees it: an ORM Member, or the in-memory copy of one (`lineup.Person`)."""

    @property
    def id(self) -> int: ...
    @property
    def position(self) -> int: ...
    @property
    def active(self) -> bool: ...
    @property
    def opted_out(self) -> bool: ...
    @property
    def away_since(self) -> datetime | None: ...
    @property
    def away_until(self) -> datetime | None: ...


R = TypeVar("R", bound=Rotating)


def is_available(member: Rotating, at: datetime) -> bool:
    """Tell whether member can be paged at: active, not opted out and not away."""
    return member.active and not member.opted_out and not away.is_away(member, _aware(at))


def ensure_anchor(session: Session, team: Team, now: datetime) -> None:
    """Anchor a rotation that has none: the current shift goes to the first peer (the caller commits)."""
    if team.anchor_shift is not None and team.anchor_member_id is not None:
        return
    peers = rotation_peers(session, team)
    if peers:
        team.anchor_shift = shift_of(team, now)
        team.anchor_member_id = peers[0].id


def anchor_index(session: Session, team: Team, peers: Sequence[Member]) -> int:
    """Return the index in peers of the anchor member, or of the peer that took its place."""
    return anchor_of(team, peers, lambda member_id: session.get(Member, member_id))


def anchor_of(team: Team, peers: Sequence[Rotating], find: Callable[[int], Rotating | None]) -> int:
    """Return the index in peers of the anchor member, or of the peer that took its place (find: by id)."""
    for index, peer in enumerate(peers):
        if peer.id == team.anchor_member_id:
            return index
    # The anchor left the rotation without a re-anchor: the next peer after its place takes over.
    anchor = find(team.anchor_member_id) if team.anchor_member_id else None
    if anchor is None:
        return 0
    return sum(1 for peer in peers if (peer.position, peer.id) < (anchor.position, anchor.id))


def rotation_at(session: Session, team: Team, at: datetime) -> list[Member]:
    """Return every active peer in rotation order, starting with the scheduled primary of at's shift."""
    ensure_anchor(session, team, at)
    peers = rotation_peers(session, team)
    if not peers or team.anchor_shift is None:
        return peers
    return rotated(team, peers, at, anchor_index(session, team, peers))


def rotated(team: Team, peers: Sequence[R], at: datetime, anchor: int) -> list[R]:
    """Return peers (in rotation order, peers[anchor] primary on the anchor shift) from at's primary on."""
    if not peers or team.anchor_shift is None:
        return list(peers)
    shifts = (shift_of(team, at) - team.anchor_shift).days
    first = (anchor + shifts) % len(peers)
    return [*peers[first:], *peers[:first]]


def scheduled_primary(session: Session, team: Team, at: datetime) -> Member | None:
    """Return the peer the rotation makes primary on at's shift (overrides and AWAY ignored)."""
    peers = rotation_at(session, team, at)
    return peers[0] if peers else None


def reanchor(session: Session, team: Team, now: datetime) -> None:
    """Anchor the rotation on the current shift and its scheduled primary (the caller commits)."""
    primary = scheduled_primary(session, team, now)
    team.anchor_shift = shift_of(team, now) if primary else None
    team.anchor_member_id = primary.id if primary else None


@contextmanager
def roster_change(session: Session, team: Team, now: datetime) -> Iterator[None]:
    """Keep the current primary primary across the roster changes made inside the block.

    If the current primary leaves the rotation, the next remaining peer in the old order takes over.
    """
    before = rotation_at(session, team, now)  # the current primary first
    yield
    session.flush()
    remaining = {peer.id for peer in rotation_peers(session, team)}
    successor = next((peer for peer in before if peer.id in remaining), None)
    if successor is None:
        team.anchor_shift = None
        team.anchor_member_id = None
        ensure_anchor(session, team, now)
    else:
        team.anchor_shift = shift_of(team, now)
        team.anchor_member_id = successor.id
    session.flush()


# --- overrides ----------------------------------------------------------------------------------


def override_at(session: Session, team: Team, at: datetime) -> Override | None:
    """Return the override in force at at, if any."""
    at = _aware(at)
    query = (
        select(Override)
        .where(Override.team_id == team.id, Override.starts_at <= at, Override.ends_at > at)
        .order_by(Override.starts_at, Override.id)
    )
    return session.scalars(query).first()


def add_override(
    session: Session, team: Team, member: Member, start: datetime, end: datetime, now: datetime
) -> Override:
    """Make member primary from start to end; raise OverrideError if that makes no sense."""
    start, end, now = _aware(start), _aware(end), _aware(now)
    if member.team_id != team.id:
        raise OverrideError(f"{member.name} is not on team {team.slug}")
    if member.role != "peer" or not member.active:
        raise OverrideError(f"{member.name} is not an active peer")
    if end <= start:
        raise OverrideError("an override must end after it starts")
    if end <= now:
        raise OverrideError("that override would already be over")
    clash = session.scalars(
        select(Override).where(
            Override.team_id == team.id, Override.starts_at < end, Override.ends_at > start
        )
    ).first()
    if clash is not None:
        raise OverrideError(f"it overlaps override {clash.id} ({clash.member.name})")
    override = Override(
        team_id=team.id, member_id=member.id, starts_at=start, ends_at=end, created_at=now, member=member
    )
    session.add(override)
    session.flush()
    return override


def list_overrides(session: Session, team: Team, now: datetime | None = None) -> list[Override]:
    """Return the team's overrides by start time; with now, only those not yet over."""
    query = select(Override).where(Override.team_id == team.id)
    if now is not None:
        query = query.where(Override.ends_at > _aware(now))
    return list(session.scalars(query.order_by(Override.starts_at, Override.id)))


def remove_override(session: Session, override_id: int, team: Team | None = None) -> Override:
    """Delete an override (of team, when given) and return it; raise OverrideError if there is none."""
    override = session.get(Override, override_id)
    if override is None or (team is not None and override.team_id != team.id):
        raise OverrideError(f"no override {override_id}")
    override.member  # noqa: B018  (load it now: the caller may describe what was removed)
    session.delete(override)
    session.flush()
    return override


# --- who is on call -----------------------------------------------------------------------------


def paging_order(session: Session, team: Team, at: datetime) -> list[Member]:
    """Return the primary (an override's member, else the scheduled one) then the rotation, unfiltered."""
    rotation = rotation_at(session, team, at)
    override = override_at(session, team, at)
    return primary_first(rotation, override.member if override is not None else None)


def primary_first(rotation: Sequence[R], primary: R | None) -> list[R]:
    """Return the rotation with primary (an override's member, when there is one) put first."""
    if primary is None:
        return list(rotation)
    return [primary, *(peer for peer in rotation if peer.id != primary.id)]


def availability_list(session: Session, team: Team, at: datetime) -> list[Member]:
    """Return every peer that may be paged at at, in paging order (skipping away, opted-out, inactive)."""
    return [peer for peer in paging_order(session, team, at) if is_available(peer, at)]


@dataclass(frozen=True)
class Gap:
    """A shift that starts with nobody reachable in some roles ("peer" first, then fallback roles)."""

    start: datetime
    end: datetime
    missing: tuple[str, ...]


def coverage_gaps(session: Session, team: Team, now: datetime, days: int) -> list[Window]:
    """Return the current and next days shifts that start with no available peer (see `uncovered`)."""
    return [(gap.start, gap.end) for gap in uncovered(session, team, now, days, fallback=())]


def uncovered(session: Session, team: Team, now: datetime, days: int, fallback: Sequence[str]) -> list[Gap]:
    """Return the current and next days shifts that start with no available peer, or nobody in a role.

    fallback names the roles paged after the peers: a role with nobody reachable is a gap too. A shift
    is checked at its start (the current one: at now). Someone whose AWAY ends later in the shift does
    not cover it: the hours before are uncovered and the director should know. An AWAY that exists now
    only ever ends, so whoever is available at a shift's start is available for the whole shift.
    """
    now = _aware(now)
    peers = rotation_peers(session, team)
    roles = [role for role in dict.fromkeys(fallback) if role != "peer"]
    others = _reachable(session, team, roles)
    gaps: list[Gap] = []
    shift = shift_of(team, now)
    for offset in range(days + 1):
        start = shift_start(team, shift + timedelta(days=offset))
        end = shift_start(team, shift + timedelta(days=offset + 1))
        at = max(start, now)
        missing = [] if any(is_available(peer, at) for peer in peers) else ["peer"]
        missing += [
            role for role in roles if not any(m.role == role and not away.is_away(m, at) for m in others)
        ]
        if missing:
            gaps.append(Gap(start, end, tuple(missing)))
    return gaps


def handoff_due(
    session: Session, team: Team, now: datetime, within: timedelta | None = None
) -> Handoff | None:
    """Return the current shift and whom to text that it began; None if it began more than within ago.

    The member is the head of the availability list now (the scheduled primary unless away).
    Claim the notice once per (team, shift) before sending it.
    """
    shift = shift_of(team, now)
    start = shift_start(team, shift)
    if within is not None and _aware(now) - start > within:
        return None
    available = availability_list(session, team, now)
    end = shift_start(team, shift + timedelta(days=1))
    return Handoff(shift=shift, start=start, end=end, primary=available[0] if available else None)
