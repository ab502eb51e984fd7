"""The audit page: who changed what in the console or on the command line, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import request
from sqlalchemy.orm import Session

from callout import auditlog
from callout.env import Env
from console.web import bp, page, require, run, team_or_404, team_view, who

PER_PAGE = 100


@dataclass(frozen=True)
class Entry:
    """One audit entry as the page shows it."""

    id: int
    at: datetime
    actor: str
    via: str
    action: str
    summary: str
    team: str | None


@bp.get("/<slug>/audit")
def audit_log(slug: str) -> Any:
    """Show the team's audit log, newest first (an admin also sees changes to no team: admins)."""
    me = who()
    before = request.args.get("before", type=int)

    def work(session: Session, env: Env, now: datetime) -> tuple[Any, list[Entry]]:
        team = team_or_404(session, slug)
        require(me.can_change)
        rows = auditlog.entries(session, None if me.is_admin else [team.id], limit=PER_PAGE, before_id=before)
        shown = [
            Entry(r.id, r.at, r.actor, r.via, r.action, r.summary, r.team.slug if r.team else None)
            for r in rows
        ]
        return team_view(team), shown

    team, entries = run(work)
    more = entries[-1].id if len(entries) == PER_PAGE else None
    return page("audit.html", team=team, entries=entries, more=more, section="audit")
