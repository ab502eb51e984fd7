"""`callout privacy check`: a clean database and clean logs pass; a number in clear or an overdue row fail."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from click.testing import CliRunner, Result
from sqlalchemy import text

from callout.config import Config
from callout.models import Member
from cli import cli
from tests.conftest import (
    DATA_KEY,
    Clock,
    TwilioClient,
    add_roster,
    make_config,
    send,
    tick,
)

REQUESTER, CALLER = "+14325559876", "+14325559877"
MASKED = "+1432•••••76"


@pytest.fixture
def config(database_url: str) -> Config:
    return make_config(database_url, privacy={"delete_provider_records": True})


@pytest.fixture
def roster(rt: Any) -> dict[str, Member]:
    return add_roster(
        rt,
        rivera=("Rivera", "peer"),
        chen=("Chen", "peer"),
        patel=("Dr. Patel", "psychologist"),
        nguyen=("Lt. Nguyen", "director"),
        diaz=("Diaz", "dispatch"),
    )


@pytest.fixture
def lived_in(
    rt: Any,
    twilio: TwilioClient,
    roster: dict[str, Member],
    clock: Clock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> Path:
    """Play a day of the line (a request closed and purged, others open, a TALK, pages); return its log."""
    caplog.set_level(logging.DEBUG)
    twilio.sms(REQUESTER, "I need to talk to someone, call me at 432 555 9876")
    send(rt)
    twilio.sms(roster["rivera"].phone, "1")
    twilio.sms(REQUESTER, "my other number is (432) 555-0199")  # relayed from memory, never stored
    twilio.sms(roster["rivera"].phone, "DONE work ot")
    twilio.sms(roster["chen"].phone, "TALK")
    twilio.sms(roster["diaz"].phone, "PAGE Ofc. Lee at Station 2 asks for a peer, call 432-555-0150")
    send(rt)
    api = twilio.client.post(
        "/api/v1/pages",
        json={"kind": "page", "note": "crash on I-20", "callback": "(432) 555-0151"},
        headers={"Authorization": "Bearer dispatch-secret"},
    )
    assert api.status_code == 201
    clock.advance(hours=25)
    tick(rt)
    import schedules

    schedules.slow(rt)  # the closed request is purged; the others live on, encrypted
    twilio.sms(CALLER, "hello?")  # a request still open
    send(rt)
    log = tmp_path / "callout.log"
    log.write_text(caplog.text)
    return log


def check(tmp_path: Path, database_url: str, clock: Clock, *args: str) -> Result:
    """Run `callout privacy check ARGS` on the test database at the test clock's time."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\ndatabase_url = "{database_url}"\n[privacy]\ndata_key = "{DATA_KEY}"\n'
        '[[teams]]\nslug = "odessa"\nname = "Odessa PD Peer Support"\nsupport_number = "+14325550100"\n'
    )
    with time_machine.travel(clock(), tick=False):
        return CliRunner().invoke(cli, ["--config", str(config), "privacy", "check", *args])


def test_a_database_and_a_log_the_line_lived_in_pass(
    tmp_path: Path, database_url: str, clock: Clock, lived_in: Path
) -> None:
    result = check(tmp_path, database_url, clock, "--log", str(lived_in))
    assert result.exit_code == 0, result.output
    assert "Verdict: PASS" in result.output
    assert "Phone numbers in clear in the database: none." in result.output
    assert "still holding contact details: none (1 erased" in result.output
    assert "(24 hours after it ended)" in result.output
    assert f"Phone numbers in {lived_in}: none." in result.output
    assert "every table but the roster" in result.output and "Not checked here: Twilio" in result.output


def test_a_number_planted_in_clear_fails_the_check_and_is_shown_masked(
    rt: Any, tmp_path: Path, database_url: str, clock: Clock, lived_in: Path
) -> None:
    with rt.engine.begin() as connection:
        row = connection.execute(text("SELECT min(id) FROM outbox")).scalar_one()
        connection.execute(
            text("UPDATE outbox SET error = 'refused 432-555-9876' WHERE id = :id"), {"id": row}
        )
    result = check(tmp_path, database_url, clock)
    assert result.exit_code == 1, result.output
    assert "Phone numbers in clear in the database: 1" in result.output
    assert f"outbox.error (id {row}): {MASKED} (not on the roster)" in result.output
    assert "Verdict: FAIL, 1 finding(s)" in result.output and "may be a requester's" in result.output
    assert "9876" not in result.output.replace(MASKED, "")  # never repeated in clear


def test_a_number_in_a_table_this_version_does_not_know_is_found_too(
    rt: Any, tmp_path: Path, database_url: str, clock: Clock, lived_in: Path
) -> None:
    with rt.engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes_left_behind (id INTEGER PRIMARY KEY, body TEXT)"))
        connection.execute(text("INSERT INTO notes_left_behind VALUES (7, 'call back +1 432 555 9876')"))
    try:
        result = check(tmp_path, database_url, clock)
    finally:
        with rt.engine.begin() as connection:
            connection.execute(text("DROP TABLE notes_left_behind"))
    assert result.exit_code == 1, result.output
    assert f"notes_left_behind.body (id 7): {MASKED}" in result.output


def test_a_request_left_unpurged_past_its_time_fails_the_check(
    rt: Any, tmp_path: Path, database_url: str, clock: Clock, lived_in: Path
) -> None:
    with rt.engine.begin() as connection:  # the open request ended a day ago and the purge never ran
        connection.execute(
            text("UPDATE requests SET status = 'exhausted', purge_at = :due WHERE contact_enc IS NOT NULL"),
            {"due": (clock() - timedelta(hours=1)).replace(tzinfo=None)},
        )
    result = check(tmp_path, database_url, clock)
    assert result.exit_code == 1, result.output
    assert "Requests past their erasure time still holding contact details:" in result.output
    assert "the contact number (encrypted), the keyed hash that finds the contact" in result.output
    assert "`callout privacy purge` erases them now" in result.output


def test_a_number_in_a_log_fails_the_check_with_its_line(
    tmp_path: Path, database_url: str, clock: Clock, lived_in: Path
) -> None:
    import gzip

    rotated = tmp_path / "callout.log.1.gz"
    with gzip.open(rotated, "wt") as out:
        out.write("2026-03-10 15:00:00,000 INFO x: fine\n2026-03-10 15:00:01,000 INFO x: texted 4325559876\n")
    result = check(tmp_path, database_url, clock, "--log", str(lived_in), "--log", str(rotated))
    assert result.exit_code == 1, result.output
    assert f"Phone numbers in {rotated}: 1" in result.output and f"line 2: {MASKED}" in result.output
    assert f"Phone numbers in {lived_in}: none." in result.output


def test_a_log_that_is_not_there_is_one_line_and_nothing_is_checked(
    tmp_path: Path, database_url: str, clock: Clock
) -> None:
    result = check(tmp_path, database_url, clock, "--log", str(tmp_path / "nope.log"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr == f"callout: --log {tmp_path / 'nope.log'}: no such file\n"
