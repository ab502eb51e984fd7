"""Informed consent: the team's limits of confidentiality, recalled to a member who accepts once a day."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from callout import messages
from callout.env import Env
from callout.models import Member, Request, RequestKind

log = logging.getLogger(__name__)

REMINDED_KINDS = (
    RequestKind.SUPPORT,
    RequestKind.DISPATCH,
)  # one person to talk to; a debrief's yes is to a meeting


def with_reminder(
    session: Session, env: Env, now: datetime, member: Member, request: Request, text: str
) -> str:
    """Return text, plus the limits on a line of its own the first time today (team's zone) member accepts.

    The day is claimed with a conditional update, so with several processes the reminder goes out once
    a day however many requests the member takes at the same moment.
    """
    if request.kind not in REMINDED_KINDS or request.accepted_by_id != member.id:
        return text  # a debrief, or an acceptance someone else won
    team = env.team(member.team)
    today = now.astimezone(team.zone).date()
    claimed = session.execute(
        update(Member)
        .where(
            Member.id == member.id,
            or_(Member.limits_reminded_on.is_(None), Member.limits_reminded_on != today),
        )
        .values(limits_reminded_on=today)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return text
    session.refresh(member, ["limits_reminded_on"])
    log.info("request %s: the accepting member is reminded of the confidentiality limits", request.code)
    return f"{text}\n{messages.limits_reminder(team.confidentiality_limits)}"
