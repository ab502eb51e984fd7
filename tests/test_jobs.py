"""The scheduler's jobs: each part on its own, so one failure never holds up the others or the purge."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import schedules
from callout import escalation, housekeeping, timeouts
from callout.env import Env, make_env
from callout.models import Member, Request
from tests.conftest import (
    Clock,
    RecordingTransport,
    TwilioClient,
    add_roster,
    make_config,
    send,
    team_table,
)

REQUESTER, OTHER = "+14325559876", "+14325559877"


@pytest.fixture
def roster(rt: Any) -> dict[str, Member]:
    return add_roster(
        rt,
        rivera=("Rivera", "peer"),
        chen=("Chen", "peer"),
        nguyen=("Lt. Nguyen", "director"),
    )


def all_requests(rt: Any) -> list[Request]:
    with rt.sessions() as session:
        rows = list(session.scalars(select(Request).order_by(Request.id)))
        for row in rows:
            _ = list(row.pages)
        return rows


def test_one_request_whose_step_fails_does_not_hold_up_the_others(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    twilio.sms(REQUESTER, "help")
    twilio.sms(OTHER, "help")
    send(rt)
    first, second = all_requests(rt)
    real = escalation.next_targets

    def broken_for_the_first(session: Session, env: Env, now: datetime, request: Request) -> Any:
        if request.id == first.id:
            raise RuntimeError(f"a bug that quotes {REQUESTER}")
        return real(session, env, now, request)

    monkeypatch.setattr(escalation, "next_targets", broken_for_the_first)
    clock.advance(minutes=5, seconds=1)
    schedules.tick(rt)
    send(rt)
    first, second = all_requests(rt)
    assert (first.step, second.step) == (1, 2)  # the first is still due and is tried again next tick
    assert len(transport.to(roster["chen"].phone)) == 1
    assert f"request {first.code}: step 1 could not be fired" in caplog.text
    assert "RuntimeError" in caplog.text and REQUESTER not in caplog.text  # the message is never logged
    monkeypatch.setattr(escalation, "next_targets", real)
    schedules.tick(rt)
    assert all_requests(rt)[0].step == 2


def test_a_failing_job_does_not_hold_up_the_purge(
    rt: Any,
    twilio: TwilioClient,
    roster: dict[str, Member],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    twilio.sms(REQUESTER, "help")
    twilio.sms(roster["rivera"].phone, "1")
    twilio.sms(roster["rivera"].phone, "DONE work")

    def reminders_broken(session: Session, env: Env, now: datetime) -> int:
        raise RuntimeError(f"reminders broken on {REQUESTER}")

    monkeypatch.setattr(schedules, "SLOW_JOBS", (reminders_broken, *schedules.SLOW_JOBS))
    clock.advance(hours=24, seconds=1)
    schedules.slow(rt)
    [request] = all_requests(rt)
    assert request.purged_at is not None and request.contact_enc is None
    assert "job reminders_broken failed" in caplog.text and REQUESTER not in caplog.text


def test_a_job_slower_than_a_second_is_logged_with_its_time(
    rt: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Each job's start and end, as the monotonic clock gives them: slow, quick, then the purge.
    times = iter([100.0, 101.5, 200.0, 200.2, 300.0, 300.1])
    monkeypatch.setattr(schedules, "monotonic", lambda: next(times))

    def slow(session: Session, env: Env, now: datetime) -> int:
        return 0

    def quick(session: Session, env: Env, now: datetime) -> int:
        return 0

    monkeypatch.setattr(schedules, "SLOW_JOBS", (slow, quick))
    monkeypatch.setattr(schedules, "purge", lambda run, engine: 0)
    schedules.slow(rt)
    assert "job slow took 1.5 s" in caplog.text
    assert "job quick" not in caplog.text


def test_a_request_of_a_team_removed_from_the_config_ends_with_the_crisis_lines(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(REQUESTER, "help")
    send(rt)
    other = team_table(slug="midland", name="Midland PD Peer Support", support_number="+14325550199")
    without_odessa = make_env(make_config(rt.config.server.database_url, other))
    clock.advance(minutes=5, seconds=1)
    with rt.sessions() as session, session.begin():
        timeouts.run_due_steps(session, without_odessa, clock.now)
        housekeeping.run_reminders(session, without_odessa, clock.now)  # nor do reminders trip over it
    send(rt)
    [request] = all_requests(rt)
    assert request.status == "exhausted"
    assert any("988" in body for body in transport.to(REQUESTER))
    assert any("ALERT" in body for body in transport.to(roster["nguyen"].phone))
