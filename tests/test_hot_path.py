"""The hot path (issue 12): what a new text and a timeout cost in statements, and pages handed over at commit.

Statement counts, not timings: a count is the same on every machine, and it is what the CPU per text
follows. The benchmark (`python -m benchmarks --only cpu`) measures the time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

import schedules
from callout import db, escalation, outbox, timeouts
from callout.env import Env
from callout.models import Member, Outbox, OutboxStatus, Page, PageState, Request, RequestStatus, Team
from tests.conftest import Clock, RecordingTransport, TwilioClient, add_roster, send

REQUESTER, OTHER = "+14325559876", "+14325559877"


@pytest.fixture
def roster(rt: Any) -> dict[str, Member]:
    return add_roster(
        rt,
        rivera=("Rivera", "peer"),
        chen=("Chen", "peer"),
        patel=("Dr. Patel", "psychologist"),
        nguyen=("Lt. Nguyen", "director"),
    )


@contextmanager
def statements(rt: Any) -> Iterator[list[str]]:
    """Record the SQL statements the app's engine executes in the block (every thread's)."""
    seen: list[str] = []
    lock = threading.Lock()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        with lock:
            seen.append(" ".join(statement.split()))

    event.listen(rt.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(rt.engine, "before_cursor_execute", record)


def writes(seen: list[str], table: str) -> list[str]:
    """Return the INSERTs and UPDATEs of table among seen."""
    return [s for s in seen if s.startswith((f"INSERT INTO {table} ", f"UPDATE {table} "))]


def test_a_new_text_opens_its_request_and_pages_in_a_few_statements_each_row_written_once(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    send(rt)  # the roster's own texts, if any
    with statements(rt) as seen:
        response = twilio.sms(REQUESTER, "help")
    assert response.status_code == 200
    # The request, its page and the page's text: one INSERT each, and no UPDATE of them afterwards.
    assert len(writes(seen, "requests")) == 1 and writes(seen, "requests")[0].startswith("INSERT")
    assert len(writes(seen, "pages")) == 1 and writes(seen, "pages")[0].startswith("INSERT")
    assert len(writes(seen, "outbox")) == 1
    assert len(seen) <= 14, "\n".join(seen)  # 11 on SQLite today; the ORM's unit of work took 16
    send(rt)
    assert len(transport.to(roster["rivera"].phone)) == 1


def test_a_timeout_fires_in_a_few_statements_and_writes_its_request_once(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(REQUESTER, "help")
    send(rt)
    clock.advance(minutes=5, seconds=1)
    with statements(rt) as seen:
        assert rt.run(lambda s, e, now: timeouts.run_due_steps(s, e, now, 10)) == 1
    assert len(writes(seen, "requests")) == 1  # the step and its deadline, in one UPDATE
    assert len(writes(seen, "pages")) == 2  # the timed-out page, then the next one
    assert len(writes(seen, "outbox")) == 1
    # The lineup (members, overrides) is read once per roster version and time window, not per timeout.
    hot = [s for s in seen if " FROM members " not in s and " FROM overrides " not in s]
    assert len(hot) <= 11, "\n".join(hot)  # 10 on SQLite today (BEGIN included); it took 13
    with rt.sessions() as session:
        request = session.scalars(select(Request)).one()
        assert request.step == 2 and request.status == RequestStatus.OPEN
        states = [(p.member_id, p.state) for p in request.pages]
    assert states == [(roster["rivera"].id, PageState.TIMEOUT), (roster["chen"].id, PageState.PENDING)]


def test_the_timer_fires_a_group_of_steps_without_a_savepoint_each(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    for requester in (REQUESTER, OTHER):
        twilio.sms(requester, "help")
    send(rt)
    clock.advance(minutes=5, seconds=1)
    with statements(rt) as seen:
        schedules.tick(rt)
    assert [s for s in seen if "SAVEPOINT" in s] == []
    send(rt)
    assert len(transport.to(roster["chen"].phone)) == 2  # each request's second page, once


def test_a_group_with_a_failing_step_is_rolled_back_whole_and_fired_again_a_step_at_a_time(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for requester in (REQUESTER, OTHER):
        twilio.sms(requester, "help")
    send(rt)
    rt.sender.start()
    with rt.sessions() as session:
        first = session.scalars(select(Request).order_by(Request.id)).first()
        assert first is not None
    real = escalation.advance

    def fails_for_the_first(
        session: Session, env: Env, now: datetime, request: Request, **kwargs: Any
    ) -> bool:
        fired = real(session, env, now, request, **kwargs)  # its next page is written, claimed ...
        if request.id == first.id:
            raise RuntimeError("a bug")  # ... and rolled back, with the whole group's the first time
        return fired

    monkeypatch.setattr(escalation, "advance", fails_for_the_first)
    clock.advance(minutes=5, seconds=1)
    schedules.tick(rt)
    assert rt.sender.settle(timeout=10)
    assert "firing it again a step at a time" in caplog.text
    assert f"request {first.code}: step 1 could not be fired" in caplog.text
    assert len(transport.to(roster["chen"].phone)) == 1  # the other request's page, once; not the first's
    assert rt.sender.reserve(rt.sender.workers) == rt.sender.workers  # every thread is free again
    rt.sender.release(rt.sender.workers)
    with rt.sessions() as session:
        steps = session.scalars(select(Request.step).order_by(Request.id)).all()
    assert steps == [1, 2]  # the first stays due for the next tick


def test_a_request_written_without_the_unit_of_work_reads_without_a_query(
    rt: Any, roster: dict[str, Member], clock: Clock
) -> None:
    def open_one(session: Session, env: Env, now: datetime) -> tuple[int, list[str]]:
        team = session.scalars(select(Team)).one()
        request = escalation.open_request(
            session, env, now, team, kind="support", channel="sms", contact=REQUESTER
        )
        with statements(rt) as seen:
            # Every column and the team are loaded as written: nothing is read again.
            assert (request.code, request.status, request.step, request.team.slug) == (
                request.code,
                RequestStatus.OPEN,
                1,
                team.slug,
            )
            assert request.told_unrelayed is False and request.accepted_by is None
        assert request in session and not session.dirty and not session.new
        return request.id, seen

    request_id, seen = rt.run(open_one)
    assert seen == []
    with rt.sessions() as session:
        assert session.get(Request, request_id) is not None


def test_insert_loaded_writes_nothing_when_a_unique_index_holds_the_row(
    rt: Any, roster: dict[str, Member]
) -> None:
    def twice(session: Session, env: Env, now: datetime) -> tuple[bool, bool]:
        team = session.scalars(select(Team)).one()
        key = env.vault.lookup_key(REQUESTER)

        def request() -> Request:
            return Request(
                team_id=team.id, code="K7QD", kind="support", channel="sms", opened_at=now, contact_key=key
            )

        return db.insert_loaded(session, request(), unless_conflict=True), db.insert_loaded(
            session, request(), unless_conflict=True
        )

    assert rt.run(twice) == (True, False)
    with rt.sessions() as session:
        assert len(session.scalars(select(Request)).all()) == 1


def test_a_running_sender_takes_a_page_as_its_transaction_commits_without_claiming_it(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    claimed: list[int] = []
    real = outbox.claim

    def claim(*args: Any, **kwargs: Any) -> list[outbox.Claimed]:
        rows = real(*args, **kwargs)
        claimed.extend(row.id for row in rows)
        return rows

    monkeypatch.setattr(outbox, "claim", claim)
    rt.sender.start()
    assert twilio.sms(REQUESTER, "help").status_code == 200
    assert rt.sender.settle(timeout=10)
    assert len(transport.to(roster["rivera"].phone)) == 1
    assert claimed == []  # written as claimed by the webhook's own transaction, and sent from there
    with rt.sessions() as session:
        row = session.scalars(select(Outbox).where(Outbox.purpose == "page")).one()
        assert (row.status, row.attempts, row.to_enc, row.body_enc) == (OutboxStatus.SENT, 1, None, None)
        assert row.provider_sid is not None


def test_pages_of_a_step_that_rolls_back_are_not_sent_and_their_threads_are_given_back(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    twilio.sms(REQUESTER, "help")
    send(rt)
    rt.sender.start()
    clock.advance(minutes=5, seconds=1)
    real = escalation.advance

    def fails_after_paging(*args: Any, **kwargs: Any) -> bool:
        real(*args, **kwargs)  # the next page is written, claimed for the sender ...
        raise RuntimeError("the database went away")  # ... and rolled back with its savepoint

    monkeypatch.setattr(escalation, "advance", fails_after_paging)
    assert rt.run(lambda s, e, now: timeouts.run_due_steps(s, e, now, 10)) == 1
    assert rt.sender.settle(timeout=10)
    assert "could not be fired" in caplog.text
    assert transport.to(roster["chen"].phone) == []  # never sent: its row does not exist
    assert rt.sender.reserve(rt.sender.workers) == rt.sender.workers  # every thread is free again
    rt.sender.release(rt.sender.workers)
    with rt.sessions() as session:
        assert session.scalars(select(Page).where(Page.member_id == roster["chen"].id)).all() == []
        assert session.scalars(select(Request)).one().step == 1  # due again, for the next tick
    monkeypatch.setattr(escalation, "advance", real)
    assert rt.run(lambda s, e, now: timeouts.run_due_steps(s, e, now, 10)) == 1
    assert rt.sender.settle(timeout=10)
    assert len(transport.to(roster["chen"].phone)) == 1


def test_a_sender_not_running_leaves_pages_in_the_outbox_for_the_next_claim(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member]
) -> None:
    twilio.sms(REQUESTER, "help")
    assert transport.sms == []
    with rt.sessions() as session:
        row = session.scalars(select(Outbox).where(Outbox.purpose == "page")).one()
        assert (row.status, row.attempts) == (OutboxStatus.PENDING, 0)
    send(rt)
    assert len(transport.to(roster["rivera"].phone)) == 1
