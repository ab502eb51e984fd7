"""The audit log: who changed what (roster, rotation, users, settings) in the console or on the command line.

(Not to be confused with callout.audit, the privacy check.)

Entries name console users, members and teams; never a requester, a request's contact or a note.
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from callout.models import AuditEntry, Team

MAX_SUMMARY = 2000


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a console user name, or the system user running the command line."""

    name: str
    via: str  # console | cli


def cli_actor() -> Actor:
    """Return the actor of a command-line change: the system user running it."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (a container)
        name = "unknown"
    return Actor(name[:100], "cli")


def record(
    session: Session, now: datetime, actor: Actor, action: str, summary: str, team: Team | None = None
) -> AuditEntry:
    """Add an entry to the audit log (the caller commits with the change it describes)."""
    entry = AuditEntry(
        at=now,
        actor=actor.name[:100],
        via=actor.via,
        team_id=team.id if team is not None else None,
        action=action[:40],
        summary=summary[:MAX_SUMMARY],
    )
    session.add(entry)
    session.flush()
    return entry


def entries(
    session: Session, team_ids: Sequence[int] | None, limit: int = 200, before_id: int | None = None
) -> list[AuditEntry]:
    """Return the newest entries first; team_ids limits them to those teams (None: every entry)."""
    query = select(AuditEntry).options(selectinload(AuditEntry.team)).order_by(AuditEntry.id.desc())
    if team_ids is not None:
        query = query.where(AuditEntry.team_id.in_(team_ids))
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(session.scalars(query.limit(limit)))
