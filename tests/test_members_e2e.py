"""End to end through the fake Twilio: a COVER asked, taken and told, and a TEST page with its call,
by two `callout serve` processes on one database with the real scheduler."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callout.db import make_engine, make_sessionmaker
from callout.models import Member, Override
from tests.e2e import Stack

pytestmark = pytest.mark.e2e

RIVERA, CHEN, ORTIZ, PATEL, NGUYEN = (f"+1432555{n:04d}" for n in (1201, 1202, 1203, 1204, 1205))


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    stack = Stack(
        tmp_path,
        database_url,
        {"ack_timeout": "4s", "peers": 3, "call_after": "1s", "fallback": ["psychologist", "director"]},
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


def in_database(database_url: str, query: object) -> list[object]:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            return list(session.scalars(query).all())  # type: ignore[call-overload]
    finally:
        engine.dispose()


def chens_shift_after_next() -> str:
    """Return the day of Chen's shift after next as COVER takes it (12/24): Rivera has the one running now."""
    now = datetime.now(ZoneInfo("America/Chicago"))
    running = now.date() if now.hour >= 7 else now.date() - timedelta(days=1)  # shifts start at 07:00
    day = running + timedelta(days=4)  # Chen's shifts: the next day's, then every third day
    return f"{day.month}/{day.day}"


def test_a_cover_through_twilio_asks_the_others_and_the_first_1_takes_it(
    stack: Stack, database_url: str
) -> None:
    first, second = stack.serve(2)
    # Not Chen's next shift: at night that one is less than 12 h away, and the director is told at once.
    status, body = stack.sms(CHEN, f"COVER {chens_shift_after_next()}", server=first)
    assert status == 200 and "Asked 2 peers to cover" in body
    stack.wait(lambda: any("Chen asks" in b for b in stack.bodies_to(RIVERA)))
    stack.wait(lambda: any("Chen asks" in b for b in stack.bodies_to(ORTIZ)))
    ask = next(b for b in stack.bodies_to(ORTIZ) if "Chen asks" in b)
    code = ask.split("Reply 1 ")[1].split()[0]
    assert stack.bodies_to(NGUYEN) == [] and stack.fake.calls == []
    status, body = stack.sms(ORTIZ, f"1 {code}", server=second)
    assert "Chen's shift" in body and "is yours" in body
    stack.wait(lambda: any("Ortiz takes your shift" in b for b in stack.bodies_to(CHEN)))
    stack.wait(lambda: any(f"COVER {code}: Ortiz takes Chen's shift" in b for b in stack.bodies_to(NGUYEN)))
    stack.wait(lambda: any(f"COVER {code} was taken by Ortiz" in b for b in stack.bodies_to(RIVERA)))
    _, late = stack.sms(RIVERA, f"1 {code}", server=first)
    assert "already taken by Ortiz" in late
    (override,) = in_database(database_url, select(Override))
    assert isinstance(override, Override) and override.cover_id is not None
    for message in stack.fake.messages:
        assert message["From"] == stack.support  # every text from the team's number


def test_a_test_page_is_texted_then_called_and_confirmed(stack: Stack, database_url: str) -> None:
    stack.serve()
    status, body = stack.sms(PATEL, "TEST")
    assert status == 200 and "A test page is on its way" in body
    stack.wait(lambda: any(b.startswith("TEST page ") for b in stack.bodies_to(PATEL)))
    stack.wait(lambda: any(call["To"] == PATEL for call in stack.fake.calls))  # after call_after, as a page
    _, confirmed = stack.sms(PATEL, "1")
    assert "confirmed by text" in confirmed
    (patel,) = in_database(database_url, select(Member).where(Member.phone == PATEL))
    assert isinstance(patel, Member) and patel.test_confirmed_at is not None
    assert not any("TEST" in b for b in stack.bodies_to(RIVERA))  # nobody else is paged for a test
