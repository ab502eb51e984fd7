"""End to end: the real app with its scheduler and sender, calls placed through the fake Twilio server."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from callout.models import Member, Page, Request, Team
from tests.conftest import TwilioClient, make_config, make_member, team_table
from tests.fake_twilio import FakeTwilio

pytestmark = pytest.mark.e2e

REQUESTER = "+14325559876"
SUPPORT = "+14325550100"
PUBLIC = "https://peer.example.org"
PAGE = "Reply 1 to accept, 2 to pass"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def live(database_url: str, fake: FakeTwilio) -> Iterator[Any]:
    """Run the real app (sender and scheduler threads) with 3-second pages and calls after 1 second."""
    from webhooks import create_app

    escalation = {
        "ack_timeout": "3s",
        "peers": 3,
        "call_after": "1s",
        "fallback": ["psychologist", "director"],
        "fallback_timeout": "3s",
    }
    config = make_config(
        database_url,
        team_table(escalation=escalation),
        twilio={"api_base_url": fake.base_url},
        server={"tick": "0.2s"},
    )
    app = create_app(config, background=True)
    yield app
    app.extensions["callout"].close()


@pytest.fixture
def roster(live: Any) -> dict[str, Member]:
    with live.extensions["callout"].sessions() as session, session.begin():
        team = session.scalar(select(Team).where(Team.slug == "odessa"))
        return {
            "rivera": make_member(session, team, "Rivera"),
            "chen": make_member(session, team, "Chen"),
            "ortiz": make_member(session, team, "Ortiz"),
            "patel": make_member(session, team, "Dr. Patel", role="psychologist"),
            "nguyen": make_member(session, team, "Lt. Nguyen", role="director"),
        }


@pytest.fixture
def twilio(live: Any) -> TwilioClient:
    return TwilioClient(live.test_client())


def bodies(fake: FakeTwilio, number: str) -> list[str]:
    return [str(m.get("Body", "")) for m in fake.messages_to(number)]


def wait(fake: FakeTwilio, predicate: Any, timeout: float = 10.0) -> None:
    assert fake.wait_for(predicate, timeout), "timed out"


def said(response: Any) -> str:
    assert response.status_code == 200
    root = ET.fromstring(response.get_data(as_text=True))
    return " ".join(say.text or "" for say in root.iter("Say"))


def only_request(live: Any) -> Request:
    with live.extensions["callout"].sessions() as session:
        request: Request | None = session.scalar(select(Request))
        assert request is not None
        _ = request.pages, request.accepted_by
        return request


def report_status(twilio: TwilioClient, sid: str, status: str) -> None:
    """Send the status callback Twilio sends when a call placed by Callout ends."""
    assert twilio.post("/twilio/status", {"CallSid": sid, "CallStatus": status}).status_code == 204


def test_it_phones_a_silent_peer_after_call_after_and_a_1_ends_the_escalation(
    live: Any, fake: FakeTwilio, twilio: TwilioClient, roster: dict[str, Member]
) -> None:
    rivera, chen = roster["rivera"].phone, roster["chen"].phone
    twilio.sms(REQUESTER, "I need to talk")
    wait(fake, lambda: any(PAGE in b for b in bodies(fake, rivera)))
    wait(fake, lambda: [c for c in fake.calls if c["To"] == rivera])
    page = only_request(live).pages[0]
    assert page.called_at is not None and page.called_at - page.paged_at >= timedelta(seconds=1)  # call_after
    [placed] = fake.calls
    assert placed["From"] == SUPPORT and placed["MachineDetection"] == "Enable"
    assert placed["StatusCallback"] == f"{PUBLIC}/twilio/status"
    assert placed["Url"].startswith(f"{PUBLIC}/twilio/voice/page/")
    path = placed["Url"][len(PUBLIC) :]
    call = {"CallSid": placed["sid"], "From": SUPPORT, "To": rivera, "CallStatus": "in-progress"}
    prompt = said(twilio.post(path, {**call, "AnsweredBy": "human"}))
    code = only_request(live).code
    assert f"{' '.join(code)} is waiting. Press 1 to accept, 2 to pass." in prompt
    assert "Thank you" in said(twilio.post(path + "/answer", {**call, "Digits": "1"}))
    wait(fake, lambda: any(REQUESTER in b for b in bodies(fake, rivera)))
    wait(fake, lambda: any("has your request" in b for b in bodies(fake, REQUESTER)))
    report_status(twilio, placed["sid"], "completed")
    time.sleep(3.5)  # past Rivera's ack_timeout: nobody else is paged or called
    assert bodies(fake, chen) == [] and len(fake.calls) == 1
    request = only_request(live)
    assert request.status == "accepted" and request.accepted_channel == "voice"
    assert request.accepted_by is not None and request.accepted_by.name == "Rivera"
    assert request.pages[0].call_status == "completed"


def test_a_status_of_an_unanswered_page_call_is_recorded_and_the_timeout_still_rules(
    live: Any, fake: FakeTwilio, twilio: TwilioClient, roster: dict[str, Member]
) -> None:
    rivera, chen = roster["rivera"].phone, roster["chen"].phone
    twilio.sms(REQUESTER, "hello")
    wait(fake, lambda: any(PAGE in b for b in bodies(fake, rivera)))
    wait(fake, lambda: fake.calls)
    report_status(twilio, fake.calls[0]["sid"], "no-answer")
    assert bodies(fake, chen) == []  # a missed call is not a pass
    wait(fake, lambda: any(PAGE in b for b in bodies(fake, chen)))
    rivera_page, chen_page = only_request(live).pages[:2]
    assert chen_page.paged_at - rivera_page.paged_at >= timedelta(seconds=3)  # Rivera's ack_timeout
    with live.extensions["callout"].sessions() as session:
        page = session.scalar(select(Page).where(Page.member_id == roster["rivera"].id))
        assert page is not None and page.call_status == "no-answer" and page.state == "timeout"


def test_a_call_nobody_takes_opens_a_text_request_paged_through_twilio(
    live: Any, fake: FakeTwilio, twilio: TwilioClient, roster: dict[str, Member]
) -> None:
    response = twilio.post("/twilio/voice", {"CallSid": "CA" + "8" * 32, "From": REQUESTER, "To": SUPPORT})
    for _ in range(5):
        root = ET.fromstring(response.get_data(as_text=True))
        dial = root.find("Dial")
        assert dial is not None
        action = dial.attrib["action"][len(PUBLIC) :]
        response = twilio.post(action, {"DialCallStatus": "no-answer", "CallStatus": "in-progress"})
    words = said(response)
    assert "911" in words and "988" in words and "text you back" in words
    wait(fake, lambda: any(PAGE in b for b in bodies(fake, roster["rivera"].phone)))
    wait(fake, lambda: any("confidential" in b for b in bodies(fake, REQUESTER)))
    request = only_request(live)
    assert request.channel == "voice" and request.status == "open"
