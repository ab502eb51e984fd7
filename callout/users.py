"""Console users: roles, argon2 password hashes, optional TOTP codes, and what each role may see and do.

admin: every team and the users. director: their own team, everything. dispatch: who is on call, the
page/debrief form and what they paged. viewer: the board and the calendar, read only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from callout import logins
from callout.models import ConsoleUser, Request, Team
from callout.signing import SecretBox

MIN_PASSWORD = 10
MAX_PASSWORD = 1000  # argon2 takes any length; a megabyte "password" would only be a way to burn CPU
USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
ISSUER = "Callout"

# Argon2id with the library's defaults (RFC 9106's second recommendation). Tests swap in cheaper parameters.
hasher = PasswordHasher()


class Role(StrEnum):
    """What a console user may do."""

    ADMIN = "admin"
    DIRECTOR = "director"
    DISPATCH = "dispatch"
    VIEWER = "viewer"


ROLES = tuple(role.value for role in Role)


class UserError(ValueError):
    """A user that cannot be added or changed as asked; the message says why, in one line."""


@dataclass(frozen=True)
class Principal:
    """What a request needs to know about the logged-in user (no hash, no secret)."""

    id: int
    username: str
    role: Role
    team_id: int | None
    version: int
    totp: bool

    @property
    def is_admin(self) -> bool:
        """Tell whether the user sees every team and manages the users."""
        return self.role is Role.ADMIN

    @property
    def can_change(self) -> bool:
        """Tell whether the user may change the roster, the rotation and the users of their team."""
        return self.role in (Role.ADMIN, Role.DIRECTOR)

    @property
    def can_dispatch(self) -> bool:
        """Tell whether the user may page and call out the team."""
        return self.role in (Role.ADMIN, Role.DIRECTOR, Role.DISPATCH)

    @property
    def sees_support(self) -> bool:
        """Tell whether the user sees support requests (dispatch sees only what it paged)."""
        return self.role is not Role.DISPATCH

    def sees_team(self, team_id: int) -> bool:
        """Tell whether the user may look at this team."""
        return self.is_admin or self.team_id == team_id


def principal(user: ConsoleUser) -> Principal:
    """Return the Principal of a user row."""
    return Principal(
        user.id,
        user.username,
        Role(user.role),
        user.team_id,
        user.session_version,
        user.totp_secret_enc is not None,
    )


# --- passwords -----------------------------------------------------------------------------------


def check_password(password: str, username: str = "") -> None:
    """Raise UserError unless password is long enough and not the user name."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"the password must have at most {MAX_PASSWORD} characters")
    if username and password.strip().casefold() == username.casefold():
        raise UserError("the password cannot be the user name")


def _verify(stored: str, password: str) -> bool:
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    """Return a hash to check unknown user names against, so that timing tells nothing."""
    if not _DUMMY:
        _DUMMY.append(hasher.hash("no such user, no such password"))
    return _DUMMY[0]


# --- users ---------------------------------------------------------------------------------------


def normalize(username: str) -> str:
    """Return a user name as stored: stripped and lowercased."""
    return username.strip().lower()


def find(session: Session, username: str) -> ConsoleUser | None:
    """Return the user with this name (any case), if any."""
    return session.scalar(select(ConsoleUser).where(ConsoleUser.username == normalize(username)))


def get(session: Session, user_id: int) -> ConsoleUser | None:
    """Return the user with this id, if any."""
    return session.get(ConsoleUser, user_id)


def add(
    session: Session, now: datetime, username: str, role: str, team: Team | None, password: str
) -> ConsoleUser:
    """Add a user; raise UserError for a bad name, role, team or password, or a name already taken."""
    name = normalize(username)
    if not USERNAME.fullmatch(name):
        raise UserError(
            f"{username!r} cannot be a user name: use up to 64 lowercase letters, digits and . _ @ -,"
            " starting with a letter or digit"
        )
    if role not in ROLES:
        raise UserError(f"unknown role {role!r} (expected {', '.join(ROLES)})")
    if role == Role.ADMIN and team is not None:
        raise UserError("an admin sees every team: give no team")
    if role != Role.ADMIN and team is None:
        raise UserError(f"a {role} user belongs to one team: give its slug")
    check_password(password, name)
    if find(session, name) is not None:
        raise UserError(f"there is already a user named {name!r}")
    user = ConsoleUser(
        username=name,
        role=role,
        team=team,
        password_hash=hasher.hash(password),
        session_version=0,
        created_at=now,
        password_changed_at=now,
    )
    session.add(user)
    session.flush()
    return user


def listed(session: Session, team_id: int | None = None) -> list[ConsoleUser]:
    """Return the users by name; with team_id, only that team's."""
    query = select(ConsoleUser).options(selectinload(ConsoleUser.team)).order_by(ConsoleUser.username)
    if team_id is not None:
        query = query.where(ConsoleUser.team_id == team_id)
    return list(session.scalars(query))


def remove(session: Session, user: ConsoleUser) -> None:
    """Delete a user and end their sessions; the pages they opened stay, no longer linked to them."""
    logins.end_all(session, user)
    session.execute(
        update(Request)
        .where(Request.opened_by_user_id == user.id)
        .values(opened_by_user_id=None)
        .execution_options(synchronize_session=False)
    )
    session.delete(user)
    session.flush()


def set_password(session: Session, now: datetime, user: ConsoleUser, password: str) -> None:
    """Give user a new password; every session they had ends (and a two-factor step begun with the old)."""
    check_password(password, user.username)
    user.password_hash = hasher.hash(password)
    user.password_changed_at = now
    user.session_version += 1
    logins.end_all(session, user)
    session.flush()


def authenticate(session: Session, username: str, password: str) -> ConsoleUser | None:
    """Return the user if the password is theirs, else None (an unknown name takes as long as a known one)."""
    if len(password) > MAX_PASSWORD:
        return None
    user = find(session, username)
    if user is None:
        _verify(_dummy_hash(), password)
        return None
    if not _verify(user.password_hash, password):
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


def logged_in(user: ConsoleUser, now: datetime) -> None:
    """Record a successful login."""
    user.last_login_at = now


# --- two-factor codes (TOTP, RFC 6238) -------------------------------------------------------------


def new_totp_secret() -> str:
    """Return a new random TOTP secret (base32)."""
    return pyotp.random_base32()


def totp_uri(secret: str, username: str) -> str:
    """Return the otpauth:// URI an authenticator app reads (as a QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def _step(secret: str, code: str, now: datetime) -> int | None:
    """Return the time step code is valid for (this one or the one either side), or None."""
    code = re.sub(r"\s", "", code)
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):
        if totp.generate_otp(step) == code:
            return step
    return None


def enable_totp(user: ConsoleUser, box: SecretBox, secret: str, code: str, now: datetime) -> bool:
    """Turn on two-factor codes if code proves the app holds secret; tell whether it did."""
    step = _step(secret, code, now)
    if step is None:
        return False
    user.totp_secret_enc = box.seal(secret)
    user.totp_last_step = step
    return True


def check_totp(user: ConsoleUser, box: SecretBox, code: str, now: datetime) -> bool:
    """Tell whether code is the user's current one, and not one already used (it cannot be used again)."""
    secret = box.open(user.totp_secret_enc) if user.totp_secret_enc else None
    if secret is None:
        return False
    step = _step(secret, code, now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True


def disable_totp(user: ConsoleUser) -> None:
    """Turn two-factor codes off for user."""
    user.totp_secret_enc = None
    user.totp_last_step = None


def totp_required(role: str, require_totp: bool) -> bool:
    """Tell whether a user of role must have two-factor codes ([console] require_totp: directors, admins)."""
    return require_totp and role in (Role.DIRECTOR, Role.ADMIN)


# --- scope ---------------------------------------------------------------------------------------


def visible_teams(session: Session, who: Principal) -> list[Team]:
    """Return the teams who may look at, by name."""
    query = select(Team).order_by(Team.name)
    if not who.is_admin:
        query = query.where(Team.id == who.team_id)
    return list(session.scalars(query))


def visible_team(session: Session, who: Principal, slug: str) -> Team | None:
    """Return the team with this slug if who may look at it (else None, as if there were none)."""
    team = session.scalar(select(Team).where(Team.slug == slug))
    if team is None or not who.sees_team(team.id):
        return None
    return team


def manageable(session: Session, who: Principal, user_id: int) -> ConsoleUser | None:
    """Return the user who may manage: an admin any, a director those of their own team."""
    user = get(session, user_id)
    if user is None or not who.can_change:
        return None
    if who.is_admin or (user.team_id is not None and user.team_id == who.team_id):
        return user
    return None


def assignable_roles(who: Principal) -> Sequence[str]:
    """Return the roles who may give a new user: an admin every one, a director those of a team."""
    if who.is_admin:
        return ROLES
    if who.role is Role.DIRECTOR:
        return (Role.DIRECTOR.value, Role.DISPATCH.value, Role.VIEWER.value)
    return ()
