"""Notices ahead: a member is texted `shift_notice` before each stretch they are primary, and at once when a
change (an override, a cover, an AWAY) makes them primary now or takes it from them.

Each heads-up is claimed once per (member, stretch start) in `job_runs`, so it goes once with several
processes and across restarts; a missed one goes late, while its stretch lasts. A change tells the members
concerned in the transaction that makes it, and claims the heads-up of the stretch it named, so nobody is
told twice. With a heads-up on (shift_notice > 0) it also replaces the handoff text.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from callout import messages, quiet, rotation, shifts
from callout.db import insert_new
from callout.env import Env
from callout.models import Cover, CoverState, JobRun, Member, Team
from callout.outbox import notify
from callout.shifts import Stretch, Why

log = logging.getLogger(__name__)


def _job(team: Team) -> str:
    return f"shift-notice:{team.slug}"


def _key(member: Member, start: datetime) -> str:
    return f"{member.id}@{start.astimezone(UTC).isoformat()}"


def claim(session: Session, now: datetime, team: Team, member: Member, start: datetime) -> bool:
    """Claim the heads-up of member's stretch starting at start; False if it was claimed before."""
    return insert_new(session, JobRun, name=_job(team), key=_key(member, start), ran_at=now)


def notice_window(env: Env, team: Team) -> timedelta | None:
    """Return the team's shift_notice, or None when heads-ups are off (or the team is not configured)."""
    configured = env.configured(team)
    if configured is None or configured.shift_notice <= timedelta(0):
        return None
    return configured.shift_notice


SCAN = "shift-notice"
LOOK = timedelta(days=1)  # how far past its window the scan looks for when a team next has a heads-up due


def shift_notices(session: Session, env: Env, now: datetime) -> int:
    """Text each member the heads-up of their coming stretches as primary, each once; return how many.

    One process scans each minute (a heads-up needs no more precision): the housekeeping of the others,
    every 15 seconds, finds the minute claimed and does nothing. A team is worked out only when its next
    heads-up falls due or its roster, its open covers or its anchor changed (`callout.quiet`); the other
    teams cost a look at their row.
    """
    minute = now.replace(second=0, microsecond=0)
    if not insert_new(session, JobRun, name="shift-notice-scan", key=minute.isoformat(), ran_at=now):
        return 0
    asking = _asking(session)
    notes = quiet.Notes(session, SCAN)
    sent = 0
    for team in quiet.teams(session):
        ahead = notice_window(env, team)
        if ahead is None:
            continue
        if notes.passes(team, _fingerprint(team, ahead, asking), now):
            continue
        rotation.ensure_anchor(session, team, now)  # what the heads-ups say must stay true tomorrow
        next_due = now + LOOK
        for shift in shifts.team_shifts(session, team, now, now + ahead + LOOK, now):
            for stretch in shift.stretches:
                member = stretch.primary
                if member is None or stretch.end <= now:
                    continue
                if stretch.start - ahead > now:
                    next_due = min(next_due, stretch.start - ahead)
                    continue
                if (member.id, stretch.start) in asking.get(team.id, ()):
                    continue  # they asked for cover: the cover tells them (taken, or not by the start)
                if not claim(session, now, team, member, stretch.start):
                    continue
                notify(
                    session, env, now, member, messages.shift_notice(team.name, *_times(team, stretch, now))
                )
                log.info("shift notice: %s for %s from %s", member.name, team.slug, stretch.start.isoformat())
                sent += 1
        notes.note(team, _fingerprint(team, ahead, asking), now, next_due)  # anchored now, if it was not
    return sent


def _fingerprint(team: Team, ahead: timedelta, asking: dict[int, frozenset[tuple[int, datetime]]]) -> str:
    """Return what the team's heads-ups depend on: its roster, shift_notice and its open covers' askers."""
    covers = sorted((asker, start.astimezone(UTC).isoformat()) for asker, start in asking.get(team.id, ()))
    return quiet.fingerprint(team, ahead, covers)


def _asking(session: Session) -> dict[int, frozenset[tuple[int, datetime]]]:
    """Return (asker id, start) of the open covers by team: their askers hear from the cover instead."""
    found: dict[int, set[tuple[int, datetime]]] = {}
    rows = session.execute(
        select(Cover.team_id, Cover.asker_id, Cover.starts_at).where(Cover.state == CoverState.OPEN)
    )
    for team_id, asker, start in rows:
        found.setdefault(team_id, set()).add((asker, start))
    return {team_id: frozenset(pairs) for team_id, pairs in found.items()}


def _times(team: Team, stretch: Stretch, now: datetime) -> tuple[str, str, bool]:
    """Return a stretch's start and end as the texts say them, and whether it has begun."""
    return (
        messages.local_zoned(stretch.start, team.timezone),
        messages.local_zoned(stretch.end, team.timezone),
        stretch.start <= now,
    )


@dataclass(frozen=True)
class _Duty:
    """A member's stretch as primary that a change could concern (running now, or due its heads-up)."""

    member: Member
    start: datetime
    end: datetime
    stretch: Stretch


def _duties(session: Session, env: Env, team: Team, now: datetime) -> list[_Duty]:
    """Return the stretches with a primary that run now or start within shift_notice."""
    ahead = notice_window(env, team) or timedelta(0)
    found = []
    for shift in shifts.team_shifts(session, team, now, now + ahead + timedelta(microseconds=1), now):
        for stretch in shift.stretches:
            if stretch.primary is not None and stretch.end > now and stretch.start <= now + ahead:
                found.append(_Duty(stretch.primary, stretch.start, stretch.end, stretch))
    return found


@contextmanager
def told_of_changes(
    session: Session, env: Env, team: Team, now: datetime, quiet: Collection[int] = ()
) -> Iterator[None]:
    """Tell whoever the changes made in the block make primary now (or soon), and whoever they displace.

    "Soon" is within shift_notice, whose heads-up would already have gone. What each member gains or loses
    is compared as time from now on, so a stretch cut short tells its member only of the part they lost.
    Members in quiet (by id) are told by the caller (the one who texted AWAY, the asker and taker of a
    cover); their heads-ups are claimed all the same, so the next scan does not repeat what they were told.
    """
    rotation.ensure_anchor(session, team, now)
    before = _duties(session, env, team, now)
    yield
    session.flush()
    after = _duties(session, env, team, now)
    for duty in after:
        for start, end in _minus([(max(duty.start, now), duty.end)], _spans(before, duty.member, now)):
            claim(session, now, team, duty.member, duty.stretch.start)
            if duty.member.id in quiet:
                continue
            text = messages.now_primary(
                team.name, _at(team, start), _at(team, end), start <= now, _reason(duty)
            )
            notify(session, env, now, duty.member, text)
            log.info("shift change: %s is now primary for %s from %s", duty.member.name, team.slug, start)
    for duty in before:
        if duty.member.id in quiet:
            continue
        for start, end in _minus([(max(duty.start, now), duty.end)], _spans(after, duty.member, now)):
            text = messages.no_longer_primary(
                team.name, _at(team, start), _at(team, end), start <= now, _primary_at(after, start)
            )
            notify(session, env, now, duty.member, text)
            log.info(
                "shift change: %s is no longer primary for %s from %s", duty.member.name, team.slug, start
            )


def _at(team: Team, at: datetime) -> str:
    return messages.local_zoned(at, team.timezone)


def _spans(duties: list[_Duty], member: Member, now: datetime) -> list[tuple[datetime, datetime]]:
    """Return the member's stretches among duties as spans from now on."""
    return [(max(d.start, now), d.end) for d in duties if d.member.id == member.id]


def _minus(
    spans: list[tuple[datetime, datetime]], taken: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """Return what of spans is not covered by taken."""
    for cut_start, cut_end in taken:
        left = []
        for start, end in spans:
            if cut_end <= start or cut_start >= end:
                left.append((start, end))
                continue
            if start < cut_start:
                left.append((start, cut_start))
            if cut_end < end:
                left.append((cut_end, end))
        spans = left
    return [(start, end) for start, end in spans if start < end]


def _reason(duty: _Duty) -> str | None:
    """Say why a member became primary, when it is someone else's AWAY or an override."""
    stretch = duty.stretch
    if stretch.why is Why.STAND_IN and stretch.instead_of is not None:
        return f"{stretch.instead_of.name} can't be paged then"
    if stretch.why is Why.OVERRIDE:
        return "the director's override"
    if stretch.why is Why.COVER:
        return "a cover"
    return None


def _primary_at(duties: list[_Duty], at: datetime) -> str | None:
    """Return the name of whoever is primary at at among duties, if anyone."""
    for duty in duties:
        if duty.start <= at < duty.end:
            return duty.member.name
    return None
