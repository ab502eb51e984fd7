"""The sender against a provider that fails: its outage is nobody's failure, a bad number is the member's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from callout import messages
from callout.config import Config
from callout.models import Member, Outbox, Page, Request
from callout.transport import TransportError
from tests.conftest import (
    TEST_DATABASE_URL,
    Clock,
    RecordingTransport,
    TwilioClient,
    add_roster,
    make_config,
    send,
    tick,
)

REQUESTER = "+14325559876"
OUTAGE = TransportError("cannot reach Twilio (ConnectionError)", permanent=False)


@pytest.fixture
def config(database_url: str) -> Config:
    """Return the test configuration without a scheduler, so that /healthz speaks of the sends alone."""
    return make_config(database_url, server={"scheduler": False})


@pytest.fixture
def roster(rt: Any) -> dict[str, Member]:
    return add_roster(
        rt,
        rivera=("Rivera", "peer"),
        chen=("Chen", "peer"),
        ortiz=("Ortiz", "peer"),
        patel=("Dr. Patel", "psychologist"),
        nguyen=("Lt. Nguyen", "director"),
    )


def pages(rt: Any) -> dict[str, tuple[str, str]]:
    """Return each paged member's (page state, outbox status) for the only request."""
    with rt.sessions() as session:
        rows = session.execute(
            select(Member.name, Page.state, Outbox.status)
            .join(Page, Page.member_id == Member.id)
            .join(Outbox, Outbox.page_id == Page.id)
            .where(Outbox.channel == "sms")
        ).all()
    return {name: (state, status) for name, state, status in rows}


def run_for(rt: Any, clock: Clock, seconds: int) -> None:
    """Let seconds pass one at a time, ticking and sending as the scheduler and the sender would."""
    for _ in range(seconds):
        clock.advance(seconds=1)
        tick(rt)


def health(twilio: TwilioClient) -> tuple[int, list[str]]:
    """Return the /healthz status and its problems."""
    response = twilio.client.get("/healthz")
    return response.status_code, response.get_json().get("problems", [])


def test_a_provider_outage_fails_no_page_and_pages_nobody_else(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    transport.down = OUTAGE
    twilio.sms(REQUESTER, "help")
    run_for(rt, clock, 90)  # far more tries than a failing number gets, all within Rivera's 5 minutes
    assert pages(rt) == {"Rivera": ("pending", "pending")}
    transport.down = None
    run_for(rt, clock, 15)
    assert len(transport.to(roster["rivera"].phone)) == 1
    assert pages(rt) == {"Rivera": ("pending", "sent")}  # Rivera still has the rest of the step to answer
    assert transport.to(roster["chen"].phone) == []


def test_a_page_the_provider_never_took_is_dropped_when_its_step_ends_and_counts_as_no_answer(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    transport.down = OUTAGE
    twilio.sms(REQUESTER, "help")
    run_for(rt, clock, 5 * 60 + 2)  # Rivera's step is over: the escalation moves on as on a silence
    assert pages(rt) == {"Rivera": ("timeout", "expired"), "Chen": ("pending", "pending")}
    with rt.sessions() as session:
        assert session.scalar(select(Request.step)) == 2


def test_a_number_that_cannot_take_a_page_pages_the_next_peer_at_once(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    transport.fail[roster["rivera"].phone] = TransportError("Twilio error 21211", permanent=True, code=21211)
    twilio.sms(REQUESTER, "help")
    send(rt)
    assert pages(rt) == {"Rivera": ("failed", "failed"), "Chen": ("pending", "sent")}


def test_the_provider_asking_to_wait_is_honoured(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    transport.down = TransportError(
        "Twilio error 20429 (HTTP 429)", permanent=False, code=20429, retry_after=30
    )
    twilio.sms(REQUESTER, "help")
    send(rt)
    transport.down = None
    run_for(rt, clock, 29)
    assert transport.to(roster["rivera"].phone) == []
    run_for(rt, clock, 1)
    assert len(transport.to(roster["rivera"].phone)) == 1


def test_a_page_sent_late_asks_the_carrier_to_keep_it_only_for_the_rest_of_its_step(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    transport.down = OUTAGE
    twilio.sms(REQUESTER, "help")
    run_for(rt, clock, 60)
    transport.down = None
    run_for(rt, clock, 15)
    [page] = transport.sms
    assert page.validity is not None and 4 * 60 - 15 <= page.validity <= 4 * 60


def test_health_is_bad_while_the_provider_fails_and_good_once_it_takes_messages_again(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    assert health(twilio) == (200, [])
    transport.down = OUTAGE
    twilio.sms(REQUESTER, "help")
    run_for(rt, clock, 5)
    twilio.sms("+14325559877", "help")  # its page is tried on a schedule of its own, 5 s behind
    run_for(rt, clock, 20)
    status, problems = health(twilio)
    assert status == 503 and any("Twilio" in problem for problem in problems), problems
    transport.down = None
    while not transport.sms:
        run_for(rt, clock, 1)
    # The first retry that went through brought the other forward: it did not wait for its own turn.
    assert len(transport.to(roster["rivera"].phone)) == 2
    assert health(twilio) == (200, [])


def test_health_stays_bad_between_a_page_dropped_and_the_next_one_tried(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    import schedules

    transport.down = OUTAGE
    twilio.sms(REQUESTER, "help")
    run_for(rt, clock, 5 * 60 - 1)
    clock.advance(seconds=2)
    schedules.tick(rt)  # Rivera's step ends and Chen is paged; the sender has not tried Chen's page yet
    assert pages(rt) == {"Rivera": ("timeout", "expired"), "Chen": ("pending", "pending")}
    status, problems = health(twilio)
    assert status == 503 and any("Twilio" in problem for problem in problems), problems


def test_a_notice_is_tried_through_an_outage_for_an_hour_then_dropped(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    from callout import outbox

    twilio.sms(REQUESTER, "help")
    send(rt)
    transport.down = OUTAGE
    twilio.sms(roster["rivera"].phone, "1")  # the requester is told a peer has it: no validity of its own
    for _ in range(int(outbox.PROVIDER_PATIENCE / outbox.MAX_BACKOFF) + 2):
        clock.advance(seconds=outbox.MAX_BACKOFF.total_seconds())
        send(rt)
    with rt.sessions() as session:
        told = session.scalar(select(Outbox).where(Outbox.purpose == "requester"))
        assert told is not None and told.status == "expired"
        assert told.attempts > 200 and told.to_enc is None and told.body_enc is None
        assert clock() - told.created_at >= timedelta(hours=1)


class Jittery(RecordingTransport):
    """A transport that takes a random few milliseconds over each send, as a real provider does."""

    def send_sms(self, sms: Any) -> str:
        """Wait a moment, then record the SMS."""
        import random
        import time

        time.sleep(random.uniform(0, 0.02))
        return super().send_sms(sms)


def accepted(rt: Any, twilio: TwilioClient, roster: dict[str, Member]) -> tuple[int, str]:
    """Open a request and have Rivera accept it; return its id and code."""
    twilio.sms(REQUESTER, "help")
    twilio.sms(roster["rivera"].phone, "1")
    with rt.sessions() as session:
        request = session.scalar(select(Request))
        assert request is not None
        return request.id, request.code


def test_one_requests_relays_reach_the_peer_in_order_whatever_the_sender_threads_do(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    transport = rt.sender.transport = Jittery()
    _, code = accepted(rt, twilio, roster)
    texts = [f"text {n} " + f"word{n} " * 400 if n % 2 else f"text {n}, short" for n in range(8)]
    for words in texts:  # each long one is two parts
        twilio.sms(REQUESTER, words)
    rt.sender.stop()  # wait for the relays, which go from memory
    relayed = [body for body in transport.to(roster["rivera"].phone) if body.startswith(code)]
    assert relayed == [part for words in texts for part in messages.relay(code, words)]
    assert len(relayed) == 4 * 1 + 4 * 2


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs CALLOUT_TEST_DATABASE_URL: two processes' sessions")
def test_two_processes_relaying_for_one_request_never_interleave_their_parts(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], config: Config, clock: Clock
) -> None:
    import threading

    from callout.db import make_engine, make_sessionmaker
    from callout.sender import Sender

    request_id, code = accepted(rt, twilio, roster)
    transport = Jittery()
    engines = [make_engine(config.server.database_url) for _ in range(2)]
    senders = [Sender(make_sessionmaker(e), rt.env, transport, clock=clock) for e in engines]
    start = threading.Barrier(2)
    words = {name: f"{name} " + "word " * 900 for name in ("first", "second")}  # three parts each

    def relay(sender: Sender, name: str) -> None:
        start.wait()
        sender.relay(roster["rivera"].phone, "+14325550100", messages.relay(code, words[name]), request_id)

    try:
        threads = [threading.Thread(target=relay, args=pair) for pair in zip(senders, words, strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for sender in senders:
            sender.stop()
    finally:
        for engine in engines:
            engine.dispose()
    relayed = transport.to(roster["rivera"].phone)
    first, second = (messages.relay(code, words[name]) for name in words)
    assert relayed in ([*first, *second], [*second, *first])


class Held(RecordingTransport):
    """A transport whose sends wait until released, as under 200 ms of provider latency."""

    def __init__(self) -> None:
        import threading

        super().__init__()
        self.release = threading.Event()

    def send_sms(self, sms: Any) -> str:
        self.release.wait(timeout=10)
        return super().send_sms(sms)


def test_a_sender_claims_no_more_than_its_threads_and_leaves_the_rest_to_another_process(
    rt: Any, clock: Clock
) -> None:
    from callout import outbox
    from callout.models import Team
    from callout.sender import Sender

    def queue(session: Any, env: Any, now: Any) -> None:
        team = session.scalar(select(Team))
        for n in range(10):
            outbox.enqueue_sms(session, env, now, team, f"+1432555{3000 + n}", "hello", purpose="notice")

    rt.run(queue)
    transport = Held()
    busy, other = (Sender(rt.sessions, rt.env, transport, workers=4, clock=clock) for _ in range(2))
    try:
        assert busy.drain() == 4  # four sends in flight: nothing more for this process until one ends
        assert busy.drain() == 0
        assert other.drain() == 4  # another process's sender takes its share meanwhile
    finally:
        transport.release.set()
        busy.stop()  # once their sends are done
        other.stop()
    rt.sender.transport = transport
    send(rt)  # and the rest
    assert sorted(s.to for s in transport.sms) == [f"+1432555{3000 + n}" for n in range(10)]


def test_the_periodic_drain_never_waits_for_a_drain_under_way(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    from callout import outbox

    twilio.sms(REQUESTER, "hello")  # its page waits in the outbox: no sender loop runs here
    claiming, go_on = threading.Event(), threading.Event()
    claim = outbox.claim

    def slow_claim(*args: Any, **kwargs: Any) -> Any:
        claiming.set()
        assert go_on.wait(10)
        return claim(*args, **kwargs)

    monkeypatch.setattr(outbox, "claim", slow_claim)
    under_way = threading.Thread(target=rt.sender.drain, kwargs={"wait": True})
    under_way.start()
    assert claiming.wait(10)
    assert rt.sender.drain_unless_busy() == 0  # at once: the drain under way sends what there is
    go_on.set()
    under_way.join(10)
    assert transport.to(roster["rivera"].phone) and transport.to(roster["rivera"].phone)[0].startswith(
        "Peer support request"
    )
    assert rt.sender.drain_unless_busy() == 0  # nothing left, and nothing under way: it looked
