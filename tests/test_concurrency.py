"""Two processes acting on one request at the same moment (PostgreSQL, where transactions interleave).

Each test lets two transactions read the same state before either writes, with a barrier at the point
where the engine takes the request's row lock, then checks that the second acted on what the first
committed. SQLite runs one write transaction at a time (BEGIN IMMEDIATE), so such a race cannot even
be staged there; these tests run in the PostgreSQL pass of CI.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callout import conversation, escalation, housekeeping, messages, requests
from callout.env import Env
from callout.models import Member, ProviderRecord, Request, Team
from tests.conftest import (
    TEST_DATABASE_URL,
    Clock,
    RecordingTransport,
    add_roster,
    make_config,
    send,
    team_table,
    tick,
)

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs CALLOUT_TEST_DATABASE_URL")
REQUESTER = "+14325559876"
Work = Callable[[Session, Env, datetime], Any]


@pytest.fixture
def config(database_url: str) -> Any:
    """The test team, with delete_provider_records on (so the purge queues provider records)."""
    return make_config(database_url, privacy={"delete_provider_records": True})


@pytest.fixture
def roster(rt: Any) -> dict[str, Member]:
    return add_roster(
        rt,
        rivera=("Rivera", "peer"),
        patel=("Dr. Patel", "psychologist"),
        ames=("Dr. Ames", "psychologist"),
        nguyen=("Lt. Nguyen", "director"),
    )


def at_once(rt: Any, monkeypatch: pytest.MonkeyPatch, module: Any, name: str, *works: Work) -> list[Any]:
    """Run works in parallel transactions; each waits for the others at its first call of module.name."""
    barrier = threading.Barrier(len(works), timeout=15)
    local = threading.local()
    real = getattr(module, name)

    def meet_then_call(*args: Any, **kwargs: Any) -> Any:
        if not getattr(local, "met", False):
            local.met = True
            barrier.wait()  # everyone has read the same state; now they race
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, meet_then_call)
    with ThreadPoolExecutor(len(works)) as pool:
        return [f.result(timeout=30) for f in [pool.submit(rt.run, work) for work in works]]


def the_request(rt: Any) -> Iterator[Request]:
    with rt.sessions() as session:
        request = session.scalar(select(Request))
        assert request is not None
        _ = [(p.state, p.member.name, p.step) for p in request.pages]
        yield request


def open_request_at_the_psychologists(rt: Any, clock: Clock) -> None:
    """Open a request and let Rivera's page time out: both psychologists are paged in one step."""

    def work(session: Session, env: Env, now: datetime) -> None:
        team = session.scalar(select(Team))
        escalation.open_request(session, env, now, team, kind="support", channel="sms", contact=REQUESTER)

    rt.run(work)
    clock.advance(minutes=5, seconds=1)
    tick(rt)


def decline_as(member_id: int) -> Work:
    def work(session: Session, env: Env, now: datetime) -> str:
        member = session.get(Member, member_id)
        request = session.scalar(select(Request))
        assert member is not None and request is not None
        return escalation.decline(session, env, now, member, request)

    return work


def test_two_passes_at_once_in_one_step_page_the_next_person_once(
    rt: Any,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    open_request_at_the_psychologists(rt, clock)
    at_once(rt, monkeypatch, requests, "lock", decline_as(roster["patel"].id), decline_as(roster["ames"].id))
    send(rt)
    [request] = the_request(rt)
    states = {(p.member.name, p.state) for p in request.pages}
    assert {("Dr. Patel", "declined"), ("Dr. Ames", "declined")} <= states
    assert len([b for b in transport.to(roster["nguyen"].phone) if "Reply 1" in b]) == 1  # paged at once


def answer_as(member_id: int, body: str) -> Work:
    """Return a work that texts body from the member, as the webhook does; it says what the reply is."""

    def work(session: Session, env: Env, now: datetime) -> str | None:
        member = session.get(Member, member_id)
        team = session.scalar(select(Team))
        assert member is not None and team is not None
        return conversation.handle_sms(session, env, now, team, member.phone, body).text

    return work


@pytest.mark.parametrize("first", ["1", "2"])
def test_one_members_yes_and_no_at_once_one_answer_wins_and_the_other_is_told_the_truth(
    rt: Any,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    first: str,
) -> None:
    def opened(session: Session, env: Env, now: datetime) -> str:
        team = session.scalar(select(Team))
        return escalation.open_request(
            session, env, now, team, kind="support", channel="sms", contact=REQUESTER
        ).code

    code = rt.run(opened)
    send(rt)
    rivera = roster["rivera"].id
    second = "2" if first == "1" else "1"
    # Both texts find Rivera's page pending before either takes the request's lock; at the lock, the
    # second waits a moment, so the first takes it and the second waits for its commit.
    barrier = threading.Barrier(2, timeout=15)
    real = requests.lock
    said: dict[str, str | None] = {}

    def meet_then_lock(session: Session, request: Request) -> None:
        if not getattr(local, "met", False):
            local.met = True
            barrier.wait()
            if local.body == second:
                time.sleep(0.3)
        real(session, request)

    local = threading.local()
    monkeypatch.setattr(requests, "lock", meet_then_lock)

    def answer(body: str) -> None:
        local.body = body
        said[body] = rt.run(answer_as(rivera, body))

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(answer, first), pool.submit(answer, second)]:
            future.result(timeout=30)
    send(rt)
    [request] = the_request(rt)
    psychologists = {roster["patel"].phone, roster["ames"].phone}
    paged_next = [s.to for s in transport.sms if s.to in psychologists]
    if first == "1":  # the YES won: the request is Rivera's, and nobody else was paged
        assert request.status == "accepted" and request.accepted_by_id == rivera
        assert said["1"] is None and REQUESTER in transport.to(roster["rivera"].phone)[-1]
        assert said["2"] == messages.yours_already(code) and paged_next == []
    else:  # the NO won: the psychologists are paged, and Rivera is told his YES came after his pass
        assert request.status == "open" and request.accepted_by_id is None
        assert said["2"] == messages.declined(code) and said["1"] == messages.passed_first(code)
        assert sorted(paged_next) == sorted(psychologists)
        assert not any(REQUESTER in body for body in transport.to(roster["rivera"].phone))
    assert not any("Stand down" in s.body for s in transport.sms)  # nobody paged only to be stood down


def test_two_processes_send_one_reminder(
    rt: Any,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def accepted(session: Session, env: Env, now: datetime) -> None:
        team = session.scalar(select(Team))
        request = escalation.open_request(
            session, env, now, team, kind="support", channel="sms", contact=REQUESTER
        )
        escalation.accept(session, env, now, session.get(Member, roster["rivera"].id), request)

    rt.run(accepted)
    clock.advance(hours=2, seconds=1)
    at_once(rt, monkeypatch, requests, "lock", housekeeping.run_reminders, housekeeping.run_reminders)
    send(rt)
    assert len([b for b in transport.to(roster["rivera"].phone) if b.startswith("Reminder")]) == 1


def test_two_processes_purge_a_request_once(
    rt: Any, roster: dict[str, Member], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_request_at_the_psychologists(rt, clock)
    for _ in range(2):  # the psychologists' step, then the director's, time out: exhausted
        clock.advance(minutes=10, seconds=1)
        tick(rt)
    assert next(the_request(rt)).status == "exhausted"
    clock.advance(hours=24, seconds=1)
    purged = at_once(rt, monkeypatch, housekeeping, "due_for_purge", housekeeping.purge, housekeeping.purge)
    assert sorted(purged) == [0, 1]
    with rt.sessions() as session:
        records = session.scalars(select(ProviderRecord)).all()
        sids = [rt.env.vault.decrypt(r.sid_enc) for r in records]
    assert sids and len(sids) == len(set(sids))  # each of Twilio's records queued for deletion once


def test_workers_starting_together_on_a_new_database_all_start(
    new_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import service
    from callout import db

    roster = tmp_path / "roster.toml"
    member = '[[members]]\nname = "Peer {n}"\nphone = "+1432555{phone}"\nrole = "peer"\n\n'
    roster.write_text("".join(member.format(n=n, phone=1100 + n) for n in range(5)))
    config = make_config(new_database, team_table(roster=str(roster)))
    workers = 3
    barrier = threading.Barrier(workers, timeout=15)
    real = db.exclusive

    def together(bind: Any) -> None:
        barrier.wait()  # every worker is about to migrate the same empty database
        real(bind)

    monkeypatch.setattr(db, "exclusive", together)
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(service.build, config, transport=RecordingTransport()) for _ in range(workers)]
        runtimes = [f.result(timeout=60) for f in futures]
    try:
        with runtimes[0].sessions() as session:
            assert len(session.scalars(select(Team)).all()) == 1
            assert len(session.scalars(select(Member)).all()) == 5
    finally:
        for runtime in runtimes:
            runtime.close()


def test_two_senders_claiming_at_once_share_the_outbox_without_overlap(
    rt: Any, roster: dict[str, Member], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callout import outbox

    def queue(session: Session, env: Env, now: datetime) -> None:
        team = session.scalar(select(Team))
        for n in range(20):
            outbox.enqueue_sms(session, env, now, team, f"+1432555{3000 + n}", "hello", purpose="notice")

    rt.run(queue)

    def claim(session: Session, env: Env, now: datetime) -> list[int]:
        return outbox.claim(session, now, rt.sender.stuck)

    first, second = at_once(rt, monkeypatch, outbox, "claim", claim, claim)
    assert not set(first) & set(second) and len(first) + len(second) == 20


def test_two_schedulers_share_many_due_requests_without_deadlock_or_a_step_fired_twice(
    rt: Any,
    roster: dict[str, Member],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import schedules
    from callout.models import Page

    count = 60

    def open_many(session: Session, env: Env, now: datetime) -> None:
        team = session.scalar(select(Team))
        for n in range(count):
            escalation.open_request(
                session, env, now, team, kind="support", channel="sms", contact=f"+1432555{4000 + n}"
            )

    rt.run(open_many)
    send(rt)
    clock.advance(minutes=5, seconds=1)
    # Each scheduler waits for the other at its first step, each holding the group it claimed: without
    # SKIP LOCKED the second would queue behind the first's locks (or deadlock) and fire nothing.
    barrier = threading.Barrier(2, timeout=15)
    local = threading.local()
    fired: dict[str, int] = {}
    real = escalation.advance

    def advance(*args: Any, **kwargs: Any) -> bool:
        if not getattr(local, "met", False):
            local.met = True
            barrier.wait()
        advanced = real(*args, **kwargs)
        if advanced:
            name = threading.current_thread().name
            fired[name] = fired.get(name, 0) + 1
        return advanced

    monkeypatch.setattr(escalation, "advance", advance)
    monkeypatch.setattr(schedules, "FANOUT", 1)  # each scheduler fires from its own thread alone
    with ThreadPoolExecutor(2, thread_name_prefix="scheduler") as pool:
        for future in [pool.submit(schedules.tick, rt) for _ in range(2)]:
            future.result(timeout=60)
    send(rt)
    assert "could not be fired" not in caplog.text and "failed" not in caplog.text
    assert len(fired) == 2 and all(fired.values()) and sum(fired.values()) == count
    with rt.sessions() as session:
        requests = session.scalars(select(Request)).all()
        assert {r.step for r in requests} == {2}
        second = session.execute(select(Page.request_id, Page.member_id).where(Page.step == 2)).all()
    fallback = {roster["patel"].id, roster["ames"].id}
    assert len(second) == 2 * count and {m for _, m in second} == fallback
    assert len(set(second)) == len(second)  # nobody paged twice for one step


def test_a_backlog_of_due_requests_is_fired_by_several_threads_each_step_once(
    rt: Any, roster: dict[str, Member], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    import schedules
    from callout.models import Page

    count = 45

    def open_many(session: Session, env: Env, now: datetime) -> None:
        team = session.scalar(select(Team))
        for n in range(count):
            escalation.open_request(
                session, env, now, team, kind="support", channel="sms", contact=f"+1432555{4100 + n}"
            )

    rt.run(open_many)
    send(rt)
    clock.advance(minutes=5, seconds=1)
    threads: set[str] = set()
    real = escalation.advance

    def advance(*args: Any, **kwargs: Any) -> bool:
        threads.add(threading.current_thread().name)
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(escalation, "advance", advance)
        schedules.tick(rt)
    assert "could not be fired" not in caplog.text and "failed" not in caplog.text
    assert len(threads) > 1  # more than a group was due: the rest was fired by several threads at once
    with rt.sessions() as session:
        assert {r.step for r in session.scalars(select(Request))} == {2}
        second = session.execute(select(Page.request_id, Page.member_id).where(Page.step == 2)).all()
    assert len(second) == 2 * count and len(set(second)) == len(second)
