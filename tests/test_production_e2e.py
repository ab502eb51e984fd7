"""End to end under production conditions: two processes on one database, and Twilio misbehaving."""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from callout.db import make_engine, make_sessionmaker
from callout.models import Request
from tests.conftest import TEST_DATABASE_URL
from tests.e2e import Server, Stack

pytestmark = pytest.mark.e2e

PEERS = [f"+1432555{n:04d}" for n in (2101, 2102, 2103)]
PATEL, NGUYEN = "+14325552104", "+14325552105"
CODE = re.compile(r"request ([A-Z0-9]{4})\. Reply 1")


def make_stack(tmp_path: Path, database_url: str, timeout: str, **sections: dict[str, object]) -> Stack:
    stack = Stack(
        tmp_path,
        database_url,
        {
            "ack_timeout": timeout,
            "peers": 3,
            "call_after": "0",
            "fallback": ["psychologist", "director"],
            "fallback_timeout": timeout,
        },
        **sections,
    )
    stack.roster(
        [
            ("Rivera", PEERS[0], "peer"),
            ("Chen", PEERS[1], "peer"),
            ("Ortiz", PEERS[2], "peer"),
            ("Dr. Patel", PATEL, "psychologist"),
            ("Lt. Nguyen", NGUYEN, "director"),
        ]
    )
    return stack


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    stack = make_stack(tmp_path, database_url, "1s")
    yield stack
    stack.close()


def codes_paged(stack: Stack, number: str) -> Counter[str]:
    return Counter(m.group(1) for b in stack.bodies_to(number) if (m := CODE.search(b)))


def test_two_processes_page_every_member_exactly_once_per_request(stack: Stack, database_url: str) -> None:
    servers = stack.serve(2)
    requesters = [f"+1432555{8000 + i:04d}" for i in range(12)]
    for i, number in enumerate(requesters):
        status, _ = stack.sms(number, "help", server=servers[i % 2])
        assert status == 200
    stack.wait(lambda: len(codes_paged(stack, NGUYEN)) == len(requesters), timeout=60)
    time.sleep(1.5)  # let any duplicate that would come, come
    for number in [*PEERS, PATEL, NGUYEN]:
        paged = codes_paged(stack, number)
        assert len(paged) == len(requesters), number
        assert set(paged.values()) == {1}, f"{number} paged twice for one step: {paged}"
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            requests = session.scalars(select(Request)).all()
            assert len(requests) == len(requesters)
            assert {r.status for r in requests} == {"exhausted"}
            for request in requests:
                assert sorted(p.step for p in request.pages) == [1, 2, 3, 4, 5]
    finally:
        engine.dispose()


def test_web_only_processes_leave_the_timeouts_to_a_scheduler_process(
    tmp_path: Path, database_url: str
) -> None:
    stack = make_stack(tmp_path, database_url, "1s", server={"scheduler": False})
    engine = make_engine(database_url)

    def request() -> Request | None:
        with make_sessionmaker(engine)() as session:
            return session.scalar(select(Request))

    try:
        stack.serve()
        assert requests.get(stack.servers[0].url + "/healthz", timeout=5).status_code == 200
        status, _ = stack.sms("+14325559876", "help")
        assert status == 200
        stack.wait(lambda: codes_paged(stack, PEERS[0]), timeout=10)  # the web process pages at once
        opened = request()
        assert opened is not None and opened.step_deadline is not None
        deadline = opened.step_deadline.timestamp()
        stack.wait(lambda: time.time() > deadline + 1.5, timeout=10)
        assert not codes_paged(stack, PEERS[1])  # no process ticks: the timeout waits
        stack.schedule()
        stack.wait(lambda: codes_paged(stack, PEERS[1]), timeout=10)
        assert sum(codes_paged(stack, PEERS[0]).values()) == 1
    finally:
        engine.dispose()
        stack.close()


def test_twilio_errors_are_retried_with_backoff_until_the_page_goes_out(
    tmp_path: Path, database_url: str
) -> None:
    stack = make_stack(tmp_path, database_url, "20s")
    try:
        stack.serve()
        stack.fake.fail_next(1, status=500)
        stack.fake.fail_next(1, status=429, code=20429)
        status, _ = stack.sms("+14325559876", "help")
        assert status == 200
        stack.wait(lambda: codes_paged(stack, PEERS[0]), timeout=10)
        assert sum(codes_paged(stack, PEERS[0]).values()) == 1
        assert not codes_paged(stack, PEERS[1])  # a retried page is not a failed one
    finally:
        stack.close()


def page_states(database_url: str) -> list[str]:
    """Return the states of the only request's pages, in the order they were paged."""
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            request = session.scalar(select(Request))
            return [p.state for p in request.pages] if request else []
    finally:
        engine.dispose()


def test_twilio_unreachable_fails_no_page_and_the_escalation_moves_on_by_its_timeouts(
    tmp_path: Path, database_url: str
) -> None:
    from tests.e2e import free_port

    stack = make_stack(
        tmp_path, database_url, "3s", twilio={"api_base_url": f"http://127.0.0.1:{free_port()}"}
    )
    try:
        stack.serve()
        status, body = stack.sms("+14325559876", "help")
        assert status == 200 and "988" in body
        # Nobody's page failed: each peer's step ran its course while Twilio could not be reached.
        stack.wait(lambda: page_states(database_url)[:2] == ["timeout", "timeout"], timeout=20)
        assert "failed" not in page_states(database_url)
        health = requests.get(stack.servers[0].url + "/healthz", timeout=5)
        assert health.status_code == 503 and "Twilio" in health.text
    finally:
        stack.close()


def test_a_twilio_outage_of_20_seconds_uses_up_no_peers_step(tmp_path: Path, database_url: str) -> None:
    stack = make_stack(tmp_path, database_url, "60s")
    try:
        server = stack.serve()[0]
        stack.fake.down_for(20.0)
        status, _ = stack.sms("+14325559876", "help")
        assert status == 200
        unhealthy = []

        def paged_after_the_outage() -> bool:
            unhealthy.append(requests.get(server.url + "/healthz", timeout=5).status_code == 503)
            time.sleep(0.2)  # a monitor's pace, not a flood of requests
            return bool(codes_paged(stack, PEERS[0]))

        stack.wait(paged_after_the_outage, timeout=45)
        assert not stack.fake.down  # the page went out once Twilio took messages again, not before
        assert any(unhealthy), "/healthz said nothing of the outage"
        stack.wait(lambda: requests.get(server.url + "/healthz", timeout=5).status_code == 200, timeout=10)
        assert sum(codes_paged(stack, PEERS[0]).values()) == 1
        assert page_states(database_url) == ["pending"]  # Rivera still has the rest of the step to answer
        assert not codes_paged(stack, PEERS[1]) and not codes_paged(stack, PEERS[2])
    finally:
        stack.close()


def test_a_slow_twilio_does_not_block_the_webhook(tmp_path: Path, database_url: str) -> None:
    stack = make_stack(tmp_path, database_url, "30s", twilio={"timeout": "5s"})
    try:
        stack.serve()
        stack.fake.hang_next(1, 6.0)  # longer than the REST timeout: this send times out
        started = time.monotonic()
        stack.sms("+14325559876", "help")
        status, _ = stack.sms("+14325559877", "help")
        # A webhook that sent inline would take the 5 s REST timeout at least; these take milliseconds.
        assert status == 200 and time.monotonic() - started < 3.0
        stack.wait(
            lambda: len(codes_paged(stack, PEERS[0])) == 2, timeout=30
        )  # the timed-out send was retried
    finally:
        stack.close()


def test_two_texts_from_one_sender_at_the_same_moment_open_one_request(
    stack: Stack, database_url: str
) -> None:
    import threading

    servers = stack.serve(2)
    senders = [f"+1432555{8100 + i:04d}" for i in range(8)]

    def text(number: str, server: object) -> None:
        stack.sms(number, "hello", server=server)  # type: ignore[arg-type]

    threads = [threading.Thread(target=text, args=(n, s)) for n in senders for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            assert len(session.scalars(select(Request)).all()) == len(senders)
    finally:
        engine.dispose()


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs CALLOUT_TEST_DATABASE_URL: a database server to cut")
def test_a_database_gone_for_a_while_gets_503_then_the_same_process_recovers(
    tmp_path: Path, database_url: str
) -> None:
    from sqlalchemy.engine import make_url

    from tests.tcp_proxy import TcpProxy

    url = make_url(database_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    stack = make_stack(tmp_path, url.set(port=proxy.port).render_as_string(hide_password=False), "3s")
    try:
        stack.serve()
        status, _ = stack.sms("+14325559876", "help")
        assert status == 200
        stack.wait(lambda: codes_paged(stack, PEERS[0]))
        proxy.cut()
        status, body = stack.sms("+14325559877", "help")
        assert status == 503  # Twilio retries a 5xx webhook; nothing half-done is left behind
        assert requests.get(stack.servers[0].url + "/healthz", timeout=10).status_code == 503
        proxy.restore()
        stack.wait(lambda: stack.sms("+14325559877", "help again")[0] == 200, timeout=20)
        stack.wait(lambda: len(codes_paged(stack, PEERS[0])) == 2, timeout=20)  # the second request pages
        stack.wait(lambda: codes_paged(stack, PEERS[1]), timeout=20)  # and the first escalated meanwhile
        assert "Traceback" not in body
        logs = stack.logs()
        assert "database unavailable" in logs
        assert "+14325559877" not in logs and "4325559877" not in logs  # not even in a driver's error
    finally:
        stack.close()
        proxy.close()


def test_kill_9_at_random_moments_loses_no_page_and_repeats_no_step(
    tmp_path: Path, database_url: str
) -> None:
    rivera, nguyen = PEERS[0], NGUYEN
    stack = Stack(
        tmp_path,
        database_url,
        {
            "ack_timeout": "10s",
            "peers": 1,
            "call_after": "0",
            "fallback": ["director"],
            "fallback_timeout": "10s",
        },
        twilio={"timeout": "1s"},  # a send a kill interrupted is claimed again after 7 s, within its step
    )
    stack.roster([("Rivera", rivera, "peer"), ("Lt. Nguyen", nguyen, "director")])
    stack.fake.latency = 0.3  # each REST call takes a while: kills land while pages are being handed over
    requesters = [f"+1432555{8100 + i:04d}" for i in range(3)]
    chance = random.Random(9)  # the same moments on every run
    try:
        [server] = stack.serve()
        for number in requesters:  # crash while the first page is being handed to Twilio
            assert stack.sms(number, "help", server=server)[0] == 200
            time.sleep(chance.uniform(0.05, 0.4))
            server.kill()
            [server] = stack.serve()
        for _ in range(3):  # and anywhere else: mid-tick, mid-commit, between steps
            time.sleep(chance.uniform(0.2, 4.0))
            server.kill()
            [server] = stack.serve()
        stack.wait(lambda: len(codes_alerted(stack, nguyen)) == len(requesters), timeout=90)
        time.sleep(1.0)  # let any duplicate that would come, come
        engine = make_engine(database_url)
        try:
            with make_sessionmaker(engine)() as session:
                requests = session.scalars(select(Request)).all()
                assert len(requests) == len(requesters)
                for request in requests:
                    assert request.status == "exhausted", request.code
                    assert sorted(p.step for p in request.pages) == [1, 2]  # no step lost or repeated
                    for number in (rivera, nguyen):  # every page arrived; a kill mid-send may send it twice
                        assert 1 <= codes_paged(stack, number)[request.code] <= 2, (number, request.code)
        finally:
            engine.dispose()
        for number in requesters:
            assert any("988" in body for body in stack.bodies_to(number))
    finally:
        stack.close()


def codes_alerted(stack: Stack, number: str) -> set[str]:
    return {m.group(1) for b in stack.bodies_to(number) if (m := re.search(r"ALERT ([A-Z0-9]{4})", b))}


def test_the_timers_leader_killed_mid_batch_hands_over_and_no_page_is_lost_or_repeated(
    tmp_path: Path, database_url: str
) -> None:
    # A page the dying leader had claimed but not yet handed over is claimed again after 7 s (twice the
    # timeout and 5 s): each step outlasts that, as the default 5-minute step outlasts its 25 s.
    stack = make_stack(tmp_path, database_url, "8s", twilio={"timeout": "1s"})
    stack.fake.latency = 0.3  # the leader's pages are still being handed over when it dies
    requesters = [f"+1432555{8200 + i:04d}" for i in range(24)]

    def leaders() -> list[Server]:
        return [s for s in stack.servers if "timer: this process leads" in s.log.read_text()]

    try:
        servers = stack.serve(2)
        stack.wait(lambda: leaders(), timeout=10)
        [leader] = leaders()
        [follower] = [s for s in servers if s is not leader]
        for i, number in enumerate(requesters):  # their first steps fall due within a moment of each other
            assert stack.sms(number, "help", server=servers[i % 2])[0] == 200
        stack.wait(lambda: codes_paged(stack, PEERS[1]), timeout=30)  # the leader has begun the batch
        leader.kill()
        stack.wait(lambda: follower in leaders(), timeout=10)
        stack.wait(lambda: len(codes_alerted(stack, NGUYEN)) == len(requesters), timeout=120)
        time.sleep(1.0)  # let any duplicate that would come, come
        engine = make_engine(database_url)
        try:
            with make_sessionmaker(engine)() as session:
                found = session.scalars(select(Request)).all()
                assert len(found) == len(requesters)
                for request in found:
                    assert request.status == "exhausted", request.code
                    assert sorted(p.step for p in request.pages) == [1, 2, 3, 4, 5]  # none lost or repeated
                    for number in [*PEERS, PATEL, NGUYEN]:  # a kill mid-send may send a page twice
                        assert 1 <= codes_paged(stack, number)[request.code] <= 2, (number, request.code)
        finally:
            engine.dispose()
    finally:
        stack.close()
