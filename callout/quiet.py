"""When a team next needs a periodic scan's attention: the scans' notes, so a scan passes most teams by.

The heads-up scan (each minute) and the coverage check (every 10 minutes) used to work out every team's
coming shifts each time: a few milliseconds a team, most of a second at 100 teams, during which the
process's webhooks and timer shared the CPU with it. A scan that has worked a team out notes until when its
answer cannot change, and a fingerprint of what that answer depends on (the team's `roster_version`, counted
up by the database on every change to its members or overrides; its anchor, zone and handoff; whatever else
the scan names). Until then, while the fingerprint stays the same, any process's scan passes the team by.

The notes are rows (`scan_notes`) written in the scan's own transaction, with the heads-ups it claimed and
sent: a scan that rolls back leaves no note, and a process that starts, or another one, reads what was noted
instead of working every team out again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from callout.db import upsert
from callout.models import ScanNote, Team


def fingerprint(team: Team, *more: object) -> str:
    """Return a digest of what a scan's answer for team depends on: its roster and settings, and more.

    Each part of more is written out as str() gives it; pass sets sorted (a set's order varies by process).
    """
    parts: Iterable[object] = (
        team.roster_version,
        team.anchor_shift,
        team.anchor_member_id,
        team.timezone,
        team.handoff,
        *more,
    )
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()


def teams(session: Session) -> list[Team]:
    """Return every team as the database has it now (a session's older copy would give an old fingerprint)."""
    return list(session.scalars(select(Team).execution_options(populate_existing=True)))


class Notes:
    """One scan's notes, as its transaction read them."""

    def __init__(self, session: Session, scan: str) -> None:
        self.session = session
        self.scan = scan
        rows = session.scalars(select(ScanNote).where(ScanNote.scan == scan))
        self._notes = {row.team_id: row for row in rows}

    def passes(self, team: Team, digest: str, now: datetime) -> bool:
        """Tell whether the scan may pass team by at now: noted quiet until later, on the same fingerprint."""
        note = self._notes.get(team.id)
        return note is not None and note.fingerprint == digest and note.since <= now < note.until

    def note(self, team: Team, digest: str, now: datetime, until: datetime) -> None:
        """Note that the scan has nothing to do for team from now until until while digest holds."""
        upsert(
            self.session,
            ScanNote,
            {"scan": self.scan, "team_id": team.id},
            fingerprint=digest,
            since=now,
            until=until,
        )
