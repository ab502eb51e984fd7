"""End to end: `callout serve` processes, the real scheduler, the fake Twilio server, 2-second timeouts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from callout.db import make_engine, make_sessionmaker
from callout.models import Request
from tests.e2e import Stack

pytestmark = pytest.mark.e2e

RIVERA, CHEN, ORTIZ, PATEL, NGUYEN = (f"+1432555{n:04d}" for n in (1101, 1102, 1103, 1104, 1105))
REQUESTER = "+14325559876"
PAGE = "Reply 1 to accept, 2 to pass"


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    stack = Stack(
        tmp_path,
        database_url,
        {
            "ack_timeout": "2s",
            "peers": 3,
            "call_after": "0",
            "fallback": ["psychologist", "director"],
            "fallback_timeout": "2s",
        },
    )
    stack.roster(
        [
            ("Rivera", RIVERA, "peer"),
            ("Chen", CHEN, "peer"),
            ("Ortiz", ORTIZ, "peer"),
            ("Dr. Patel", PATEL, "psychologist"),
            ("Lt. Nguyen", NGUYEN, "director"),
        ]
    )
    yield stack
    stack.close()


def pages_to(stack: Stack, number: str) -> list[str]:
    return [b for b in stack.bodies_to(number) if PAGE in b]


def requests_in(database_url: str) -> list[Request]:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            rows = list(session.scalars(select(Request)).all())
            for row in rows:
                _ = [p.state for p in row.pages], row.accepted_by
            return rows
    finally:
        engine.dispose()


def test_it_pages_in_rotation_falls_back_and_connects_the_first_yes(stack: Stack, database_url: str) -> None:
    stack.serve()
    status, body = stack.sms(REQUESTER, "I had a rough call, can someone talk?")
    assert status == 200 and "988" in body and "911" in body
    stack.wait(lambda: pages_to(stack, RIVERA))
    stack.wait(lambda: pages_to(stack, CHEN))
    status, body = stack.sms(CHEN, "2")
    assert "passed" in body
    stack.wait(lambda: pages_to(stack, ORTIZ), timeout=2)  # a pass pages the next at once
    stack.wait(lambda: pages_to(stack, PATEL))
    status, body = stack.sms(PATEL, "1")
    # The accepting member gets the number by a text of its own, not in the TwiML reply: its sid is kept to
    # delete Twilio's copy after the purge, and Twilio is asked to keep neither its body nor its address.
    assert REQUESTER not in body and "<Message>" not in body
    stack.wait(lambda: any(REQUESTER in b for b in stack.bodies_to(PATEL)))
    handed = next(m for m in stack.fake.messages_to(PATEL) if REQUESTER in str(m["Body"]))
    assert handed["ContentRetention"] == "discard" and handed["AddressRetention"] == "obfuscate"
    stack.wait(lambda: any("has your request" in b for b in stack.bodies_to(REQUESTER)))
    told = next(m for m in stack.fake.messages_to(REQUESTER) if "has your request" in str(m["Body"]))
    assert told["ContentRetention"] == "discard" and told["AddressRetention"] == "obfuscate"
    stack.wait(lambda: all(any("Stand down" in b for b in stack.bodies_to(n)) for n in (RIVERA, ORTIZ)))
    assert not any(
        "Stand down" in b for b in stack.bodies_to(CHEN)
    )  # Chen passed: nothing to stand down from
    for message in stack.fake.messages:
        assert message["StatusCallback"] == "https://peer.example.org/twilio/status"
        assert message["From"] == stack.support
    status, body = stack.sms(RIVERA, "1")
    assert "Dr. Patel" in body
    status, body = stack.sms(PATEL, "DONE family")
    assert "Closed" in body
    [request] = requests_in(database_url)
    assert request.status == "closed" and request.content_area == "family"
    assert request.accepted_by is not None and request.accepted_by.name == "Dr. Patel"
    rivera, chen = request.pages[0], request.pages[1]
    assert chen.paged_at - rivera.paged_at >= timedelta(seconds=2)  # Chen was paged by Rivera's timeout
    assert [len(pages_to(stack, n)) for n in (RIVERA, CHEN, ORTIZ, PATEL)] == [1, 1, 1, 1]
    assert "I had a rough call" not in stack.logs() and REQUESTER not in stack.logs()


def test_a_follow_up_over_1600_characters_reaches_the_peer_in_parts_twilio_takes(stack: Stack) -> None:
    stack.serve()
    stack.sms(REQUESTER, "help")
    stack.wait(lambda: pages_to(stack, RIVERA))
    stack.sms(RIVERA, "1")
    stack.wait(lambda: any("has your request" in b for b in stack.bodies_to(REQUESTER)))
    words = ("I keep seeing it when I close my eyes and I don't know who to tell. " * 25)[:1606]
    status, _ = stack.sms(REQUESTER, words)
    assert status == 200
    stack.wait(lambda: len([b for b in stack.bodies_to(RIVERA) if "/2): " in b]) == 2)
    parts = [b for b in stack.bodies_to(RIVERA) if "/2): " in b]
    assert [p.split(": ", 1)[0][-5:] for p in parts] == ["(1/2)", "(2/2)"]  # in order, each with the code
    assert " ".join(p.split(": ", 1)[1] for p in parts) == words
    assert all(len(p) <= 1600 for p in parts)
    assert words[:40] not in stack.logs()


def test_it_exhausts_everyone_then_gives_the_crisis_lines_and_alerts_the_director(stack: Stack) -> None:
    stack.serve()
    stack.sms(REQUESTER, "hello?")
    stack.wait(lambda: any("988" in b for b in stack.bodies_to(REQUESTER)), timeout=20)
    stack.wait(lambda: any("ALERT" in b for b in stack.bodies_to(NGUYEN)))
    assert [len(pages_to(stack, n)) for n in (RIVERA, CHEN, ORTIZ, PATEL, NGUYEN)] == [1, 1, 1, 1, 1]
    stack.sms(CHEN, "1")  # a late YES still accepts
    stack.wait(lambda: any(REQUESTER in b for b in stack.bodies_to(CHEN)))


def test_a_forged_signature_gets_403_and_changes_nothing(stack: Stack, database_url: str) -> None:
    import requests

    [server] = stack.serve()
    params = {"From": REQUESTER, "To": stack.support, "Body": "hi", "MessageSid": "SM" + "9" * 32}
    response = requests.post(
        server.url + "/twilio/sms", data=params, headers={"X-Twilio-Signature": "forged"}
    )
    assert response.status_code == 403
    unsigned = requests.post(server.url + "/twilio/sms", data=params)
    assert unsigned.status_code == 403
    time.sleep(0.5)
    assert stack.fake.messages == [] and requests_in(database_url) == []


def test_a_repeated_message_sid_is_processed_once(stack: Stack, database_url: str) -> None:
    stack.serve()
    sid = "SM" + "7" * 32
    stack.sms(REQUESTER, "hello", sid=sid)
    status, body = stack.sms(REQUESTER, "hello", sid=sid)
    assert status == 200 and "<Message>" not in body
    stack.wait(lambda: pages_to(stack, RIVERA))
    time.sleep(0.5)
    assert len(requests_in(database_url)) == 1 and len(pages_to(stack, RIVERA)) == 1


def test_two_simultaneous_yes_accept_exactly_once(stack: Stack, database_url: str) -> None:
    first, second = stack.serve(2)
    stack.sms(REQUESTER, "hello")
    stack.wait(lambda: pages_to(stack, CHEN))  # Rivera timed out; both may still answer
    answers: dict[str, str] = {}

    def yes(number: str, server: object) -> None:
        answers[number] = stack.sms(number, "1", server=server)[1]  # type: ignore[arg-type]

    threads = [
        threading.Thread(target=yes, args=(RIVERA, first)),
        threading.Thread(target=yes, args=(CHEN, second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    losers = [n for n, body in answers.items() if "already with" in body]
    assert len(losers) == 1
    winner = CHEN if losers == [RIVERA] else RIVERA
    assert "<Message>" not in answers[winner]  # the number comes by a text of its own
    stack.wait(lambda: any(REQUESTER in b for b in stack.bodies_to(winner)))
    assert not any(REQUESTER in b for b in stack.bodies_to(losers[0]))
    [request] = requests_in(database_url)
    assert request.status == "accepted"
    assert [p.state for p in request.pages if p.state == "accepted"] == ["accepted"]


def first_page_state(database_url: str) -> tuple[str, str | None]:
    [request] = requests_in(database_url)
    return request.pages[0].state, request.pages[0].delivery_status


def test_an_undeliverable_page_pages_the_next_peer_at_once(stack: Stack, database_url: str) -> None:
    stack.fake.fail_number(RIVERA, code=21211)
    stack.serve()
    stack.sms(REQUESTER, "hello")
    stack.wait(lambda: pages_to(stack, CHEN))
    assert first_page_state(database_url) == ("failed", "failed")  # not a timeout: Chen was paged at once


def test_a_failed_status_callback_pages_the_next_peer(stack: Stack, database_url: str) -> None:
    [server] = stack.serve()
    stack.sms(REQUESTER, "hello")
    stack.wait(lambda: pages_to(stack, RIVERA))
    sid = next(m["sid"] for m in stack.fake.messages_to(RIVERA))
    stack.fake.send_status(server.url, stack.public_url, stack.fake.auth_token, sid, "undelivered")
    stack.wait(lambda: pages_to(stack, CHEN))
    assert first_page_state(database_url) == ("failed", "undelivered")  # not a timeout


def test_a_kill_9_mid_escalation_neither_loses_nor_repeats_a_step(stack: Stack, database_url: str) -> None:
    [server] = stack.serve()
    stack.sms(REQUESTER, "hello")
    stack.wait(lambda: pages_to(stack, RIVERA))
    server.kill()
    time.sleep(2.5)  # Rivera's deadline passes while nothing runs
    stack.serve()
    stack.wait(lambda: pages_to(stack, CHEN), timeout=10)
    stack.wait(lambda: any("ALERT" in b for b in stack.bodies_to(NGUYEN)), timeout=30)
    assert [len(pages_to(stack, n)) for n in (RIVERA, CHEN, ORTIZ, PATEL, NGUYEN)] == [1, 1, 1, 1, 1]
    [request] = requests_in(database_url)
    assert request.status == "exhausted"
    assert sorted(p.step for p in request.pages) == [1, 2, 3, 4, 5]
