"""The voice line through the real webhooks: the hunt of a call to the support line, and pages by phone."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from callout.models import Member, Page, ProviderRecord, Request, Team, VoiceHunt
from callout.report import build_report
from tests.conftest import Clock, RecordingTransport, TwilioClient, make_config, make_member, send, tick

CALLER = "+14325559876"
SUPPORT = "+14325550100"
PUBLIC = "https://peer.example.org"


@pytest.fixture
def roster(rt: Any) -> dict[str, Member]:
    with rt.sessions() as session, session.begin():
        team = session.scalar(select(Team).where(Team.slug == "odessa"))
        members = {
            "rivera": make_member(session, team, "Rivera"),
            "chen": make_member(session, team, "Chen"),
            "ortiz": make_member(session, team, "Ortiz"),
            "lee": make_member(session, team, "Lee"),  # a fourth peer: beyond `peers = 3`
            "patel": make_member(session, team, "Dr. Patel", role="psychologist"),
            "nguyen": make_member(session, team, "Lt. Nguyen", role="director"),
        }
    return members


def twiml(response: Any) -> ET.Element:
    """Parse a TwiML answer (and check it is one)."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/xml"
    root = ET.fromstring(response.get_data(as_text=True))
    assert root.tag == "Response"
    return root


def said(root: ET.Element) -> str:
    """Return everything the answer says, in order."""
    return " ".join(say.text or "" for say in root.iter("Say"))


def path_of(url: str) -> str:
    """Return the path of one of our public URLs."""
    assert url.startswith(PUBLIC)
    return url[len(PUBLIC) :]


def call(twilio: TwilioClient, caller: str = CALLER, sid: str = "CA" + "1" * 32) -> ET.Element:
    """Place an inbound call to the support line."""
    return twiml(twilio.post("/twilio/voice", {"CallSid": sid, "From": caller, "To": SUPPORT}))


def dialled(root: ET.Element) -> tuple[str, str, str]:
    """Return (number, whisper path, dial action path) of the <Dial> in an answer."""
    dial = root.find("Dial")
    assert dial is not None, ET.tostring(root)
    number = dial.find("Number")
    assert number is not None and number.text
    return number.text, path_of(number.attrib["url"]), path_of(dial.attrib["action"])


def ring_ended(twilio: TwilioClient, action: str, status: str = "no-answer", **extra: str) -> ET.Element:
    """Tell the app the <Dial> to one callee ended, as Twilio does."""
    params = {"CallSid": "CA" + "1" * 32, "DialCallStatus": status, "CallStatus": "in-progress", **extra}
    return twiml(twilio.post(action, params))


def press(twilio: TwilioClient, path: str, digits: str) -> ET.Element:
    """Press digits on a gather whose action is path."""
    return twiml(twilio.post(path, {"CallSid": "CA" + "2" * 32, "Digits": digits}))


def whisper_answer_path(twilio: TwilioClient, whisper: str) -> str:
    """Fetch a callee's whisper and return the action path of its gather."""
    root = twiml(twilio.post(whisper, {"CallSid": "CA" + "2" * 32, "CallStatus": "in-progress"}))
    gather = root.find("Gather")
    assert gather is not None
    return path_of(gather.attrib["action"])


def hunt_to_the_end(twilio: TwilioClient, first: ET.Element, callees: int) -> ET.Element:
    """Let every callee's phone ring out; return the answer after the last."""
    root = first
    for _ in range(callees):
        _, _, action = dialled(root)
        root = ring_ended(twilio, action)
    return root


# --- the hunt -----------------------------------------------------------------------------------


def test_it_greets_the_caller_and_dials_the_primary_with_a_whisper(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    root = call(twilio)
    assert "confidential" in said(root)
    dial = root.find("Dial")
    assert dial is not None
    assert dial.attrib["timeout"] == "20" and dial.attrib["answerOnBridge"] == "true"
    assert dial.attrib["callerId"] == SUPPORT  # callees never see the caller's number
    number, whisper, action = dialled(root)
    assert number == roster["rivera"].phone
    assert whisper.startswith("/twilio/voice/hunt/") and whisper.endswith("/0/whisper")
    assert action.endswith("/0/dialed")
    body = ET.tostring(root, encoding="unicode")
    assert CALLER not in body and CALLER[2:] not in body
    with rt.sessions() as session:
        hunt = session.scalar(select(VoiceHunt))
        assert hunt is not None and hunt.status == "dialing" and hunt.caller_enc
        assert CALLER not in hunt.caller_enc and rt.env.vault.decrypt(hunt.caller_enc) == CALLER
        assert hunt.token in whisper


def test_the_whisper_asks_for_1_and_hangs_up_on_silence(
    twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    _, whisper, _ = dialled(call(twilio))
    root = twiml(twilio.post(whisper, {"CallSid": "CA" + "2" * 32}))
    gather = root.find("Gather")
    assert gather is not None and gather.attrib["numDigits"] == "1"
    assert path_of(gather.attrib["action"]).endswith("/0/answer")
    assert "peer support call from the support line, press 1 to accept" in said(gather).lower().replace(
        ".", ","
    )
    assert [child.tag for child in root] == ["Gather", "Hangup"]  # no key: the callee is hung up on


def test_it_hunts_the_peers_on_call_then_the_fallback_roles_one_at_a_time(
    twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    root = call(twilio)
    rung = []
    for _ in range(5):
        number, _, action = dialled(root)
        rung.append(number)
        root = ring_ended(twilio, action)
    names = ["rivera", "chen", "ortiz", "patel", "nguyen"]  # Lee is the fourth peer: peers = 3
    assert rung == [roster[name].phone for name in names]
    assert root.find("Dial") is None


def test_it_skips_a_member_who_calls_the_line_themselves(
    twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    number, _, _ = dialled(call(twilio, caller=roster["rivera"].phone))
    assert number == roster["chen"].phone


def test_a_key_other_than_1_or_voicemail_moves_to_the_next_callee(
    twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    _, whisper, action = dialled(call(twilio))
    answer = whisper_answer_path(twilio, whisper)
    assert [child.tag for child in press(twilio, answer, "2")] == ["Hangup"]
    root = ring_ended(twilio, action, status="completed")
    number, whisper, action = dialled(root)
    assert number == roster["chen"].phone
    assert "still" in said(root).lower()
    root = ring_ended(twilio, action, status="no-answer")  # voicemail never presses 1
    assert dialled(root)[0] == roster["ortiz"].phone


def test_pressing_1_connects_the_caller_and_counts_as_a_voice_acceptance(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
) -> None:
    _, _, action = dialled(call(twilio))
    clock.advance(seconds=25)
    _, whisper, action = dialled(ring_ended(twilio, action))
    clock.advance(seconds=10)
    root = press(twilio, whisper_answer_path(twilio, whisper), "1")
    assert root.find("Hangup") is None  # an answer that ends without hanging up bridges the caller
    with rt.sessions() as session:
        request = session.scalar(select(Request))
        assert request is not None
        assert (request.kind, request.channel, request.status) == ("support", "voice", "accepted")
        assert request.accepted_by_id == roster["chen"].id and request.accepted_channel == "voice"
        assert request.accepted_at == clock.now and (request.accepted_at - request.opened_at).seconds == 35
        assert request.contact_enc and CALLER not in request.contact_enc
        hunt = session.scalar(select(VoiceHunt))
        assert hunt is not None and hunt.status == "accepted" and hunt.caller_enc is None
        code = request.code
    send(rt)
    [text] = transport.to(roster["chen"].phone)
    assert code in text and CALLER in text and "DONE" in text
    assert transport.to(CALLER) == []  # the caller is on the line with Chen
    after = ring_ended(twilio, action, status="completed", CallStatus="completed")
    assert [child.tag for child in after] == ["Hangup"]
    assert "Closed" in twilio.sms(roster["chen"].phone, "DONE work").get_data(as_text=True)
    with rt.sessions() as session:
        figures = build_report(session, ["odessa"], date(2026, 3, 1), date(2026, 3, 31)).teams[0].total
    assert dict(figures.by_channel)["voice"] == 1 and figures.accepted == 1
    assert dict(figures.contacts_by_area)["work"] == 1


def test_a_retried_1_accepts_once(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    _, whisper, _ = dialled(call(twilio))
    answer = whisper_answer_path(twilio, whisper)
    for _ in range(2):
        assert press(twilio, answer, "1").find("Hangup") is None
    send(rt)
    with rt.sessions() as session:
        assert len(session.scalars(select(Request)).all()) == 1
    assert len(transport.to(roster["rivera"].phone)) == 1


def test_a_late_whisper_of_a_callee_already_passed_hangs_up(
    twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    _, whisper, action = dialled(call(twilio))
    answer = whisper_answer_path(twilio, whisper)
    ring_ended(twilio, action)
    assert [child.tag for child in twiml(twilio.post(whisper, {"CallSid": "CA" + "3" * 32}))] == ["Hangup"]
    assert [child.tag for child in press(twilio, answer, "1")] == ["Hangup"]


def test_when_nobody_accepts_the_caller_hears_the_crisis_lines_and_a_text_request_opens(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
) -> None:
    first = call(twilio)
    root = hunt_to_the_end(twilio, first, 4)
    _, _, last_action = dialled(root)
    root = ring_ended(twilio, last_action)
    words = said(root)
    assert "911" in words and "988" in words and "text you back" in words
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert said(ring_ended(twilio, last_action)) == words  # a retried callback: the same answer
    with rt.sessions() as session:
        [request] = session.scalars(select(Request)).all()
        assert (request.kind, request.channel, request.status) == ("support", "voice", "open")
        assert rt.env.vault.decrypt(request.contact_enc) == CALLER
        hunt = session.scalar(select(VoiceHunt))
        assert hunt is not None and hunt.status == "callback" and hunt.request_id == request.id
        assert hunt.caller_enc is None and hunt.call_sid_hash is None
    send(rt)
    assert any("Reply 1 to accept" in body for body in transport.to(roster["rivera"].phone))
    assert any("confidential" in body and "988" in body for body in transport.to(CALLER))


def test_a_withheld_caller_nobody_takes_just_hears_the_crisis_lines(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
) -> None:
    root = hunt_to_the_end(twilio, call(twilio, caller="+266696687"), 5)
    words = said(root)
    assert "911" in words and "988" in words and "text you back" not in words
    send(rt)
    assert transport.sms == []
    with rt.sessions() as session:
        [request] = session.scalars(select(Request)).all()
        assert request.channel == "voice" and request.status == "closed" and request.contact_enc is None
        assert request.exhausted_at is not None and request.pages == []  # counted as unanswered


def test_a_caller_who_hangs_up_during_the_hunt_gets_a_text_back(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
) -> None:
    _, _, action = dialled(call(twilio))
    root = ring_ended(twilio, action, status="canceled", CallStatus="completed")
    assert [child.tag for child in root] == ["Hangup"]
    send(rt)
    with rt.sessions() as session:
        [request] = session.scalars(select(Request)).all()
        assert request.channel == "voice" and request.status == "open"
    assert transport.to(CALLER)


def test_with_nobody_to_ring_the_caller_hears_the_crisis_lines_at_once(
    rt: Any, twilio: TwilioClient, clock: Clock
) -> None:
    root = call(twilio)
    assert root.find("Dial") is None
    assert "988" in said(root) and "text you back" in said(root)


def test_a_retried_call_webhook_continues_the_same_hunt(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    first, second = call(twilio), call(twilio)
    assert dialled(first) == dialled(second)
    with rt.sessions() as session:
        assert len(session.scalars(select(VoiceHunt)).all()) == 1


def test_it_forgets_the_caller_of_a_hunt_twilio_never_called_back_about(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    call(twilio, sid="CA" + "4" * 32)  # the caller hangs up during the greeting: no callback ever comes
    clock.advance(hours=2)
    call(twilio, sid="CA" + "5" * 32)
    with rt.sessions() as session:
        old, new = session.scalars(select(VoiceHunt).order_by(VoiceHunt.id)).all()
        assert old.status == "abandoned" and old.caller_enc is None and old.call_sid_hash is None
        assert new.status == "dialing" and new.caller_enc


def test_voice_webhooks_need_a_valid_signature_and_a_known_number(
    app: Any, twilio: TwilioClient, roster: dict[str, Member]
) -> None:
    params = {"CallSid": "CA" + "1" * 32, "From": CALLER, "To": SUPPORT}
    client = app.test_client()
    assert client.post("/twilio/voice", data=params).status_code == 403
    forged = client.post("/twilio/voice", data=params, headers={"X-Twilio-Signature": "forged"})
    assert forged.status_code == 403
    assert client.post("/twilio/voice/page/1", data={"Digits": "1"}).status_code == 403
    assert twilio.post("/twilio/voice", {**params, "To": "+14325550199"}).status_code == 404
    with app.extensions["callout"].sessions() as session:
        assert session.scalars(select(VoiceHunt)).all() == []


# --- a caller who already asked for support by text --------------------------------------------


def text_request(rt: Any, twilio: TwilioClient) -> str:
    """Have the caller text the line (which pages Rivera) and return the request's code."""
    twilio.sms(CALLER, "can someone talk")
    send(rt)
    return code_of(rt)


def the_requests(rt: Any) -> list[Request]:
    """Return every request, oldest first, with its pages and accepting member loaded."""
    with rt.sessions() as session:
        requests = list(session.scalars(select(Request).order_by(Request.id)).all())
        for request in requests:
            _ = [page.member for page in request.pages], request.accepted_by
        return requests


def test_a_callee_who_takes_the_call_takes_over_the_callers_text_request(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
) -> None:
    code = text_request(rt, twilio)
    clock.advance(seconds=30)
    _, _, action = dialled(call(twilio))  # Rivera, paged by text, is rung first
    _, whisper, _ = dialled(ring_ended(twilio, action))
    assert press(twilio, whisper_answer_path(twilio, whisper), "1").find("Hangup") is None
    [request] = the_requests(rt)  # no second request for the same caller
    assert (request.code, request.channel, request.status) == (code, "sms", "accepted")
    assert request.accepted_by_id == roster["chen"].id and request.accepted_channel == "voice"
    assert request.step_deadline is None
    states = {page.member.name: (page.state, page.answer_channel) for page in request.pages}
    assert states == {"Rivera": ("stood_down", None), "Chen": ("accepted", "voice")}
    with rt.sessions() as session:
        hunt = session.scalar(select(VoiceHunt))
        assert hunt is not None and hunt.status == "accepted" and hunt.request_id == request.id
    send(rt)
    [taken] = transport.to(roster["chen"].phone)  # one text: the code to close and the number
    assert taken.startswith(f"You took call {code}.") and CALLER in taken
    assert any("Stand down" in body and code in body for body in transport.to(roster["rivera"].phone))
    assert any("has your request" in body for body in transport.to(CALLER))
    clock.advance(minutes=30)
    tick(rt)
    assert transport.to(roster["ortiz"].phone) == []  # the text request's escalation ended
    assert "Closed" in twilio.sms(roster["chen"].phone, "DONE work").get_data(as_text=True)


def test_a_callee_paged_for_the_text_request_who_takes_the_call_answers_their_page(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
) -> None:
    code = text_request(rt, twilio)
    _, whisper, _ = dialled(call(twilio))
    press(twilio, whisper_answer_path(twilio, whisper), "1")
    [request] = the_requests(rt)
    assert request.code == code and request.accepted_by_id == roster["rivera"].id
    [page] = request.pages
    assert (page.state, page.answer_channel) == ("accepted", "voice")
    send(rt)
    [taken] = [body for body in transport.to(roster["rivera"].phone) if CALLER in body]
    assert taken.startswith(f"You took call {code}.")
    assert all(sms.requester for sms in transport.sms if CALLER in sms.body)  # kept by Twilio neither


def test_a_callee_who_passed_by_text_and_then_takes_the_call_takes_the_request(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
) -> None:
    code = text_request(rt, twilio)
    twilio.sms(roster["rivera"].phone, "2")  # then the caller calls, and Rivera picks up after all
    _, whisper, _ = dialled(call(twilio))
    press(twilio, whisper_answer_path(twilio, whisper), "1")
    [request] = the_requests(rt)
    assert request.code == code and request.accepted_by_id == roster["rivera"].id  # talking to them


def test_a_member_who_took_the_call_hands_it_back_to_the_others_never_to_themselves(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
) -> None:
    code = text_request(rt, twilio)
    _, _, action = dialled(call(twilio))
    _, whisper, _ = dialled(ring_ended(twilio, action))
    press(twilio, whisper_answer_path(twilio, whisper), "1")
    send(rt)
    twilio.sms(roster["chen"].phone, f"RELEASE {code}")
    send(rt)
    assert any("Reply 1 to accept" in body for body in transport.to(roster["ortiz"].phone))
    [request] = the_requests(rt)
    assert request.status == "open" and request.accepted_by_id is None
    assert [page.member.name for page in request.pages if page.state == "pending"] == ["Ortiz"]


def test_a_call_taken_after_the_text_request_was_exhausted_takes_it_over(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
) -> None:
    code = text_request(rt, twilio)
    for _ in range(6):
        clock.advance(minutes=11)
        tick(rt)
    [request] = the_requests(rt)
    assert request.status == "exhausted" and request.purge_at is not None
    _, whisper, _ = dialled(call(twilio))
    press(twilio, whisper_answer_path(twilio, whisper), "1")
    [request] = the_requests(rt)
    assert (request.code, request.status) == (code, "accepted") and request.purge_at is None
    assert request.accepted_by_id == roster["rivera"].id and request.accepted_channel == "voice"
    rivera = [page for page in request.pages if page.member_id == roster["rivera"].id]
    assert [page.state for page in rivera] == ["accepted"]


def test_the_member_who_has_the_text_request_takes_the_call_within_it(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
) -> None:
    code = text_request(rt, twilio)
    twilio.sms(roster["rivera"].phone, "1")
    _, whisper, _ = dialled(call(twilio))
    press(twilio, whisper_answer_path(twilio, whisper), "1")
    [request] = the_requests(rt)
    assert request.code == code and request.accepted_by_id == roster["rivera"].id
    assert [page.state for page in request.pages] == ["accepted"]
    send(rt)
    assert any(body.startswith(f"You took call {code}.") for body in transport.to(roster["rivera"].phone))


def test_a_call_taken_while_someone_else_has_the_text_request_is_a_request_of_its_own(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
) -> None:
    code = text_request(rt, twilio)
    twilio.sms(roster["rivera"].phone, "1")
    _, _, action = dialled(call(twilio))
    _, whisper, _ = dialled(ring_ended(twilio, action))
    press(twilio, whisper_answer_path(twilio, whisper), "1")
    texted, called = the_requests(rt)
    assert texted.code == code and texted.accepted_by_id == roster["rivera"].id
    assert (called.channel, called.status, called.accepted_by_id) == ("voice", "accepted", roster["chen"].id)
    assert [page.member.name for page in called.pages] == ["Chen"]
    send(rt)
    assert any(
        body.startswith(f"You took call {called.code}.") for body in transport.to(roster["chen"].phone)
    )


def test_a_call_nobody_takes_joins_the_callers_open_text_request(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
) -> None:
    code = text_request(rt, twilio)
    before = len(transport.to(CALLER))
    root = hunt_to_the_end(twilio, call(twilio), 5)
    assert "text you back" in said(root)
    [request] = the_requests(rt)
    assert (request.code, request.channel, request.status) == (code, "sms", "open")
    with rt.sessions() as session:
        hunt = session.scalar(select(VoiceHunt))
        assert hunt is not None and hunt.status == "callback" and hunt.request_id == request.id
    send(rt)
    assert len(transport.to(CALLER)) == before  # no second acknowledgement
    assert len(transport.to(roster["rivera"].phone)) == 1  # the page goes on; nobody is paged twice


def test_a_call_nobody_takes_after_the_text_request_was_exhausted_opens_a_fresh_one(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
) -> None:
    text_request(rt, twilio)
    for _ in range(6):
        clock.advance(minutes=11)
        tick(rt)
    hunt_to_the_end(twilio, call(twilio), 5)
    exhausted, fresh = the_requests(rt)  # as a text after exhaustion does: everyone is paged again
    assert exhausted.status == "exhausted"
    assert (fresh.channel, fresh.status) == ("voice", "open")
    assert [page.member.name for page in fresh.pages] == ["Rivera"]


# --- pages by phone -----------------------------------------------------------------------------


@pytest.fixture
def page_call(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> str:
    """Open a text request, let call_after pass, and return the path of Rivera's page call."""
    twilio.sms(CALLER, "can someone talk")
    send(rt)
    clock.advance(minutes=2, seconds=1)
    tick(rt)
    [placed] = transport.calls
    assert placed.to == roster["rivera"].phone and placed.from_ == SUPPORT
    assert placed.status_callback == f"{PUBLIC}/twilio/status"
    return path_of(placed.url)


def code_of(rt: Any) -> str:
    with rt.sessions() as session:
        request: Request | None = session.scalar(select(Request))
        assert request is not None
        return request.code


def test_the_page_call_asks_for_1_or_2_and_spells_the_code(
    rt: Any, twilio: TwilioClient, page_call: str
) -> None:
    root = twiml(twilio.post(page_call, {"CallSid": "CA" + "6" * 32, "AnsweredBy": "human"}))
    gather = root.find("Gather")
    assert gather is not None and gather.attrib["numDigits"] == "1"
    assert path_of(gather.attrib["action"]) == page_call + "/answer"
    spelled = " ".join(code_of(rt))
    assert f"request {spelled} is waiting. Press 1 to accept, 2 to pass." in said(gather)
    assert CALLER not in ET.tostring(root, encoding="unicode")


def test_pressing_1_on_a_page_call_accepts_and_texts_the_number(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
    page_call: str,
) -> None:
    root = press(twilio, page_call + "/answer", "1")
    assert "Thank you" in said(root) and CALLER not in ET.tostring(root, encoding="unicode")
    assert press(twilio, page_call + "/answer", "1") is not None  # a retry sends nothing more
    send(rt)
    taken = [body for body in transport.to(roster["rivera"].phone) if CALLER in body]
    assert len(taken) == 1 and code_of(rt) in taken[0]
    # It holds the caller's number: Twilio is asked to keep neither its body nor its address (issue 10: 10).
    assert all(sms.requester for sms in transport.sms if CALLER in sms.body)
    assert any("has your request" in body for body in transport.to(CALLER))
    with rt.sessions() as session:
        request = session.scalar(select(Request))
        assert request is not None and request.status == "accepted"
        assert request.accepted_by_id == roster["rivera"].id and request.accepted_channel == "voice"
        assert request.pages[0].answer_channel == "voice"
    clock.advance(minutes=5)
    tick(rt)
    assert transport.to(roster["chen"].phone) == []  # the escalation ended


def test_pressing_2_on_a_page_call_passes_and_pages_the_next_at_once(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    page_call: str,
) -> None:
    root = press(twilio, page_call + "/answer", "2")
    assert "next person" in said(root)
    send(rt)
    assert len(transport.to(roster["chen"].phone)) == 1
    with rt.sessions() as session:
        page = session.scalar(select(Page).where(Page.member_id == roster["rivera"].id))
        assert page is not None and page.state == "declined" and page.answer_channel == "voice"


def test_pressing_2_with_nobody_left_to_page_does_not_promise_a_next_person(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
    page_call: str,
) -> None:
    with rt.sessions() as session, session.begin():
        for name in ("chen", "ortiz", "lee", "patel", "nguyen"):  # nobody else can be paged
            session.get(Member, roster[name].id).away_until = clock.now + timedelta(days=1)
    root = press(twilio, page_call + "/answer", "2")
    assert "you passed on request" in said(root) and "next person" not in said(root)
    with rt.sessions() as session:
        assert session.scalar(select(Request.status)) == "exhausted"


def test_pressing_1_on_a_page_call_after_passing_by_text_is_told_the_pass_stands(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    page_call: str,
) -> None:
    assert "passed" in twilio.sms(roster["rivera"].phone, "2").get_data(as_text=True)
    root = press(twilio, page_call + "/answer", "1")
    assert "passed on request" in said(root) and "others are being paged" in said(root)
    send(rt)
    with rt.sessions() as session:
        request = session.scalar(select(Request))
        assert request is not None and request.status == "open" and request.accepted_by_id is None
    assert not any(CALLER in body for body in transport.to(roster["rivera"].phone))
    assert len(transport.to(roster["chen"].phone)) == 1  # Chen's page stands: no stand-down


def test_silence_an_other_key_or_an_answering_machine_changes_nothing(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    page_call: str,
) -> None:
    machine = twiml(twilio.post(page_call, {"CallSid": "CA" + "6" * 32, "AnsweredBy": "machine_start"}))
    assert [child.tag for child in machine] == ["Hangup"]
    human = twiml(twilio.post(page_call, {"CallSid": "CA" + "6" * 32, "AnsweredBy": "human"}))
    assert [child.tag for child in human] == ["Gather", "Hangup"]  # silence falls through to a hang-up
    assert press(twilio, page_call + "/answer", "7").find("Gather") is not None  # asked again
    send(rt)
    with rt.sessions() as session:
        page = session.scalar(select(Page))
        assert page is not None and page.state == "pending"
    assert transport.to(roster["chen"].phone) == []


def test_a_call_status_is_recorded_without_advancing_the_escalation(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    page_call: str,
) -> None:
    send(rt)  # the sender recorded the call's sid
    with rt.sessions() as session:
        from callout.models import Outbox

        sid = session.scalar(select(Outbox.provider_sid).where(Outbox.channel == "call"))
    assert sid is not None
    assert twilio.post("/twilio/status", {"CallSid": sid, "CallStatus": "no-answer"}).status_code == 204
    send(rt)
    with rt.sessions() as session:
        page = session.scalar(select(Page))
        assert page is not None and page.call_status == "no-answer" and page.state == "pending"
    assert transport.to(roster["chen"].phone) == []


def test_a_page_call_after_someone_else_accepted_says_who_has_it(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], page_call: str
) -> None:
    twilio.sms(roster["nguyen"].phone, f"1 {code_of(rt)}")  # the director takes it by text
    root = twiml(twilio.post(page_call, {"CallSid": "CA" + "6" * 32, "AnsweredBy": "human"}))
    assert root.find("Gather") is None and "Lt. Nguyen" in said(root)
    late = press(twilio, page_call + "/answer", "1")
    assert "Lt. Nguyen" in said(late)


# --- the provider's log of a call ---------------------------------------------------------------


@pytest.fixture
def forgetting_app(database_url: str, transport: RecordingTransport) -> Iterator[Any]:
    """Return an app that deletes Twilio's records of a request's messages and calls after the purge."""
    import service
    from webhooks import create_app

    config = make_config(database_url, privacy={"delete_provider_records": True})
    application = create_app(service.build(config, transport=transport))
    with application.extensions["callout"].sessions() as session, session.begin():
        team = session.scalar(select(Team).where(Team.slug == "odessa"))
        make_member(session, team, "Rivera")
        make_member(session, team, "Lt. Nguyen", role="director")
    yield application
    application.extensions["callout"].close()


def provider_sids(app: Any) -> dict[str, int | None]:
    """Return the provider ids kept, decrypted, with the request each is about."""
    rt = app.extensions["callout"]
    with rt.sessions() as session:
        return {
            rt.env.vault.decrypt(r.sid_enc): r.request_id for r in session.scalars(select(ProviderRecord))
        }


@pytest.mark.parametrize("taken", [True, False])
def test_it_keeps_the_callers_call_id_with_the_request_to_delete_it_after_the_purge(
    forgetting_app: Any, taken: bool
) -> None:
    twilio = TwilioClient(forgetting_app.test_client())
    parent = "CA" + "7" * 32
    root = call(twilio, sid=parent)
    _, whisper, action = dialled(root)
    if taken:
        params = {"CallSid": "CA" + "2" * 32, "ParentCallSid": parent, "Digits": "1"}
        twiml(twilio.post(whisper_answer_path(twilio, whisper), params))
    else:
        root = ring_ended(twilio, action, CallSid=parent)
        ring_ended(twilio, dialled(root)[2], CallSid=parent)
    with forgetting_app.extensions["callout"].sessions() as session:
        request_id = session.scalar(select(Request.id))
    assert provider_sids(forgetting_app) == {parent: request_id}
