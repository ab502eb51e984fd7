"""When a team next needs a periodic scan's attention: this process's memo, so a scan passes teams by.

The heads-up scan (each minute) and the coverage check (each 10 minutes) used to work out every team's
coming shifts each time: a few milliseconds a team, most of a second at 100 teams, during which the
process's webhooks and timer waited for the CPU. A scan that has looked at a team notes until when the
answer cannot change, on what the answer depends (the team's `roster_version`, counted up by the database
on every change to its members or overrides; its anchor, zone and handoff; whatever else the scan names),
and skips the team until then while none of it changes. The note is kept only once the scan's transaction
has committed (what it sent is then sent), and only in this process: another process, or this one after a
restart, looks again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from callout.lineup import WROTE_ROSTER
from callout.models import Team

ON_COMMIT = "callout.on_commit"  # what a session runs once its transaction commits (`on_commit`)


@dataclass(frozen=True)
class _Note:
    key: Hashable
    since: datetime
    until: datetime


def team_key(team: Team, *more: Hashable) -> tuple[Hashable, ...]:
    """Return what a scan's answer for team depends on in the database, and more (the scan's own)."""
    return (team.roster_version, team.anchor_shift, team.anchor_member_id, team.timezone, team.handoff, *more)


class Quiet:
    """The teams each scan of this process found nothing to do for, and until when."""

    def __init__(self) -> None:
        self._notes: dict[tuple[str, int], _Note] = {}
        self._lock = threading.Lock()

    def passes(self, scan: str, team: Team, key: Hashable, now: datetime) -> bool:
        """Tell whether scan may pass team by at now: noted quiet until later, on the same key."""
        note = self._notes.get((scan, team.id))
        return note is not None and note.key == key and note.since <= now < note.until

    def note(
        self, session: Session, scan: str, team: Team, key: Hashable, now: datetime, until: datetime
    ) -> None:
        """Note that scan has nothing to do for team from now until until while key holds, once committed."""
        if session.info.get(WROTE_ROSTER):
            return  # the transaction changed the roster: the version it read is not the one it commits
        entry = (scan, team.id)
        note = _Note(key, now, until)

        def keep() -> None:
            with self._lock:
                self._notes[entry] = note

        on_commit(session, keep)


def on_commit(session: Session, action: Callable[[], None]) -> None:
    """Run action once the session's transaction has committed; never if it rolls back."""
    session.info.setdefault(ON_COMMIT, []).append(action)


def committed(session: Session) -> None:
    """Run what the transaction left for its commit (an after_commit listener, `db.make_sessionmaker`)."""
    for action in session.info.pop(ON_COMMIT, ()):
        action()


def rolled_back(session: Session) -> None:
    """Forget what the transaction left for its commit (an after_rollback listener)."""
    session.info.pop(ON_COMMIT, None)
