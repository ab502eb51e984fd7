"""The timer: when work next falls due, what wakes it, who leads it, and reads that take no write lock."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from callout import due, timeouts
from callout.models import Member, Page, Request
from schedules.timer import Leadership, Timer
from tests.conftest import NOW, TEST_DATABASE_URL, Clock, TwilioClient, add_roster, send

REQUESTER = "+14325559876"


@pytest.fixture
def roster(rt: Any) -> dict[str, Member]:
    return add_roster(
        rt,
        rivera=("Rivera", "peer"),
        chen=("Chen", "peer"),
        nguyen=("Lt. Nguyen", "director"),
        dispatch=("Dispatch", "dispatch"),
    )


class Woken:
    """A scheduler that records the due times it is woken for."""

    running = True

    def __init__(self) -> None:
        self.woken: list[datetime] = []

    def wake_by(self, when: datetime) -> None:
        self.woken.append(when)

    def shutdown(self, wait: bool = True) -> None:
        pass


def next_due(rt: Any) -> datetime | None:
    return rt.read(due.next_due).earliest  # type: ignore[no-any-return]


def test_nothing_is_due_without_open_requests(rt: Any, roster: dict[str, Member], clock: Clock) -> None:
    assert next_due(rt) is None


def test_the_next_due_time_is_the_call_then_the_step_deadline(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(REQUESTER, "help")
    send(rt)
    assert next_due(rt) == NOW + timedelta(minutes=2)  # call_after: Rivera is phoned first
    clock.advance(minutes=2, seconds=1)
    rt.run(timeouts.run_due_calls)
    assert next_due(rt) == NOW + timedelta(minutes=5)  # then her step times out


def test_an_open_debrief_is_due_at_its_widening_and_at_once_for_a_tally(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(roster["dispatch"].phone, "DEBRIEF all hands at station 2")
    send(rt)
    with rt.sessions() as session:
        debrief = session.scalar(select(Request))
        assert debrief is not None and debrief.step_deadline is not None
        deadline = debrief.step_deadline
    assert next_due(rt) == deadline
    twilio.sms(roster["chen"].phone, "1")  # an answer: its tally is due at once
    assert next_due(rt) == due.AT_ONCE


def test_a_commit_that_writes_an_earlier_deadline_wakes_the_timer(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    woken = Woken()
    rt.scheduler = woken
    twilio.sms(REQUESTER, "help")
    assert woken.woken == [NOW + timedelta(minutes=2)]  # the earliest it wrote: the call
    twilio.sms(roster["chen"].phone, "WHO")  # writes no due time: wakes nobody
    assert len(woken.woken) == 1
    rt.scheduler = None


def test_a_debrief_answer_wakes_the_timer_at_once(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(roster["dispatch"].phone, "DEBRIEF all hands at station 2")
    woken = Woken()
    rt.scheduler = woken
    twilio.sms(roster["chen"].phone, "2")  # too few could still say yes: widen now, not at the deadline
    assert woken.woken == [due.AT_ONCE]
    rt.scheduler = None


def test_the_timer_fires_at_the_deadline_and_sleeps_until_the_next(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(REQUESTER, "help")
    send(rt)
    fired: list[datetime] = []
    timer = Timer(rt, lambda rt, due: fired.append(rt.clock()), Leadership(rt.engine))
    assert timer._cycle() == rt.config.server.tick.total_seconds()  # 2 min away: look again a tick later
    assert timer._target == NOW + timedelta(minutes=2)
    clock.advance(minutes=2, seconds=-0.1)
    assert timer._cycle() == pytest.approx(0.1 + 0.001)  # sleeps to the deadline, not a whole tick
    assert fired == [NOW, NOW + timedelta(minutes=2, seconds=-0.1)]


def test_work_committed_while_the_timer_looks_is_fired_whole_at_its_next_cycle(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    # Another thread commits an earlier deadline while the timer fires: the cycle ends on its own look (it
    # once read a look that thread had just cleared, and the timer's thread died holding the lead).
    twilio.sms(REQUESTER, "help")
    send(rt)
    hints: list[due.Due | None] = []
    timer = Timer(rt, lambda rt, hint: hints.append(hint), Leadership(rt.engine))
    timer._leading = True

    def fire_while_another_commits(rt: Any, hint: due.Due | None) -> None:
        hints.append(hint)
        timer.wake_by(NOW)  # earlier than anything the timer waits for

    timer.fire = fire_while_another_commits
    assert timer._cycle() == rt.config.server.tick.total_seconds()
    assert timer._due is not None and timer._target == NOW + timedelta(minutes=2)
    timer.fire = lambda rt, hint: hints.append(hint)
    timer._cycle()
    assert hints[0] is None  # the first cycle has no look yet: every kind of work
    assert hints[1] is None  # woken for work its look did not see: every kind again, not the stale look
    timer._cycle()
    assert hints[2] is not None  # nothing new since: only the kinds of work due


def test_a_cycle_that_fails_unexpectedly_does_not_end_the_timer(
    rt: Any, caplog: pytest.LogCaptureFixture
) -> None:
    cycles: list[int] = []
    timer = Timer(rt, lambda rt, hint: None, Leadership(rt.engine))
    timer.poll = 0.01

    def cycle() -> float:
        cycles.append(1)
        if len(cycles) == 1:
            raise AttributeError("a bug")
        return 0.01

    timer._cycle = cycle  # type: ignore[method-assign]
    timer.start()
    try:
        for _ in range(500):
            if len(cycles) >= 3:
                break
            threading.Event().wait(0.01)
        assert len(cycles) >= 3 and timer.running
    finally:
        timer.shutdown()
    assert "a cycle failed" in caplog.text


def test_a_step_that_keeps_failing_is_retried_a_tick_later_not_in_a_busy_loop(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(REQUESTER, "help")
    send(rt)
    clock.advance(minutes=10)
    timer = Timer(rt, lambda rt, due: None, Leadership(rt.engine))  # fires nothing: what is due stays due
    assert timer._cycle() == rt.config.server.tick.total_seconds()


def test_only_one_process_leads_the_timer_and_another_takes_over_when_it_lets_go(rt: Any) -> None:
    first, second = Leadership(rt.engine), Leadership(rt.engine)
    try:
        assert first.hold() and first.hold()
        assert not second.hold()
        first.release()
        assert second.hold()
    finally:
        first.release()
        second.release()


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite's write lock")
def test_a_read_on_sqlite_does_not_wait_for_a_writer(rt: Any, roster: dict[str, Member]) -> None:
    path = rt.engine.url.database
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process in the middle of a write transaction
    try:
        counted: list[int] = []
        reader = threading.Thread(
            target=lambda: counted.append(
                rt.read(lambda session, env, now: session.scalar(select(func.count()).select_from(Member)))
            )
        )
        reader.start()
        reader.join(timeout=5)  # a BEGIN IMMEDIATE would wait for the writer (busy_timeout: 30 s)
        assert counted == [4]
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_read_only_transaction_writes_nothing(rt: Any, roster: dict[str, Member]) -> None:
    rt.read(lambda session, env, now: session.execute(update(Page).values(state="closed")))
    rt.read(lambda session, env, now: session.execute(update(Member).values(name="changed")))
    with rt.sessions() as session:
        assert "changed" not in {m.name for m in session.scalars(select(Member))}


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite's lock file")
def test_on_sqlite_a_process_that_cannot_write_the_lock_file_still_leads(
    rt: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import builtins

    real = builtins.open

    def refuse(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path).endswith(".timer-lock"):
            raise PermissionError(13, "Permission denied")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refuse)
    leadership = Leadership(rt.engine)
    assert leadership.hold() and leadership.hold()
    assert caplog.text.count("leading without one") == 1
