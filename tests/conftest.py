"""Shared fixtures: a migrated database (SQLite, or PostgreSQL by URL), config and factories."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from callout.config import Config, parse_config
from callout.crypto import new_key
from callout.db import make_engine, make_sessionmaker, upgrade
from callout.models import Base, Member, Team
from callout.teams import sync_teams

TEST_DATABASE_URL = os.environ.get("CALLOUT_TEST_DATABASE_URL", "")
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Odessa (CDT)


def team_table(**overrides: Any) -> dict[str, Any]:
    """Return the TOML table of the test team, with overrides."""
    table: dict[str, Any] = {
        "slug": "odessa",
        "name": "Odessa PD Peer Support",
        "support_number": "+14325550100",
        "timezone": "America/Chicago",
        "handoff": "07:00",
        "dispatch_token": "dispatch-secret",
        "escalation": {
            "ack_timeout": "5m",
            "peers": 3,
            "call_after": "2m",
            "fallback": ["psychologist", "director"],
            "fallback_timeout": "10m",
        },
    }
    table.update(overrides)
    return table


def make_config(database_url: str, *teams: dict[str, Any], **sections: Any) -> Config:
    """Return a Config for tests: one team, a data key, signatures checked with a known token."""
    data: dict[str, Any] = {
        "server": {"public_url": "https://peer.example.org", "database_url": database_url},
        "twilio": {"account_sid": "AC" + "1" * 32, "auth_token": "test-auth-token"},
        "privacy": {"data_key": DATA_KEY},
        "teams": list(teams) or [team_table()],
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return parse_config(data, env={})


DATA_KEY = new_key()


def _reset(engine: Engine) -> None:
    """Empty every table (PostgreSQL runs share one database)."""
    with engine.begin() as connection:
        names = ", ".join(table.name for table in Base.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def _postgres_engine() -> Iterator[Engine | None]:
    if not TEST_DATABASE_URL:
        yield None
        return
    engine = make_engine(TEST_DATABASE_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path, _postgres_engine: Engine | None) -> Iterator[str]:
    """Return the URL of an empty, migrated database for this test."""
    if _postgres_engine is not None:
        _reset(_postgres_engine)
        yield TEST_DATABASE_URL
        return
    url = f"sqlite:///{tmp_path / 'callout.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url


@pytest.fixture
def new_database(tmp_path: Path) -> Iterator[str]:
    """Return the URL of a database created empty, not migrated (PostgreSQL: dropped after the test)."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path / 'new.db'}"
        return
    import secrets

    server = TEST_DATABASE_URL.rsplit("/", 1)[0]
    admin = make_engine(server + "/postgres", isolation_level="AUTOCOMMIT")
    name = f"callout_new_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield f"{server}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """Return an engine on the test database."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory on the test database."""
    return make_sessionmaker(engine)


@pytest.fixture
def config(database_url: str) -> Config:
    """Return the test configuration (team odessa)."""
    return make_config(database_url)


@pytest.fixture
def session(sessions: sessionmaker[Session], config: Config) -> Iterator[Session]:
    """Return a session with the configured teams synced; the test commits or not as it likes."""
    with sessions() as session:
        sync_teams(session, config)
        session.commit()
        yield session


@pytest.fixture
def team(session: Session) -> Team:
    """Return the odessa team row."""
    from sqlalchemy import select

    found = session.scalar(select(Team).where(Team.slug == "odessa"))
    assert found is not None
    return found


_phone_counter = iter(range(101, 9999))


def make_member(session: Session, team: Team, name: str, role: str = "peer", **fields: Any) -> Member:
    """Add a member with a fresh valid phone number (432-555-01xx) at the end of the rotation."""
    position = max((m.position for m in team.members), default=-1) + 1
    phone = fields.pop("phone", None) or f"+1432555{next(_phone_counter):04d}"
    member = Member(team=team, name=name, phone=phone, role=role, position=position, **fields)
    session.add(member)
    session.flush()
    return member


def add_roster(rt: Any, **members: tuple[str, str]) -> dict[str, Member]:
    """Add members (key=(name, role)) to the odessa team in rotation order; return them by key."""
    from sqlalchemy import select

    with rt.sessions() as session, session.begin():
        team = session.scalar(select(Team).where(Team.slug == "odessa"))
        return {key: make_member(session, team, name, role=role) for key, (name, role) in members.items()}


@pytest.fixture
def now() -> datetime:
    """Return the fixed test clock."""
    return NOW


class RecordingTransport:
    """A transport that records what it was asked to send (for tests of the app without HTTP)."""

    def __init__(self) -> None:
        import threading

        from callout.transport import Call, Sms

        self.sms: list[Sms] = []
        self.calls: list[Call] = []
        self.fail: dict[str, Exception] = {}
        self.down: Exception | None = None  # raised for every send and call: the provider is out
        self._lock = threading.Lock()
        self._count = 0

    def send_sms(self, sms: Any) -> str:
        """Record an SMS, or raise the error planned for its recipient (or for everyone)."""
        if self.down is not None:
            raise self.down
        if sms.to in self.fail:
            raise self.fail[sms.to]
        with self._lock:
            self.sms.append(sms)
            self._count += 1
            return f"SM{self._count:032x}"

    def place_call(self, call: Any) -> str:
        """Record a call, or raise the provider's outage."""
        if self.down is not None:
            raise self.down
        with self._lock:
            self.calls.append(call)
            self._count += 1
            return f"CA{self._count:032x}"

    def delete_records(self, sids: list[str]) -> list[str]:
        """Pretend to delete provider records."""
        return []

    def to(self, number: str) -> list[str]:
        """Return the bodies sent to number, in order."""
        with self._lock:
            return [s.body for s in self.sms if s.to == number]


def sign(url: str, params: dict[str, str], token: str = "test-auth-token") -> str:
    """Return the X-Twilio-Signature Twilio would send."""
    from twilio.request_validator import RequestValidator

    return str(RequestValidator(token).compute_signature(url, params))


class TwilioClient:
    """Post webhooks to the app signed as Twilio signs them."""

    def __init__(self, client: Any, public_url: str = "https://peer.example.org") -> None:
        self.client = client
        self.public_url = public_url
        self._sid = 0

    def post(self, path: str, params: dict[str, str]) -> Any:
        """POST form params to path with a valid signature."""
        signature = sign(self.public_url + path, params)
        return self.client.post(path, data=params, headers={"X-Twilio-Signature": signature})

    def sms(self, sender: str, body: str, to: str = "+14325550100", **extra: str) -> Any:
        """Send an inbound SMS webhook."""
        self._sid += 1
        params = {"From": sender, "To": to, "Body": body, "MessageSid": f"SM{self._sid:032d}", **extra}
        return self.post("/twilio/sms", params)


@pytest.fixture
def transport() -> RecordingTransport:
    """Return a recording transport."""
    return RecordingTransport()


@pytest.fixture
def app(config: Config, transport: RecordingTransport) -> Iterator[Any]:
    """Return the Flask app on the test database, without background threads."""
    import service
    from webhooks import create_app

    application = create_app(service.build(config, transport=transport))
    yield application
    application.extensions["callout"].close()


@pytest.fixture
def rt(app: Any) -> Any:
    """Return the app's Runtime."""
    return app.extensions["callout"]


@pytest.fixture
def twilio(app: Any) -> TwilioClient:
    """Return a client that posts signed Twilio webhooks."""
    return TwilioClient(app.test_client())


class Clock:
    """A clock tests move by hand; install it on a Runtime with `clock` fixture."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock(rt: Any) -> Clock:
    """Drive the app's Runtime (and its sender) with a hand-moved clock."""
    clock = Clock(NOW)
    rt.clock = rt.sender.clock = clock
    return clock


def send(rt: Any) -> None:
    """Hand everything queued in the outbox to the transport, and wait for it."""
    while rt.sender.drain(wait=True):
        pass
    rt.sender.settle()  # and what a running sender took from a transaction itself


def last_to(rt: Any, transport: RecordingTransport, number: str) -> str:
    """Send what is queued, then return the last text sent to number (an accept's number comes so).

    The sender's threads send in any order: send what was queued before the text of interest first.
    """
    send(rt)
    bodies = transport.to(number)
    assert bodies, f"nothing was sent to {number}"
    return bodies[-1]


def tick(rt: Any) -> None:
    """Run one scheduler tick by hand, then send what it queued."""
    import schedules

    schedules.tick(rt)
    send(rt)


# --- the console ---------------------------------------------------------------------------------

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash console passwords with argon2id at its cheapest: the tests log in hundreds of times."""
    from argon2 import PasswordHasher

    from callout import users

    monkeypatch.setattr(users, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monkeypatch.setattr(users, "_DUMMY", [])


def make_user(
    rt: Any, username: str, role: str = "director", team: str | None = "odessa", **fields: Any
) -> int:
    """Add a console user (password PASSWORD) and return their id."""
    from sqlalchemy import select

    from callout import users

    with rt.sessions() as session, session.begin():
        row = session.scalar(select(Team).where(Team.slug == team)) if team else None
        user = users.add(session, rt.clock(), username, role, row, fields.pop("password", PASSWORD))
        for name, value in fields.items():
            setattr(user, name, value)
        return int(user.id)


class ConsoleClient:
    """A browser-like client of the console: cookies, CSRF tokens read from the pages, https."""

    BASE = "https://peer.example.org"

    def __init__(self, app: Any) -> None:
        self.app = app
        self.client = app.test_client()
        # As a browser sends it on a same-origin POST: Flask-WTF checks it on https.
        self.client.environ_base["HTTP_REFERER"] = self.BASE + "/console/"

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET a page."""
        return self.client.get(path, base_url=self.BASE, **kwargs)

    def token(self, path: str = "/console/login") -> str:
        """Return the CSRF token of the form on a page."""
        import re

        html = self.get(path).get_data(as_text=True)
        found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True, **kwargs: Any) -> Any:
        """POST a form, with the CSRF token unless csrf is False."""
        fields = dict(data or {})
        if csrf:
            fields.setdefault(
                "csrf_token", self.token("/console/login" if "/login" in path else "/console/account")
            )
        return self.client.post(path, data=fields, base_url=self.BASE, **kwargs)

    def login(self, username: str, password: str = PASSWORD, **kwargs: Any) -> Any:
        """Log in with the login form."""
        fields = {"username": username, "password": password, "csrf_token": self.token("/console/login")}
        return self.client.post("/console/login", data=fields, base_url=self.BASE, **kwargs)


@pytest.fixture
def console(app: Any) -> ConsoleClient:
    """Return a console client of the app (not logged in)."""
    return ConsoleClient(app)
