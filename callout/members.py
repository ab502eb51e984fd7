"""Members as the support line meets them: who a number belongs to, and their opting out of texts (or in)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callout import messages, notices, rotation
from callout.env import Env
from callout.models import Member, Team
from callout.outbox import notify

log = logging.getLogger(__name__)


def by_phone(session: Session, env: Env, team: Team, phone: str) -> Member | None:
    """Return the active member of team with this number (from the team's lineup)."""
    return env.lineups.member_by_phone(session, team, phone)


def opt_out(session: Session, env: Env, now: datetime, team: Team, sender: str, kind: str) -> None:
    """Stop (or resume) texting a member who opted out (or back in); tell the director."""
    member = session.scalar(select(Member).where(Member.team_id == team.id, Member.phone == sender))
    if member is None:
        return  # requesters' numbers are not kept, and the provider itself honours their STOP
    opted_out = kind.upper() != "START"
    if member.opted_out == opted_out:
        return
    with notices.told_of_changes(session, env, team, now, quiet={member.id}):  # whoever pages go to instead
        member.opted_out = opted_out
    log.warning("%s opted %s of texts", member.name, "out" if member.opted_out else "back in")
    if member.opted_out:
        for director in rotation.directors_to_tell(session, team, now):
            if director.id != member.id:
                notify(session, env, now, director, messages.opted_out(member.name))
