"""Overrides by shift day, as the console's calendar makes them: a day or a range of days to one peer.

A day is the shift that starts on it (handoff to the next day's handoff, in the team's zone), so a range of
days is one override from the first day's handoff to the handoff after the last day. Each change is
recorded in the audit log with who made it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from callout import auditlog, rotation
from callout.models import Member, Override, Team
from callout.rotation import OverrideError

LONGEST = 92  # days: an override longer than a season is a roster change, not a swap


def _day(team: Team, moment: datetime) -> str:
    return rotation.local_time(team, moment).strftime("%a %d %b %H:%M")


def describe(team: Team, override: Override) -> str:
    """Say what an override does, for the audit log: "Rivera primary Tue 10 Mar 07:00 to Wed 11 Mar 07:00"."""
    start, end = _day(team, override.starts_at), _day(team, override.ends_at)
    return f"{override.member.name} primary {start} to {end}"


def assign_days(
    session: Session,
    now: datetime,
    actor: auditlog.Actor,
    team: Team,
    member_id: int,
    first: date,
    last: date,
) -> Override:
    """Make a peer primary for the shifts of days first to last; raise OverrideError saying why not."""
    member = session.scalar(select(Member).where(Member.id == member_id, Member.team_id == team.id))
    if member is None:
        raise OverrideError("choose a peer of this team")
    if last < first:
        raise OverrideError("the last day comes before the first")
    if (last - first).days + 1 > LONGEST:
        raise OverrideError(f"an override covers at most {LONGEST} days; change the roster instead")
    start = rotation.shift_start(team, first)
    end = rotation.shift_start(team, last + timedelta(days=1))
    override = rotation.add_override(session, team, member, start, end, now)
    auditlog.record(session, now, actor, "override.add", f"override: {describe(team, override)}", team)
    return override


def remove(session: Session, now: datetime, actor: auditlog.Actor, team: Team, override_id: int) -> Override:
    """Remove one of the team's overrides (the rotation applies again); raise OverrideError if none."""
    override = rotation.remove_override(session, override_id, team)
    summary = f"override removed: {describe(team, override)}"
    auditlog.record(session, now, actor, "override.remove", summary, team)
    return override
