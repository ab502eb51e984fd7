"""The console's sessions, kept in the database: opened at login, ended at logout, by a new password, a
removal, a change of role or team, or after a while without activity (on the server's clock).

The browser's cookie holds only a random token; the database keeps its SHA-256, so a copy of the database
(a backup) opens no session, and a copied cookie stops working the moment its session ends here.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from callout.models import ConsoleLogin, ConsoleUser

TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Resumed:
    """What became of a session a request came with: its user, or None and whether inactivity ended it."""

    user: ConsoleUser | None
    idle: bool = False


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, now: datetime, user: ConsoleUser) -> str:
    """Open a session for user; return its token (for the cookie: the database keeps only its hash)."""
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleLogin(
            token_hash=_hash(token),
            user_id=user.id,
            role=user.role,
            team_id=user.team_id,
            started_at=now,
            seen_at=now,
        )
    )
    session.flush()
    return token


def resume(
    session: Session, now: datetime, token: str, idle_for: timedelta, *, activity: bool = True
) -> Resumed:
    """Return the user of the session token opened, if it still runs; with activity, count this request.

    A session idle longer than idle_for ends here; so does one whose user's role or team changed since.
    """
    login = session.scalar(select(ConsoleLogin).where(ConsoleLogin.token_hash == _hash(token)))
    if login is None:
        return Resumed(None)
    user = session.get(ConsoleUser, login.user_id)
    if now - login.seen_at > idle_for:
        session.delete(login)
        return Resumed(None, idle=True)
    if user is None or (user.role, user.team_id) != (login.role, login.team_id):
        session.delete(login)
        return Resumed(None)
    # A click soon after the last one written is not written again: a commit each click costs more than
    # a page's queries, and the session then ends at most a thirtieth of idle_for (a minute) early.
    if activity and now - login.seen_at >= min(TOUCH_EVERY, idle_for / 30):
        login.seen_at = now
    return Resumed(user)


def end(session: Session, token: str) -> None:
    """End the session token opened (logging out); nothing happens if it ended already."""
    session.execute(delete(ConsoleLogin).where(ConsoleLogin.token_hash == _hash(token)))


def end_all(session: Session, user: ConsoleUser) -> int:
    """End every session of user (a new password, a removal); return how many were open."""
    result = session.execute(delete(ConsoleLogin).where(ConsoleLogin.user_id == user.id))
    return int(getattr(result, "rowcount", 0) or 0)


def forget_idle(session: Session, now: datetime, idle_for: timedelta) -> None:
    """Delete the sessions idle longer than idle_for (ended already: nobody came back to be told)."""
    session.execute(delete(ConsoleLogin).where(ConsoleLogin.seen_at < now - idle_for))
