"""The console's sessions in the database: opened, resumed, ended by logout, a new password, a removal, a
change of role or team, or inactivity on the server's clock."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callout import logins, users
from callout.models import ConsoleLogin, ConsoleUser, Team
from tests.conftest import NOW

PASSWORD = "correct horse battery"
IDLE = timedelta(minutes=30)


def _user(session: Session, team: Team, name: str = "lt.nguyen", role: str = "director") -> ConsoleUser:
    return users.add(session, NOW, name, role, team, PASSWORD)


def _open(session: Session, user: ConsoleUser) -> int:
    return int(
        session.scalar(select(func.count()).select_from(ConsoleLogin).where(ConsoleLogin.user_id == user.id))
        or 0
    )


def test_the_database_keeps_only_a_hash_of_the_token(session: Session, team: Team) -> None:
    user = _user(session, team)
    token = logins.start(session, NOW, user)
    (row,) = session.scalars(select(ConsoleLogin)).all()
    assert len(token) >= 40 and token not in row.token_hash
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert logins.resume(session, NOW, token, IDLE).user is user
    assert logins.resume(session, NOW, token + "x", IDLE).user is None


def test_activity_keeps_a_session_and_inactivity_ends_it_on_the_servers_clock(
    session: Session, team: Team
) -> None:
    user = _user(session, team)
    token = logins.start(session, NOW, user)
    assert logins.resume(session, NOW + timedelta(minutes=29), token, IDLE).user is user
    assert logins.resume(session, NOW + timedelta(minutes=58), token, IDLE).user is user  # the click counted
    polled = logins.resume(session, NOW + timedelta(minutes=80), token, IDLE, activity=False)
    assert polled.user is user  # a poll is no activity...
    ended = logins.resume(session, NOW + timedelta(minutes=89), token, IDLE, activity=False)
    assert ended.user is None and ended.idle  # ...so 31 minutes after the last click it ends
    assert _open(session, user) == 0
    back = logins.resume(session, NOW + timedelta(minutes=60), token, IDLE)
    assert back.user is None and not back.idle  # ended for good: an earlier clock does not bring it back


def test_logging_out_ends_this_session_only(session: Session, team: Team) -> None:
    user = _user(session, team)
    phone, desk = logins.start(session, NOW, user), logins.start(session, NOW, user)
    logins.end(session, phone)
    logins.end(session, phone)  # twice: nothing more happens
    assert logins.resume(session, NOW, phone, IDLE).user is None
    assert logins.resume(session, NOW, desk, IDLE).user is user


def test_a_new_password_or_a_removal_ends_every_session_of_that_user_only(
    session: Session, team: Team
) -> None:
    nguyen, desk = _user(session, team), _user(session, team, "desk", "dispatch")
    first, second = logins.start(session, NOW, nguyen), logins.start(session, NOW, nguyen)
    other = logins.start(session, NOW, desk)
    users.set_password(session, NOW, nguyen, "another long password")
    assert [logins.resume(session, NOW, t, IDLE).user for t in (first, second)] == [None, None]
    assert logins.resume(session, NOW, other, IDLE).user is desk
    users.remove(session, desk)
    assert logins.resume(session, NOW, other, IDLE).user is None
    assert session.scalar(select(func.count()).select_from(ConsoleLogin)) == 0


def test_a_change_of_role_or_team_ends_the_session(session: Session, team: Team) -> None:
    user = _user(session, team)
    token = logins.start(session, NOW, user)
    user.role = "viewer"
    session.flush()
    assert logins.resume(session, NOW, token, IDLE).user is None
    user.role = "director"
    token = logins.start(session, NOW, user)
    other = Team(
        slug="ector", name="Ector", support_number="+14325550199", timezone="America/Chicago", handoff="07:00"
    )
    session.add(other)
    session.flush()
    user.team_id = other.id
    session.flush()
    assert logins.resume(session, NOW, token, IDLE).user is None
    assert _open(session, user) == 0


def test_idle_sessions_are_forgotten(session: Session, team: Team) -> None:
    user = _user(session, team)
    logins.start(session, NOW, user)
    fresh = logins.start(session, NOW + timedelta(minutes=20), user)
    logins.forget_idle(session, NOW + timedelta(minutes=31), IDLE)
    assert _open(session, user) == 1
    assert logins.resume(session, NOW + timedelta(minutes=31), fresh, IDLE).user is user


def test_a_click_within_a_minute_of_the_last_one_written_is_not_written_again(
    session: Session, team: Team
) -> None:
    user = _user(session, team)
    token = logins.start(session, NOW, user)
    (row,) = session.scalars(select(ConsoleLogin)).all()
    logins.resume(session, NOW + timedelta(seconds=50), token, IDLE)
    assert row.seen_at == NOW  # no commit for each click...
    logins.resume(session, NOW + timedelta(seconds=70), token, IDLE)
    assert row.seen_at == NOW + timedelta(seconds=70)
    short = timedelta(minutes=1)  # ...and a short timeout writes each click a thirtieth of it apart
    logins.resume(session, NOW + timedelta(seconds=73), token, short)
    assert row.seen_at == NOW + timedelta(seconds=73)
