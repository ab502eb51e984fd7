"""The proof: the raw database, the logs and Twilio's copies never hold a requester's number or words.

A whole request (open, accept, relay a follow-up, close) runs through the real webhooks against the fake
Twilio server. While it is open the number exists only as Fernet ciphertext; after the purge not even that
remains, in the SQLite file and its write-ahead log (or a PostgreSQL dump), and Twilio's copies are deleted.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, select

import schedules
from callout.config import Config, load_config
from callout.crypto import Vault
from callout.models import Member, ProviderRecord, Request
from callout.transport import Transport
from tests.conftest import TEST_DATABASE_URL, Clock, TwilioClient, add_roster, make_config, send
from tests.e2e import Stack
from tests.fake_twilio import FakeTwilio
from transport.twilio import TwilioTransport

REQUESTER = "+14325559876"
# The number as anyone might write it: a grep for any of these must find nothing.
NUMBER_FORMS = (
    REQUESTER,
    "14325559876",
    "4325559876",
    "432-555-9876",
    "(432) 555-9876",
    "432.555.9876",
    "432 555 9876",
)
OPENING = "I keep seeing the crash on Route 9 when I close my eyes"
FOLLOW_UP = "my wife does not know I am struggling with this"
WORDS = ("crash on Route 9", "close my eyes", "does not know I am struggling")
FERNET_TOKEN = re.compile(rb"gAAAAA[A-Za-z0-9_\-]{20,}=*")
PAGE = "Reply 1 to accept, 2 to pass"
CODE = re.compile(r"request ([A-Z0-9]{4})\.")


def secrets_in(blob: bytes | str) -> list[str]:
    """Return the forms of the requester's number and the phrases of their words found in blob."""
    text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
    return [secret for secret in (*NUMBER_FORMS, *WORDS) if secret.lower() in text.lower()]


def tokens_opening_to_secrets(blob: bytes, vault: Vault) -> list[bytes]:
    """Return every Fernet token in blob that the vault opens to the requester's number or words."""
    found = []
    for token in set(FERNET_TOKEN.findall(blob)):
        plain = vault.decrypt(token.decode())
        if plain is not None and secrets_in(plain):
            found.append(token)
    return found


def sqlite_bytes(database_url: str) -> bytes:
    """Return the raw bytes of an SQLite database file and of its write-ahead log."""
    path = Path(make_url(database_url).database or "")
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def postgres_dump(database_url: str) -> bytes:
    """Return a plain pg_dump of the PostgreSQL database at database_url."""
    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    done = subprocess.run(
        ["pg_dump", "--data-only", "--no-owner", f"--dbname={url}"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def stored(database_url: str) -> bytes:
    """Return what the database holds, byte for byte: the SQLite files, or a PostgreSQL dump."""
    if database_url.startswith("sqlite"):
        return sqlite_bytes(database_url)
    return postgres_dump(database_url)


sqlite_only = pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="greps the SQLite file; PostgreSQL run")
postgres_only = pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs CALLOUT_TEST_DATABASE_URL")


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def config(database_url: str, fake: FakeTwilio) -> Config:
    return make_config(
        database_url,
        twilio={"api_base_url": fake.base_url},
        privacy={"purge_after": "24h", "delete_provider_records": True},
    )


@pytest.fixture
def transport(config: Config) -> Transport:
    return TwilioTransport(config.twilio)


@pytest.fixture
def roster(rt: Any) -> dict[str, Member]:
    return add_roster(
        rt,
        rivera=("Rivera", "peer"),
        chen=("Chen", "peer"),
        nguyen=("Lt. Nguyen", "director"),
    )


@dataclass
class Walk:
    """What a test needs from a request walked through the app: its code and stored ciphertext."""

    code: str
    contact_token: str
    open_bytes: bytes


def page_code(page: str) -> str:
    """Return the request code a page names."""
    found = CODE.search(page)
    assert found is not None, page
    return found.group(1)


def bodies_to(fake: FakeTwilio, number: str) -> list[str]:
    return [str(m.get("Body", "")) for m in fake.messages_to(number)]


def wait(predicate: Any) -> None:
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def remembered(rt: Any) -> int:
    """Return how many provider ids are kept (encrypted) to be deleted after the purge."""
    with rt.sessions() as session:
        return len(session.scalars(select(ProviderRecord.id)).all())


def open_accept_and_relay(
    rt: Any, twilio: TwilioClient, fake: FakeTwilio, roster: dict[str, Member], database_url: str
) -> Walk:
    """Open a request, have Rivera accept it and relay a follow-up; return what is stored meanwhile."""
    rivera = roster["rivera"].phone
    assert twilio.sms(REQUESTER, OPENING).status_code == 200
    send(rt)
    [page] = [b for b in bodies_to(fake, rivera) if PAGE in b]
    code = page_code(page)
    accepted = twilio.sms(rivera, "1").get_data(as_text=True)
    assert REQUESTER not in accepted  # the number goes by the outbox, whose sid is kept for deletion
    send(rt)
    assert any(REQUESTER in b for b in bodies_to(fake, rivera))
    assert twilio.sms(REQUESTER, FOLLOW_UP).status_code == 200
    wait(lambda: any(FOLLOW_UP in b for b in bodies_to(fake, rivera)))
    wait(lambda: remembered(rt) == 3)  # the two texts in, the relay out (noted once Twilio took it)
    with rt.sessions() as session:
        request = session.scalar(select(Request).where(Request.code == code))
        assert request is not None and request.contact_enc is not None
        token = request.contact_enc
    return Walk(code, token, stored(database_url))


def close_and_purge(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], walk: Walk, clock: Clock
) -> None:
    """Close the request, let purge_after pass, and run the scheduler's jobs as the scheduler would."""
    reply = twilio.sms(roster["rivera"].phone, f"DONE {walk.code} family").get_data(as_text=True)
    assert "closed" in reply.lower()
    send(rt)
    clock.advance(hours=24, seconds=1)
    schedules.slow(rt)
    schedules.provider_records(rt)
    send(rt)


def check_open_then_purged(
    rt: Any,
    twilio: TwilioClient,
    fake: FakeTwilio,
    roster: dict[str, Member],
    clock: Clock,
    database_url: str,
) -> None:
    walk = open_accept_and_relay(rt, twilio, fake, roster, database_url)
    vault = rt.env.vault
    assert walk.contact_token.encode() in walk.open_bytes  # the number is stored: as ciphertext
    assert vault.decrypt(walk.contact_token) == REQUESTER
    assert secrets_in(walk.open_bytes) == []

    close_and_purge(rt, twilio, roster, walk, clock)

    after = stored(database_url)
    assert walk.contact_token.encode() not in after
    assert tokens_opening_to_secrets(after, vault) == []
    assert secrets_in(after) == []
    assert walk.code.encode() in after  # the anonymous request is still there, for the statistics


@sqlite_only
def test_the_sqlite_file_holds_the_number_only_encrypted_while_open_and_not_at_all_after_the_purge(
    rt: Any,
    twilio: TwilioClient,
    fake: FakeTwilio,
    roster: dict[str, Member],
    clock: Clock,
    database_url: str,
) -> None:
    check_open_then_purged(rt, twilio, fake, roster, clock, database_url)


@postgres_only
def test_a_postgresql_dump_holds_the_number_only_encrypted_while_open_and_not_at_all_after_the_purge(
    rt: Any,
    twilio: TwilioClient,
    fake: FakeTwilio,
    roster: dict[str, Member],
    clock: Clock,
    database_url: str,
) -> None:
    check_open_then_purged(rt, twilio, fake, roster, clock, database_url)


def test_it_never_logs_a_requesters_number_or_words_even_at_debug(
    rt: Any,
    twilio: TwilioClient,
    fake: FakeTwilio,
    roster: dict[str, Member],
    clock: Clock,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    walk = open_accept_and_relay(rt, twilio, fake, roster, database_url)
    close_and_purge(rt, twilio, roster, walk, clock)

    assert f"request {walk.code}" in caplog.text and "a peer" in caplog.text  # codes and roles, never names
    assert "Rivera" not in caplog.text  # who handled whose request is nothing for a log (issue 10: 9)
    assert secrets_in(caplog.text) == []


def test_twilio_keeps_no_copy_of_the_words_or_messages_after_the_purge_even_when_a_delete_fails(
    rt: Any,
    twilio: TwilioClient,
    fake: FakeTwilio,
    roster: dict[str, Member],
    clock: Clock,
    database_url: str,
) -> None:
    walk = open_accept_and_relay(rt, twilio, fake, roster, database_url)
    reply = twilio.sms(roster["rivera"].phone, f"DONE {walk.code} family").get_data(as_text=True)
    assert "closed" in reply.lower()
    send(rt)
    schedules.provider_records(rt)
    assert fake.deleted == []  # nothing goes before the purge: the peer may still need the thread

    clock.advance(hours=24, seconds=1)
    schedules.slow(rt)
    fake.fail_next(1, status=500)
    schedules.provider_records(rt)
    clock.advance(minutes=1, seconds=1)
    schedules.provider_records(rt)

    about_the_requester = {
        m["sid"] for m in fake.messages if m.get("To") == REQUESTER or secrets_in(str(m.get("Body", "")))
    }
    assert len(about_the_requester) >= 2  # the notice that a peer has it, and the relayed words
    assert about_the_requester <= set(fake.deleted)


def test_no_unauthenticated_route_reveals_a_members_number(
    app: Any, rt: Any, roster: dict[str, Member]
) -> None:
    client = app.test_client()
    forms = [
        number for member in roster.values() for number in (member.phone, member.phone[1:], member.phone[2:])
    ]
    tried = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:int:)?[^>]+>", "1", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            tried.append((method, path))
    tried += [("GET", "/api/v1/oncall"), ("GET", "/api/v1/openapi.json"), ("GET", "/no/such/page")]
    tried += [("POST", "/api/v1/pages"), ("GET", "/twilio/sms"), ("POST", "/twilio/voice")]
    assert ("GET", "/healthz") in tried and ("POST", "/twilio/sms") in tried

    for method, path in tried:
        for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"X-Twilio-Signature": "forged"}):
            response = client.open(
                path, method=method, headers=headers, data={"From": "+14325550000", "To": "+14325550100"}
            )
            seen = response.get_data(as_text=True) + str(dict(response.headers))
            leaked = [number for number in forms if number in seen]
            assert leaked == [], f"{method} {path} revealed a member's number"


@pytest.mark.e2e
def test_a_real_server_logs_and_keeps_nothing_of_the_requester_and_deletes_twilios_copies(
    tmp_path: Path, database_url: str
) -> None:
    stack = Stack(
        tmp_path,
        database_url,
        {"ack_timeout": "30s", "peers": 2, "call_after": "0", "fallback": ["director"]},
        privacy={"purge_after": "1s", "delete_provider_records": True},
    )
    rivera, chen, nguyen = "+14325551101", "+14325551102", "+14325551105"
    stack.roster([("Rivera", rivera, "peer"), ("Chen", chen, "peer"), ("Lt. Nguyen", nguyen, "director")])
    try:
        stack.serve()
        vault = Vault(load_config(stack.config, env={}).privacy.data_key)
        status, body = stack.sms(REQUESTER, OPENING)
        assert status == 200 and "988" in body
        stack.wait(lambda: any(PAGE in b for b in stack.bodies_to(rivera)))
        code = page_code(next(b for b in stack.bodies_to(rivera) if PAGE in b))
        status, body = stack.sms(rivera, "1")
        assert REQUESTER not in body  # the number goes by a text whose sid Callout keeps
        stack.wait(lambda: any(REQUESTER in b for b in stack.bodies_to(rivera)))
        stack.sms(REQUESTER, FOLLOW_UP)
        stack.wait(lambda: any(FOLLOW_UP in b for b in stack.bodies_to(rivera)))
        stack.wait(lambda: any("has your request" in b for b in stack.bodies_to(REQUESTER)))

        while_open = stored(database_url)
        assert secrets_in(while_open) == []
        assert tokens_opening_to_secrets(while_open, vault) != []  # there, but only encrypted

        status, body = stack.sms(rivera, f"DONE {code} work")
        assert status == 200 and "closed" in body.lower()
        time.sleep(1.2)  # purge_after
        purge = subprocess.run(
            [sys.executable, "-m", "cli", "--config", str(stack.config), "privacy", "purge"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert purge.returncode == 0, purge.stderr
        about_the_requester = {
            m["sid"]
            for m in stack.fake.messages
            if m.get("To") == REQUESTER or secrets_in(str(m.get("Body", "")))
        }
        handed = [m for m in stack.fake.messages if m.get("To") == rivera and REQUESTER in str(m.get("Body"))]
        assert handed and {m["sid"] for m in handed} <= about_the_requester  # the number Rivera got, too
        stack.wait(lambda: about_the_requester <= set(stack.fake.deleted))

        after = stored(database_url)
        assert tokens_opening_to_secrets(after, vault) == []
        assert secrets_in(after) == []
        assert code.encode() in after
        assert secrets_in(stack.logs() + purge.stdout + purge.stderr) == []
        assert f"request {code}" in stack.logs()
    finally:
        stack.close()


def test_a_database_error_never_quotes_the_number_it_was_looking_up(database_url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from callout.db import make_engine

    engine = make_engine(database_url)
    try:
        with pytest.raises(DBAPIError) as raised, engine.connect() as connection:
            connection.execute(text("SELECT * FROM no_such_table WHERE phone = :phone"), {"phone": REQUESTER})
        assert REQUESTER not in str(raised.value)
    finally:
        engine.dispose()
