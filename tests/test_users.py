"""Console users, login throttling and the console's secret, as domain functions (no Flask)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from callout import signing, throttle, users
from callout.config import ConsoleConfig, parse_config
from callout.models import Team
from tests.conftest import NOW, make_config

PASSWORD = "correct horse battery"


def test_a_password_is_kept_as_an_argon2id_hash(session: Session, team: Team) -> None:
    user = users.add(session, NOW, "Lt.Nguyen", "director", team, PASSWORD)
    assert user.username == "lt.nguyen"
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert users.authenticate(session, "LT.NGUYEN ", PASSWORD) is user
    assert users.authenticate(session, "lt.nguyen", PASSWORD + "!") is None


def test_an_old_hash_is_upgraded_at_the_next_login(session: Session, team: Team, monkeypatch: Any) -> None:
    user = users.add(session, NOW, "lt.nguyen", "director", team, PASSWORD)
    old = user.password_hash
    monkeypatch.setattr(users, "hasher", PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    assert users.authenticate(session, "lt.nguyen", PASSWORD) is user
    assert user.password_hash != old and "m=16,t=2" in user.password_hash


def test_an_unknown_name_is_checked_against_a_hash_too(session: Session, monkeypatch: Any) -> None:
    checked: list[str] = []

    class Spy(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            checked.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(users, "hasher", Spy(time_cost=1, memory_cost=8, parallelism=1))
    assert users.authenticate(session, "nobody", PASSWORD) is None
    assert len(checked) == 1


@pytest.mark.parametrize(
    ("name", "role", "with_team", "password", "message"),
    [
        ("a b", "viewer", True, PASSWORD, "cannot be a user name"),
        ("", "viewer", True, PASSWORD, "cannot be a user name"),
        ("x" * 65, "viewer", True, PASSWORD, "cannot be a user name"),
        ("desk", "boss", True, PASSWORD, "unknown role 'boss'"),
        ("root", "admin", True, PASSWORD, "an admin sees every team"),
        ("desk", "dispatch", False, PASSWORD, "a dispatch user belongs to one team"),
        ("desk", "viewer", True, "short", "at least 10 characters"),
        ("longusername", "viewer", True, "LongUserName", "cannot be the user name"),
        ("desk", "viewer", True, "x" * 1001, "at most 1000 characters"),
    ],
)
def test_it_refuses_bad_users(
    session: Session, team: Team, name: str, role: str, with_team: bool, password: str, message: str
) -> None:
    with pytest.raises(users.UserError, match=message):
        users.add(session, NOW, name, role, team if with_team else None, password)


def test_a_name_is_taken_once(session: Session, team: Team) -> None:
    users.add(session, NOW, "desk", "viewer", team, PASSWORD)
    with pytest.raises(users.UserError, match="already a user named 'desk'"):
        users.add(session, NOW, "DESK", "dispatch", team, PASSWORD)


def test_a_new_password_bumps_the_session_version(session: Session, team: Team) -> None:
    user = users.add(session, NOW, "desk", "viewer", team, PASSWORD)
    users.set_password(session, NOW, user, "another long password")
    assert user.session_version == 1
    assert users.authenticate(session, "desk", PASSWORD) is None


def test_totp_codes_work_once_and_only_near_now(session: Session, team: Team) -> None:
    box = signing.SecretBox(b"k" * 32)
    user = users.add(session, NOW, "lt.nguyen", "director", team, PASSWORD)
    secret = users.new_totp_secret()
    totp = pyotp.TOTP(secret)
    assert not users.enable_totp(user, box, secret, "123 456" if totp.at(NOW) != "123456" else "654321", NOW)
    assert users.enable_totp(user, box, secret, totp.at(NOW), NOW)
    later = NOW + timedelta(seconds=60)
    assert not users.check_totp(user, box, totp.at(NOW), later)  # used already
    assert users.check_totp(user, box, totp.at(later - timedelta(seconds=30)), later)  # a step late: fine
    assert not users.check_totp(user, box, totp.at(later + timedelta(minutes=5)), later)
    assert not users.check_totp(
        user, signing.SecretBox(b"o" * 32), totp.at(later + timedelta(seconds=30)), later
    )
    assert users.totp_uri(secret, "lt.nguyen").startswith("otpauth://totp/Callout:lt.nguyen?secret=")


def test_totp_is_required_of_directors_and_admins_only_when_configured() -> None:
    assert users.totp_required("director", True) and users.totp_required("admin", True)
    assert not users.totp_required("viewer", True) and not users.totp_required("dispatch", True)
    assert not users.totp_required("director", False)


def test_the_throttle_counts_per_user_and_per_address(session: Session) -> None:
    settings = ConsoleConfig(user_attempts=2, address_attempts=3, lockout=timedelta(minutes=15))
    verdicts = []
    for _ in range(3):
        verdicts.append(
            throttle.blocked(session, NOW, settings, throttle.record(session, NOW, "desk", "10.0.0.1"))
        )
    assert verdicts == [False, False, True]
    other = throttle.record(session, NOW, "lt.nguyen", "10.0.0.1")
    assert throttle.blocked(session, NOW, settings, other)  # the address's fourth
    elsewhere = throttle.record(session, NOW, "lt.nguyen", "10.0.0.2")
    assert not throttle.blocked(session, NOW, settings, elsewhere)
    later = NOW + timedelta(minutes=16)
    throttle.forget_old(session, later, settings.lockout)
    assert not throttle.blocked(session, later, settings, throttle.record(session, later, "desk", "10.0.0.1"))


def test_the_console_secret_comes_from_the_config_or_is_kept_in_the_database(
    session: Session, database_url: str
) -> None:
    with_key = make_config(database_url)
    with_secret = make_config(database_url, console={"secret_key": "a console secret of some length"})
    embedded = parse_config({"server": {"database_url": database_url}}, env={})
    first = signing.master_secret(session, embedded, NOW)
    assert signing.master_secret(session, embedded, NOW + timedelta(days=1)) == first
    assert (
        len(
            {
                first,
                signing.master_secret(session, with_key, NOW),
                signing.master_secret(session, with_secret, NOW),
            }
        )
        == 3
    )
    assert signing.session_key(first) != signing.session_key(signing.master_secret(session, with_key, NOW))
