"""A team's roster as the hot path needs it, loaded once per roster version and kept in this process.

Whom to page next, who is on call (WHO) and which member texted are decided on every text and every
timeout; reading every member as ORM objects (and a keyed hash of each one's phone) for each was most of
their cost, and grew with the roster. `teams.roster_version` is counted up by the database itself (triggers,
migration 0008) on every write to a team's members or overrides, by any process and any code path; a
transaction reads it with the team's row and uses the lineup cached for that version, or loads it once.

A transaction that has itself written members or overrides (its own version not yet known to it) and a team
not anchored yet (the first look anchors it, a write) go the long way: the rotation's own queries. Callers
get `Person`s, in-memory copies, and fetch the ORM Member of only the ones they act on.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callout import rotation
from callout.crypto import Vault
from callout.models import Member, Override, Team

WROTE_ROSTER = "callout.wrote_roster"


@dataclass(frozen=True)
class Person:
    """A member of a team as the rotation sees them, copied out of the database."""

    id: int
    name: str
    phone: str
    role: str
    active: bool
    opted_out: bool
    position: int
    away_since: datetime | None
    away_until: datetime | None
    skills: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cover:
    """An override: member_id is primary from starts_at to ends_at."""

    id: int
    member_id: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Lineup:
    """One version of a team's roster: its members, its rotation, its overrides, its lookup keys."""

    version: int
    members: dict[int, Person]
    peers: tuple[Person, ...]  # the active peers in rotation (position) order
    reachable: tuple[Person, ...]  # the active, not opted-out members, in position order
    by_phone: dict[str, Person]  # the active members by E.164 number
    by_key: dict[str, frozenset[int]]  # every member's id by the keyed hash of their number
    covers: tuple[Cover, ...]  # by start

    def cover_at(self, at: datetime) -> Cover | None:
        """Return the override in force at at, if any."""
        return next((c for c in self.covers if c.starts_at <= at < c.ends_at), None)


def _load(session: Session, vault: Vault, team: Team) -> Lineup:
    """Read the team's members and overrides (two queries, no ORM objects)."""
    rows = session.execute(
        select(
            Member.id,
            Member.name,
            Member.phone,
            Member.role,
            Member.active,
            Member.opted_out,
            Member.position,
            Member.away_since,
            Member.away_until,
            Member.skills,
        )
        .where(Member.team_id == team.id)
        .order_by(Member.position, Member.id)
    ).all()
    people = [Person(*row[:9], skills=tuple(row[9] or ())) for row in rows]
    keys: dict[str, set[int]] = {}
    for person in people:
        keys.setdefault(vault.lookup_key(person.phone), set()).add(person.id)
    covers = session.execute(
        select(Override.id, Override.member_id, Override.starts_at, Override.ends_at)
        .where(Override.team_id == team.id)
        .order_by(Override.starts_at, Override.id)
    ).all()
    return Lineup(
        version=team.roster_version,
        members={p.id: p for p in people},
        peers=tuple(p for p in people if p.role == "peer" and p.active),
        reachable=tuple(p for p in people if p.active and not p.opted_out),
        by_phone={p.phone: p for p in people if p.active},
        by_key={key: frozenset(ids) for key, ids in keys.items()},
        covers=tuple(Cover(*row) for row in covers),
    )


def note_roster_write(session: Session, _flush_context: Any) -> None:
    """Mark a session that writes members or overrides (an after_flush listener; see the module doc)."""
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Member | Override):
            session.info[WROTE_ROSTER] = True
            return


def _person(member: Member) -> Person:
    """Copy an ORM Member."""
    return Person(
        member.id,
        member.name,
        member.phone,
        member.role,
        member.active,
        member.opted_out,
        member.position,
        member.away_since,
        member.away_until,
        tuple(member.skills or ()),
    )


class Lineups:
    """The lineups this process has loaded, one per team (the newest version it has seen), for one vault."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self._teams: dict[int, Lineup] = {}
        self._lock = threading.Lock()

    def of(self, session: Session, team: Team) -> Lineup | None:
        """Return the team's lineup at the version this transaction sees; None where it must not be used."""
        if session.info.get(WROTE_ROSTER) or team.anchor_shift is None or team.anchor_member_id is None:
            return None
        cached = self._teams.get(team.id)
        if cached is not None and cached.version == team.roster_version:
            return cached
        loaded = _load(session, self.vault, team)
        with self._lock:
            self._teams[team.id] = loaded
        return loaded

    def available(self, session: Session, team: Team, at: datetime) -> list[Person]:
        """Return the peers who may be paged at at, in paging order (`rotation.availability_list`)."""
        lineup = self.of(session, team)
        if lineup is None:
            return [_person(m) for m in rotation.availability_list(session, team, at)]
        peers = lineup.peers
        order = rotation.rotated(team, peers, at, rotation.anchor_of(team, peers, lineup.members.get))
        cover = lineup.cover_at(at)
        primary = lineup.members.get(cover.member_id) if cover is not None else None
        return [p for p in rotation.primary_first(order, primary) if rotation.is_available(p, at)]

    def reachable_by_role(
        self, session: Session, team: Team, roles: Sequence[str], at: datetime
    ) -> dict[str, list[Person]]:
        """Return the members of each role who can be paged at at, in position order (`fallback_by_role`)."""
        lineup = self.of(session, team)
        if lineup is None:
            found = rotation.fallback_by_role(session, team, roles, at)
            return {role: [_person(m) for m in members] for role, members in found.items()}
        by_role: dict[str, list[Person]] = {role: [] for role in roles}
        for person in lineup.reachable:
            if person.role in by_role and rotation.is_available(person, at):
                by_role[person.role].append(person)
        return by_role

    def with_key(self, session: Session, team: Team, key: str) -> frozenset[int]:
        """Return the ids of the members whose number has this keyed hash (a member asking for help)."""
        lineup = self.of(session, team)
        if lineup is not None:
            return lineup.by_key.get(key, frozenset())
        members = session.execute(select(Member.id, Member.phone).where(Member.team_id == team.id)).all()
        return frozenset(member_id for member_id, phone in members if self.vault.lookup_key(phone) == key)

    def member_by_phone(self, session: Session, team: Team, phone: str) -> Member | None:
        """Return the active member of team with this number (a requester's text: no query at all)."""
        lineup = self.of(session, team)
        if lineup is None:
            return session.scalar(
                select(Member).where(
                    Member.team_id == team.id, Member.phone == phone, Member.active.is_(True)
                )
            )
        person = lineup.by_phone.get(phone)
        return session.get(Member, person.id) if person is not None else None
