"""Privacy: the key rotation, the purge and its timing, PRIVACY, and deleting the provider's copies."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
import time_machine
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import schedules
from callout import privacy
from callout.config import Config
from callout.conversation import handle_sms
from callout.crypto import Vault, new_key
from callout.env import Env
from callout.models import AuditEntry, InboundSeen, Member, Outbox, Page, ProviderRecord, Request, Team
from callout.transport import Sms
from cli import cli
from tests.conftest import (
    DATA_KEY,
    NOW,
    Clock,
    RecordingTransport,
    TwilioClient,
    add_roster,
    make_config,
    send,
    tick,
)
from tests.fake_twilio import ACCOUNT_SID
from transport.twilio import TwilioTransport

REQUESTER = "+14325559876"
WORDS = "I'm parked behind the station"


class DeletingTransport(RecordingTransport):
    """A recording transport that also records deletions, and refuses the sids it is told to."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[Sms, str]] = []
        self.deleted: list[str] = []
        self.asked: list[list[str]] = []
        self.refuse: set[str] = set()

    def send_sms(self, sms: Any) -> str:
        """Record an SMS with the id it was given."""
        sid = super().send_sms(sms)
        self.sent.append((sms, sid))
        return sid

    def delete_records(self, sids: list[str]) -> list[str]:
        """Delete all but the refused sids; return the refused ones."""
        self.asked.append(list(sids))
        self.deleted += [sid for sid in sids if sid not in self.refuse]
        return [sid for sid in sids if sid in self.refuse]


@pytest.fixture
def config(database_url: str) -> Config:
    return make_config(database_url, privacy={"purge_after": "24h", "delete_provider_records": True})


@pytest.fixture
def transport() -> DeletingTransport:
    return DeletingTransport()


@pytest.fixture
def team(rt: Any) -> dict[str, Member]:
    return add_roster(
        rt,
        rivera=("Rivera", "peer"),
        chen=("Chen", "peer"),
        nguyen=("Lt. Nguyen", "director"),
        brooks=("Brooks", "dispatch"),
    )


def the_request(rt: Any) -> Request:
    sessions: sessionmaker[Session] = rt.sessions
    with sessions() as session:
        request = session.scalars(select(Request).order_by(Request.id)).first()
        assert request is not None
        return request


def count(rt: Any, model: Any) -> int:
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def encrypted_values(sessions: sessionmaker[Session]) -> list[str]:
    """Return every stored *_enc value."""
    values = []
    with sessions() as session:
        for model, attribute in privacy.encrypted_columns():
            column = getattr(model, attribute)
            values += list(session.scalars(select(column).where(column.is_not(None))))
    return values


def queue(rt: Any, sid: str, at: datetime) -> None:
    """Queue a provider id for deletion at a time, as the purge does."""
    with rt.sessions() as session, session.begin():
        session.add(ProviderRecord(sid_enc=rt.env.vault.encrypt(sid), next_attempt_at=at, created_at=NOW))


def provider_sids(rt: Any) -> set[str]:
    """Return the provider ids the outbox still holds."""
    with rt.sessions() as session:
        return set(session.scalars(select(Outbox.provider_sid).where(Outbox.provider_sid.is_not(None))))


def wait_for_relay(rt: Any, transport: DeletingTransport) -> str:
    """Wait until the relay of WORDS was sent (from memory, in a thread) and remembered; return its id."""
    deadline = time.monotonic() + 5
    while count(rt, ProviderRecord) < 3 or not any(WORDS in sms.body for sms, _ in transport.sent):
        assert time.monotonic() < deadline, "the relay was not sent"
        time.sleep(0.01)
    [sid] = [sid for sms, sid in transport.sent if WORDS in sms.body]
    return sid


def accept_and_close(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], follow_up: bool = False
) -> Request:
    """Open a request, have Rivera accept it and close it; return it."""
    twilio.sms(REQUESTER, "hello", MessageSid="SM" + "1" * 32)
    send(rt)
    if follow_up:  # a text before anyone accepted: the requester is told it reaches nobody
        twilio.sms(REQUESTER, WORDS)
    twilio.sms(team["rivera"].phone, "1")
    send(rt)
    twilio.sms(team["rivera"].phone, "DONE work")
    send(rt)
    return the_request(rt)


# -- rekey ------------------------------------------------------------------------------------------


def test_it_re_encrypts_every_stored_value_and_the_sender_still_finds_their_request(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], config: Config, clock: Clock
) -> None:
    twilio.sms(REQUESTER, "hello")  # a contact, its lookup key, queued pages and a provider id
    twilio.sms(team["brooks"].phone, "PAGE officer down at 5th and Main, call 432-555-0199")  # a note
    old, new = rt.env.vault, Vault(new_key())
    before = encrypted_values(rt.sessions)
    plain = sorted(old.decrypt(value) or "" for value in before)
    assert len(before) >= 6 and "" not in plain

    with rt.sessions() as session, session.begin():
        assert privacy.rekey(session, old, new) == len(before)

    after = encrypted_values(rt.sessions)
    assert sorted(new.decrypt(value) or "" for value in after) == plain
    assert all(old.decrypt(value) is None for value in after)
    with rt.sessions() as session, session.begin():
        assert the_request(rt).contact_key == new.lookup_key(REQUESTER)
        row = session.scalar(select(Team))
        assert row is not None
        reply = handle_sms(session, Env(config, new), clock(), row, REQUESTER, "still there?")
    assert reply.text is not None and "still reaching a peer" in reply.text
    assert count(rt, Request) == 2


def test_it_changes_nothing_when_a_value_does_not_open_with_the_current_key(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(REQUESTER, "hello")
    stray_key = new_key()
    with rt.sessions() as session, session.begin():
        row = session.scalar(select(Outbox).where(Outbox.to_enc.is_not(None)))
        assert row is not None
        row.body_enc = Vault(stray_key).encrypt("written under a key since replaced")
    before = encrypted_values(rt.sessions)

    with rt.sessions() as session, session.begin(), pytest.raises(privacy.RekeyError, match="1 stored value"):
        privacy.rekey(session, rt.env.vault, Vault(new_key()))
    assert encrypted_values(rt.sessions) == before

    with rt.sessions() as session, session.begin():
        assert privacy.rekey(session, Vault(DATA_KEY, stray_key), Vault(new_key())) == len(before)


# -- the purge --------------------------------------------------------------------------------------


def test_it_erases_the_contact_purge_after_the_close_and_not_a_second_before(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    closed = accept_and_close(rt, twilio, team, follow_up=True)
    assert closed.status == "closed" and closed.contact_enc is not None and closed.contact_key is not None
    assert closed.told_unrelayed

    clock.advance(hours=24, seconds=-1)
    schedules.slow(rt)
    assert the_request(rt).contact_enc is not None

    clock.advance(seconds=1)
    schedules.slow(rt)
    purged = the_request(rt)
    assert (purged.contact_enc, purged.contact_key, purged.note_enc) == (None, None, None)
    assert not purged.told_unrelayed  # nor whether they texted before a peer accepted
    assert purged.purged_at == clock() and purged.content_area == "work"
    with rt.sessions() as session:
        assert session.scalars(select(Outbox).where(Outbox.request_id == purged.id)).all() == []
        assert session.scalars(select(Page).where(Page.request_id == purged.id)).all() == []
        accepted_by = session.get(Request, purged.id).accepted_by
        assert accepted_by is not None and accepted_by.name == "Rivera"  # who accepted stays
    assert provider_sids(rt) == set()


def test_the_purge_leaves_no_trace_of_who_asked_for_themselves(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(team["rivera"].phone, "TALK")  # Rivera, primary on call, asks for support: never paged
    send(rt)
    twilio.sms(team["chen"].phone, "1")
    twilio.sms(team["chen"].phone, "DONE family")
    with rt.sessions() as session:
        assert {p.member.name for p in session.scalars(select(Page))} == {"Chen"}  # the gap is Rivera
    clock.advance(hours=24, seconds=1)
    schedules.slow(rt)
    with rt.sessions() as session:
        assert session.scalars(select(Page)).all() == []
        # What the outbox still holds is the director's coverage warning (this team has no psychologist)
        # and the heads-up to whoever is on call now: nothing about the request, nothing to or about Rivera.
        left = session.scalars(select(Outbox)).all()
        assert all(row.request_id is None and row.page_id is None for row in left)
        vault = rt.env.vault
        sent = [(vault.decrypt(row.to_enc or ""), vault.decrypt(row.body_enc or "") or "") for row in left]
        assert all("Rivera" not in body for _, body in sent) and team["rivera"].phone not in [
            to for to, _ in sent
        ]
        warnings = [body for to, body in sent if to == team["nguyen"].phone]
        assert warnings and all("cover" in body for body in warnings)
        assert all("you're on call" in body for to, body in sent if to != team["nguyen"].phone)
        [request] = session.scalars(select(Request)).all()
        assert (request.kind, request.status, request.content_area) == ("support", "closed", "family")
        assert request.contact_key is None  # nothing left that leads to Rivera


def test_the_log_names_no_member_in_connection_with_a_talk(
    rt: Any,
    twilio: TwilioClient,
    transport: DeletingTransport,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from callout.housekeeping import purge
    from callout.transport import TransportError

    crew = add_roster(
        rt,
        rivera=("Ofc. Dana Rivera", "peer"),
        chen=("Sgt. Lee Chen", "peer"),
        ortiz=("Det. Sam Ortiz", "peer"),
        patel=("Dr. Ana Patel", "psychologist"),
        nguyen=("Lt. Ray Nguyen", "director"),
    )
    caplog.set_level(logging.DEBUG)
    transport.fail[crew["patel"].phone] = TransportError("Twilio error 21211", permanent=True, code=21211)
    twilio.sms(crew["rivera"].phone, "TALK")  # the primary asks for support: every other member is paged
    send(rt)
    clock.advance(minutes=2, seconds=1)
    tick(rt)  # Chen is phoned
    clock.advance(minutes=3)
    tick(rt)  # Chen's step times out: Ortiz is paged
    twilio.sms(crew["ortiz"].phone, "2")  # the psychologist's page fails: the director is paged
    send(rt)
    code = the_request(rt).code
    twilio.sms(crew["nguyen"].phone, "1")
    twilio.sms(crew["rivera"].phone, "thanks, call me after 6")  # relayed to the director
    twilio.sms(crew["nguyen"].phone, f"RELEASE {code}")
    twilio.sms(crew["chen"].phone, f"1 {code}")
    twilio.sms(crew["chen"].phone, "DONE work")
    send(rt)
    clock.advance(hours=24, seconds=1)
    rt.run(purge)
    logged = caplog.text
    assert f"request {code} step 4: paging a director" in logged and f"request {code} closed" in logged
    assert "relaying a follow-up to a director" in logged and f"request {code}: calling a peer" in logged
    for member in crew.values():
        for word in member.name.split():
            assert word not in logged, f"the log names {member.name}"


def test_it_erases_an_unanswered_requests_contact_purge_after_it_ran_out_of_people(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(REQUESTER, "hello")
    send(rt)
    while the_request(rt).status == "open":
        clock.advance(minutes=10, seconds=1)
        tick(rt)
    exhausted = the_request(rt)
    assert exhausted.status == "exhausted" and exhausted.purge_at == clock() + timedelta(hours=24)

    clock.advance(hours=24)
    schedules.slow(rt)
    assert the_request(rt).contact_enc is None


def test_it_reminds_the_peer_then_closes_as_unspecified_and_erases_the_contact_later(
    rt: Any, twilio: TwilioClient, transport: DeletingTransport, team: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(REQUESTER, "hello")
    twilio.sms(team["rivera"].phone, "1")
    accepted_at = clock()
    clock.advance(hours=2)
    schedules.slow(rt)
    clock.advance(hours=1)
    schedules.slow(rt)
    send(rt)
    assert sum("Reminder" in b for b in transport.to(team["rivera"].phone)) == 1

    clock.now = accepted_at + timedelta(hours=72, seconds=-1)
    schedules.slow(rt)
    assert the_request(rt).status == "accepted" and the_request(rt).purge_at is None

    clock.now = accepted_at + timedelta(hours=72)
    schedules.slow(rt)
    closed = the_request(rt)
    assert (closed.status, closed.closed_reason, closed.content_area) == ("closed", "unspecified", None)
    assert closed.contact_enc is not None

    clock.advance(hours=24)
    schedules.slow(rt)
    assert the_request(rt).contact_enc is None


# -- PRIVACY ---------------------------------------------------------------------------------------


def test_privacy_says_what_is_kept_and_for_how_long_and_keeps_nothing(
    rt: Any, twilio: TwilioClient, team: dict[str, Member]
) -> None:
    sid = "SM" + "7" * 32
    reply = twilio.sms(REQUESTER, " privacy ", MessageSid=sid).get_data(as_text=True)

    assert "encrypted" in reply and "24 h" in reply and "never stored" in reply
    for model in (Request, Outbox):
        assert count(rt, model) == 0
    with rt.sessions() as session:
        assert session.scalar(select(InboundSeen.sid_hash)) != sid  # only a digest, to drop a retry
        [record] = session.scalars(select(ProviderRecord)).all()  # Twilio's copy, queued for deletion
        assert record.request_id is None and rt.env.vault.decrypt(record.sid_enc) == sid


def test_texts_the_flood_limits_drop_are_deleted_at_the_provider_too(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    limit = rt.config.limits.per_number
    sids = [f"SM{n:032d}" for n in range(limit + 2)]
    for sid in sids:
        twilio.sms(REQUESTER, "help", MessageSid=sid)
    with rt.sessions() as session:
        queued = {rt.env.vault.decrypt(r.sid_enc) for r in session.scalars(select(ProviderRecord))}
        linked = {
            rt.env.vault.decrypt(r.sid_enc)
            for r in session.scalars(select(ProviderRecord).where(ProviderRecord.request_id.is_not(None)))
        }
    assert queued == set(sids)  # every text's words: with the request, or (past the limit) on their own
    assert linked == set(sids[:limit])


# -- the provider's copies --------------------------------------------------------------------------


def test_it_deletes_the_requests_messages_and_texts_at_the_provider_only_after_the_purge(
    rt: Any, twilio: TwilioClient, transport: DeletingTransport, team: dict[str, Member], clock: Clock
) -> None:
    rivera = team["rivera"].phone
    twilio.sms(REQUESTER, "hello", MessageSid="SM" + "1" * 32)
    send(rt)
    twilio.sms(rivera, "1", MessageSid="SM" + "2" * 32)
    send(rt)
    twilio.sms(REQUESTER, WORDS, MessageSid="SM" + "3" * 32)
    relay_sid = wait_for_relay(rt, transport)
    twilio.sms(rivera, "DONE family", MessageSid="SM" + "4" * 32)
    send(rt)
    outbox_sids = provider_sids(rt)
    assert len(outbox_sids) >= 2  # the page, the notice to the requester
    schedules.provider_records(rt)
    assert transport.deleted == []

    clock.advance(hours=24)
    schedules.slow(rt)
    schedules.provider_records(rt)

    inbound = {"SM" + "1" * 32, "SM" + "3" * 32}  # the requester's texts, not the peer's commands
    assert sorted(transport.deleted) == sorted(inbound | {relay_sid} | outbox_sids)
    assert count(rt, ProviderRecord) == 0 and provider_sids(rt) == set()


def test_the_text_handing_a_peer_the_number_goes_through_the_outbox_and_is_deleted_after_the_purge(
    rt: Any, twilio: TwilioClient, transport: DeletingTransport, team: dict[str, Member], clock: Clock
) -> None:
    rivera = team["rivera"].phone
    twilio.sms(REQUESTER, "hello")
    send(rt)
    for _ in range(2):  # the accept, then a repeated 1 that asks for the number again
        reply = twilio.sms(rivera, "1").get_data(as_text=True)
        assert "<Message>" not in reply and REQUESTER not in reply  # a TwiML reply's id is never known
        send(rt)
    handed = [(sms, sid) for sms, sid in transport.sent if sms.to == rivera and REQUESTER in sms.body]
    assert len(handed) == 2 and all(sms.requester for sms, _ in handed)  # Twilio is asked to keep neither
    twilio.sms(rivera, "DONE family")
    send(rt)
    clock.advance(hours=24, seconds=1)
    schedules.slow(rt)
    schedules.provider_records(rt)
    assert {sid for _, sid in handed} <= set(transport.deleted)


def test_it_retries_a_failed_deletion_with_backoff_and_gives_up_after_many_tries(
    rt: Any, transport: DeletingTransport, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    sids = ["SM" + "a" * 32, "SM" + "b" * 32]
    with rt.sessions() as session, session.begin():
        for sid in sids:
            session.add(
                ProviderRecord(sid_enc=rt.env.vault.encrypt(sid), next_attempt_at=clock(), created_at=NOW)
            )
    transport.refuse = {sids[1]}

    schedules.provider_records(rt)
    assert transport.deleted == [sids[0]] and count(rt, ProviderRecord) == 1
    clock.advance(seconds=59)
    schedules.provider_records(rt)
    assert len(transport.asked) == 1  # not before the backoff
    clock.advance(seconds=1)
    schedules.provider_records(rt)
    assert transport.asked[-1] == [sids[1]] and count(rt, ProviderRecord) == 1

    caplog.set_level(logging.ERROR)
    for _ in range(privacy.MAX_DELETE_ATTEMPTS):
        clock.advance(hours=6)
        schedules.provider_records(rt)
    assert len(transport.asked) == privacy.MAX_DELETE_ATTEMPTS
    assert count(rt, ProviderRecord) == 0
    assert "gave up on 1" in caplog.text and sids[1] not in caplog.text


def test_a_deletion_is_claimed_by_one_process_only(rt: Any, clock: Clock) -> None:
    queue(rt, "SM" + "c" * 32, clock())

    first = rt.run(privacy.due_deletions)
    second = rt.run(privacy.due_deletions)

    assert [d.sid for d in first] == ["SM" + "c" * 32] and second == []


def test_it_deletes_through_twilios_rest_api_and_retries_a_server_error(
    rt: Any, config: Config, clock: Clock
) -> None:
    rt.transport = TwilioTransport(config.twilio)
    sid = "SM" + "d" * 32
    with rt.sessions() as session, session.begin():
        session.add(
            ProviderRecord(sid_enc=rt.env.vault.encrypt(sid), next_attempt_at=clock(), created_at=NOW)
        )
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json"
    error = {"code": 20500, "message": "Internal Server Error", "status": 500}

    with responses.RequestsMock() as mock:
        mock.delete(url, json=error, status=500)
        mock.delete(url, status=204)
        schedules.provider_records(rt)
        assert count(rt, ProviderRecord) == 1
        clock.advance(minutes=1)
        schedules.provider_records(rt)
        assert [call.request.method for call in mock.calls] == ["DELETE", "DELETE"]
    assert count(rt, ProviderRecord) == 0


def test_it_keeps_no_provider_ids_when_deletion_is_off(
    rt: Any,
    twilio: TwilioClient,
    transport: DeletingTransport,
    team: dict[str, Member],
    config: Config,
    clock: Clock,
) -> None:
    off = replace(config, privacy=replace(config.privacy, delete_provider_records=False))
    rt.env = rt.sender.env = Env(off, rt.env.vault)
    accept_and_close(rt, twilio, team)
    assert count(rt, ProviderRecord) == 0

    clock.advance(hours=24)
    schedules.slow(rt)
    schedules.provider_records(rt)
    assert the_request(rt).purged_at == clock() and transport.asked == []
    assert provider_sids(rt) == set()


# -- the commands ------------------------------------------------------------------------------------


def write_config(tmp_path: Path, database_url: str, key: str | None) -> Path:
    """Write a config file with one team and, if given, a data_key."""
    privacy_table = f'[privacy]\ndata_key = "{key}"\n' if key else ""
    path = tmp_path / "config.toml"
    path.write_text(
        f'[server]\ndatabase_url = "{database_url}"\n{privacy_table}'
        '[[teams]]\nslug = "odessa"\nname = "Odessa"\nsupport_number = "+14325550100"\n'
    )
    return path


def invoke(config_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config_path), *args])


def seed_request(sessions: sessionmaker[Session], vault: Vault, closed_at: datetime) -> None:
    """Store a closed request whose contact is due for the purge 24 h after closed_at."""
    with sessions() as session, session.begin():
        team = session.scalar(select(Team).where(Team.slug == "odessa"))
        assert team is not None
        session.add(
            Request(
                team=team,
                code="K7QD",
                kind="support",
                channel="sms",
                status="closed",
                opened_at=closed_at,
                closed_at=closed_at,
                contact_enc=vault.encrypt(REQUESTER),
                contact_key=vault.lookup_key(REQUESTER),
                purge_at=closed_at + timedelta(hours=24),
            )
        )


def test_the_rekey_command_re_encrypts_and_says_what_to_put_in_the_config(
    tmp_path: Path, database_url: str, sessions: sessionmaker[Session]
) -> None:
    old, new = new_key(), new_key()
    config_path = write_config(tmp_path, database_url, old)
    assert invoke(config_path, "db", "upgrade").exit_code == 0
    seed_request(sessions, Vault(old), NOW)

    result = invoke(config_path, "privacy", "rekey", "--new-key", new)

    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 stored value(s)" in result.output and f'data_key = "{new}"' in result.output
    with sessions() as session:
        request = session.scalar(select(Request))
        assert request is not None and request.contact_enc is not None
        assert Vault(new).decrypt(request.contact_enc) == REQUESTER
        assert request.contact_key == Vault(new).lookup_key(REQUESTER)
        (entry,) = session.scalars(select(AuditEntry)).all()  # who rekeyed and when, for the audit page
    assert (entry.via, entry.action, entry.team_id) == ("cli", "privacy.rekey", None)
    assert entry.summary == "re-encrypted the stored contact details under a new data_key"  # no key, no code
    assert entry.actor and entry.at is not None


@pytest.mark.parametrize(
    ("key", "args", "message"),
    [
        ("current", ["--new-key", "not-a-key"], "callout: --new-key is not a data key"),
        ("current", ["--new-key", "current"], "callout: --new-key is the key in use"),
        (None, ["--new-key", "fresh"], "callout: no [privacy] data_key"),
    ],
)
def test_the_rekey_command_refuses_with_one_clear_line(
    tmp_path: Path, database_url: str, key: str | None, args: list[str], message: str
) -> None:
    keys = {"current": new_key(), "fresh": new_key()}
    config_path = write_config(tmp_path, database_url, keys[key] if key else None)

    result = invoke(config_path, "privacy", "rekey", *[keys.get(arg, arg) for arg in args])

    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_the_purge_command_erases_what_is_due_and_nothing_else(
    tmp_path: Path, database_url: str, sessions: sessionmaker[Session]
) -> None:
    key = new_key()
    config_path = write_config(tmp_path, database_url, key)
    assert invoke(config_path, "db", "upgrade").exit_code == 0
    seed_request(sessions, Vault(key), NOW - timedelta(hours=25))
    seed_request(sessions, Vault(key), NOW - timedelta(hours=23))

    with time_machine.travel(NOW, tick=False):
        result = invoke(config_path, "privacy", "purge")

    assert result.exit_code == 0, result.output
    assert "erased the contact details of 1 request(s)" in result.output
    with sessions() as session:
        kept = session.scalars(select(Request.contact_enc).order_by(Request.id)).all()
    assert kept[0] is None and kept[1] is not None
