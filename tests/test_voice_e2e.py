"""End to end: the real app with its scheduler and sender, calls placed through the fake Twilio server."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from callout.models import Member, Page, Request, Team
from callout.report import build_report
from tests.conftest import TwilioClient, make_config, make_member, team_table
from tests.fake_twilio import FakeTwilio

pytestmark = pytest.mark.e2e

REQUESTER = "+14325559876"
SUPPORT = "+14325550100"
PUBLIC = "https://peer.example.org"
PAGE = "Reply 1 to accept, 2 to pass"
CALLER_SID = "CA" + "9" * 32  # the caller's leg of a call to the support line
CALLEE_SID = "CA" + "a" * 32  # the leg <Dial> opens to a callee


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def live(database_url: str, fake: FakeTwilio) -> Iterator[Any]:
    """Run the real app (sender and scheduler threads) with 3-second pages and calls after 1 second."""
    import service

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
    app = service.wsgi_app(config)
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


def dialled(response: Any) -> tuple[str, str, str]:
    """Return (number, whisper path, dial action path) of the <Dial> in a TwiML answer."""
    assert response.status_code == 200
    dial = ET.fromstring(response.get_data(as_text=True)).find("Dial")
    assert dial is not None
    number = dial.find("Number")
    assert number is not None and number.text
    return number.text, number.attrib["url"][len(PUBLIC) :], dial.attrib["action"][len(PUBLIC) :]


def take_the_call(twilio: TwilioClient, whisper: str) -> ET.Element:
    """Fetch a callee's whisper and press 1 on it, as Twilio posts them from the callee's call leg."""
    leg = {"CallSid": CALLEE_SID, "ParentCallSid": CALLER_SID, "CallStatus": "in-progress"}
    heard = twilio.post(whisper, leg)
    assert "press 1 to accept" in said(heard).lower()
    gather = ET.fromstring(heard.get_data(as_text=True)).find("Gather")
    assert gather is not None
    response = twilio.post(gather.attrib["action"][len(PUBLIC) :], {**leg, "Digits": "1"})
    assert response.status_code == 200
    return ET.fromstring(response.get_data(as_text=True))


def test_a_callee_who_presses_1_is_connected_and_gets_the_code_by_text(
    live: Any, fake: FakeTwilio, twilio: TwilioClient, roster: dict[str, Member]
) -> None:
    inbound = {"CallSid": CALLER_SID, "From": REQUESTER, "To": SUPPORT, "CallStatus": "ringing"}
    number, whisper, _ = dialled(twilio.post("/twilio/voice", inbound))
    assert number == roster["rivera"].phone
    root = take_the_call(twilio, whisper)
    assert root.find("Hangup") is None and root.find("Say") is not None  # the callee is bridged
    wait(fake, lambda: any("You took call" in b for b in bodies(fake, number)))
    request = only_request(live)
    assert (request.channel, request.status, request.accepted_channel) == ("voice", "accepted", "voice")
    assert request.accepted_by is not None and request.accepted_by.name == "Rivera"
    [taken] = bodies(fake, number)
    assert request.code in taken and REQUESTER in taken
    assert [m["From"] for m in fake.messages_to(number)] == [SUPPORT]
    time.sleep(1.5)  # a tick or more: nobody is paged, and the caller gets no text
    assert [m["To"] for m in fake.messages] == [number] and fake.calls == []


def test_a_callee_who_presses_1_takes_over_the_callers_text_request(
    live: Any, fake: FakeTwilio, twilio: TwilioClient, roster: dict[str, Member]
) -> None:
    rivera, chen, ortiz = roster["rivera"].phone, roster["chen"].phone, roster["ortiz"].phone
    twilio.sms(REQUESTER, "I need to talk")
    wait(fake, lambda: any(PAGE in b for b in bodies(fake, rivera)))
    inbound = {"CallSid": CALLER_SID, "From": REQUESTER, "To": SUPPORT, "CallStatus": "ringing"}
    _, _, action = dialled(twilio.post("/twilio/voice", inbound))
    rung = twilio.post(
        action, {"CallSid": CALLER_SID, "DialCallStatus": "no-answer", "CallStatus": "in-progress"}
    )
    number, whisper, _ = dialled(rung)
    assert number == chen
    assert take_the_call(twilio, whisper).find("Hangup") is None
    code = only_request(live).code
    wait(
        fake,
        lambda: any(b.startswith(f"You took call {code}.") and REQUESTER in b for b in bodies(fake, chen)),
    )
    wait(fake, lambda: any("Stand down" in b for b in bodies(fake, rivera)))
    wait(fake, lambda: any("has your request" in b for b in bodies(fake, REQUESTER)))
    time.sleep(3.5)  # past Rivera's ack_timeout: the text request pages nobody else
    assert bodies(fake, ortiz) == []
    request = only_request(live)
    assert request.status == "accepted" and request.accepted_channel == "voice"
    assert request.accepted_by is not None and request.accepted_by.name == "Chen"


@pytest.mark.parametrize("withheld", ["anonymous", ""])
def test_a_withheld_caller_nobody_takes_hears_the_crisis_lines_and_is_counted_unanswered(
    live: Any, fake: FakeTwilio, twilio: TwilioClient, roster: dict[str, Member], withheld: str
) -> None:
    inbound = {"CallSid": CALLER_SID, "From": withheld, "To": SUPPORT, "CallStatus": "ringing"}
    response = twilio.post("/twilio/voice", inbound)
    for _ in range(5):
        _, _, action = dialled(response)
        params = {"CallSid": CALLER_SID, "DialCallStatus": "no-answer", "CallStatus": "in-progress"}
        response = twilio.post(action, params)
    words = said(response)
    assert "911" in words and "988" in words and "text you back" not in words
    root = ET.fromstring(response.get_data(as_text=True))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    time.sleep(1.5)  # a tick or more: no page and no text goes anywhere
    assert fake.messages == [] and fake.calls == []
    request = only_request(live)
    assert (request.kind, request.channel, request.status) == ("support", "voice", "closed")
    assert request.closed_reason == "unanswered" and request.exhausted_at is not None
    assert request.contact_enc is None and request.contact_key is None and request.pages == []
    today = date.today()
    with live.extensions["callout"].sessions() as session:
        report = build_report(session, ["odessa"], today - timedelta(days=1), today + timedelta(days=1))
    figures = report.teams[0].total
    assert figures.unanswered == 1 and figures.accepted == 0 and dict(figures.by_channel)["voice"] == 1
