"""Login throttling that holds across processes: each attempt is a row, counted per user name and address.

An attempt is written (and committed) before the password is looked at, so two processes racing on one
user name each count the other's attempt; one that succeeds removes its own row and the user's failures.
Keys are hashes: the table names neither user names nor addresses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from callout.config import ConsoleConfig
from callout.models import LoginFailure


@dataclass(frozen=True)
class Attempt:
    """One login attempt as recorded: its rows and the keys they count under."""

    user_key: str
    address_key: str
    row_ids: tuple[int, ...]


def key(kind: str, value: str) -> str:
    """Return the opaque key that counts the attempts of one user name or one address."""
    return hashlib.sha256(f"callout-login:{kind}:{value.strip().casefold()}".encode()).hexdigest()


def record(session: Session, now: datetime, username: str, address: str) -> Attempt:
    """Record an attempt for username from address (commit it before checking the password)."""
    user_key, address_key = key("user", username), key("address", address)
    rows = [LoginFailure(key=user_key, at=now), LoginFailure(key=address_key, at=now)]
    session.add_all(rows)
    session.flush()
    return Attempt(user_key, address_key, tuple(row.id for row in rows))


def _count(session: Session, name: str, since: datetime) -> int:
    query = select(func.count()).select_from(LoginFailure).where(LoginFailure.key == name)
    return session.scalar(query.where(LoginFailure.at > since)) or 0


def blocked(session: Session, now: datetime, settings: ConsoleConfig, attempt: Attempt) -> bool:
    """Tell whether this attempt is one too many, for its user name or its address, within lockout."""
    since = now - settings.lockout
    return (
        _count(session, attempt.user_key, since) > settings.user_attempts
        or _count(session, attempt.address_key, since) > settings.address_attempts
    )


def forgive(session: Session, attempt: Attempt, *, user: bool) -> None:
    """Remove this attempt's rows (the password was right); with user, the user name's failures too."""
    session.execute(delete(LoginFailure).where(LoginFailure.id.in_(attempt.row_ids)))
    if user:
        session.execute(delete(LoginFailure).where(LoginFailure.key == attempt.user_key))


def forget_old(session: Session, now: datetime, lockout: timedelta) -> None:
    """Delete attempts older than the lockout: they no longer count."""
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - lockout))
