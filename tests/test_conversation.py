"""Who texts what: every command of the SPEC's table through the real webhook, with a hand-moved clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

import schedules
from callout.models import Member, Request
from tests.conftest import Clock, RecordingTransport, TwilioClient, add_roster, last_to, send

REQUESTER = "+14325559876"
OTHER = "+14325559877"


@pytest.fixture
def team(rt: Any) -> dict[str, Member]:
    return add_roster(
        rt,
        rivera=("Rivera", "peer"),
        chen=("Chen", "peer"),
        ortiz=("Ortiz", "peer"),
        patel=("Dr. Patel", "psychologist"),
        nguyen=("Lt. Nguyen", "director"),
        brooks=("Brooks", "dispatch"),
    )


def text(twilio: TwilioClient, sender: str, body: str) -> str:
    response = twilio.sms(sender, body)
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def requests(rt: Any) -> list[Request]:
    with rt.sessions() as session:
        rows = list(session.scalars(select(Request).order_by(Request.id)).all())
        for row in rows:
            _ = row.accepted_by, list(row.pages)
        return rows


def test_privacy_answers_and_opens_nothing(rt: Any, twilio: TwilioClient, team: dict[str, Member]) -> None:
    reply = text(twilio, REQUESTER, "PRIVACY")
    assert "encrypted" in reply and "never stored" in reply
    assert requests(rt) == []


def test_a_requester_is_told_once_that_texts_before_acceptance_reach_nobody(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, REQUESTER, "hello")
    first = text(twilio, REQUESTER, "it's about my partner, she found out")
    assert "Your texts so far don't reach them" in first and "tell the peer what you need" in first
    assert "988" in first and "911" in first
    again = text(twilio, REQUESTER, "are you there?")
    assert "still reaching a peer" in again and "don't reach them" not in again  # once is enough
    text(twilio, team["rivera"].phone, "1")
    send(rt)
    assert "<Message>" not in text(twilio, REQUESTER, "thank you")  # now relayed, as said
    rt.sender.stop()
    assert any("thank you" in body for body in transport.to(team["rivera"].phone))
    assert not any("my partner" in body for body in transport.to(team["rivera"].phone))


def test_a_follow_up_before_acceptance_reassures_and_pages_nobody_twice(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, REQUESTER, "hello")
    reply = text(twilio, REQUESTER, "are you there?")
    assert "still reaching a peer" in reply
    send(rt)
    assert len(requests(rt)) == 1 and len(transport.to(team["rivera"].phone)) == 1


def test_follow_ups_after_acceptance_are_relayed_and_not_stored(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, REQUESTER, "hello")
    send(rt)
    code = requests(rt)[0].code
    text(twilio, team["rivera"].phone, "1")
    assert text(twilio, REQUESTER, "I'm at the lake") == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    rt.sender.stop()  # wait for the relay, which goes from memory
    assert f"{code}: I'm at the lake" in transport.to(team["rivera"].phone)


def test_a_relay_twilio_refuses_for_a_moment_is_tried_again(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    team: dict[str, Member],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from callout.transport import TransportError

    text(twilio, REQUESTER, "hello")
    text(twilio, team["rivera"].phone, "1")
    real, refusals = transport.send_sms, [TransportError("busy", permanent=False, code=20429)] * 2

    def busy_twice(sms: Any) -> str:
        if "at the lake" in sms.body and refusals:
            raise refusals.pop()
        return real(sms)

    monkeypatch.setattr(transport, "send_sms", busy_twice)
    rt.sender.relay_backoff = (0.0, 0.0)
    text(twilio, REQUESTER, "I'm at the lake")
    rt.sender.stop()
    assert refusals == [] and sum("at the lake" in b for b in transport.to(team["rivera"].phone)) == 1


def test_a_requester_whose_words_cannot_reach_the_peer_is_told(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    from callout.transport import TransportError

    text(twilio, REQUESTER, "hello")
    text(twilio, team["rivera"].phone, "1")
    transport.fail[team["rivera"].phone] = TransportError("unreachable", permanent=True, code=30003)
    rt.sender.relay_backoff = (0.0, 0.0)
    text(twilio, REQUESTER, "I'm at the lake")
    rt.sender.stop()  # the relay's thread ends; its notice to the requester is in the outbox
    rt.sender = type(rt.sender)(rt.sessions, rt.env, transport, clock=clock)
    send(rt)
    assert any("couldn't pass your last text" in b for b in transport.to(REQUESTER))


def test_a_bare_answer_with_two_open_pages_asks_which(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    rivera = team["rivera"].phone
    text(twilio, REQUESTER, "hello")
    text(twilio, OTHER, "hello")
    send(rt)  # the pages first: last_to reads the last text
    codes = [r.code for r in requests(rt)]
    reply = text(twilio, rivera, "1")
    assert "2 open pages" in reply and all(code in reply for code in codes)
    assert "<Message>" not in text(twilio, rivera, f"1 {codes[1]}")  # the number comes by the outbox
    assert OTHER in last_to(rt, transport, rivera)
    text(twilio, rivera, "yes")  # now only one is open for them
    assert REQUESTER in last_to(rt, transport, rivera)


def test_an_unknown_code_and_a_stranger_code_are_refused(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, REQUESTER, "hello")
    code = requests(rt)[0].code
    assert "No open request" in text(twilio, team["rivera"].phone, "1 KKKK")
    assert "No open request" in text(twilio, team["chen"].phone, f"1 {code}")  # Chen was never paged
    assert requests(rt)[0].status == "open"


def test_done_with_an_unknown_area_lists_the_valid_ones(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, REQUESTER, "hello")
    text(twilio, team["rivera"].phone, "1")
    reply = text(twilio, team["rivera"].phone, "DONE gardening")
    assert "critical-incident" in reply and requests(rt)[0].status == "accepted"
    assert "not yours" in text(twilio, team["chen"].phone, f"DONE {requests(rt)[0].code}")
    reply = text(twilio, team["rivera"].phone, f"DONE {requests(rt)[0].code} grief OT")
    [request] = requests(rt)
    assert request.status == "closed" and request.content_area == "grief" and request.overtime


def test_release_hands_back_and_pages_the_next_person_at_once(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, REQUESTER, "hello")
    text(twilio, team["rivera"].phone, "1")
    assert "Released" in text(twilio, team["rivera"].phone, "RELEASE")
    send(rt)
    assert any("Reply 1" in b for b in transport.to(team["chen"].phone))
    text(twilio, team["chen"].phone, "1")
    assert REQUESTER in last_to(rt, transport, team["chen"].phone)
    assert requests(rt)[0].accepted_by.name == "Chen"


def test_away_skips_a_peer_until_back(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    assert "off the on-call list" in text(twilio, team["rivera"].phone, "AWAY 2d")
    assert "AWAY takes" in text(twilio, team["chen"].phone, "AWAY soon")
    assert "for peers" in text(twilio, team["brooks"].phone, "AWAY")  # dispatch is never paged in turn
    text(twilio, REQUESTER, "hello")
    send(rt)
    assert transport.to(team["rivera"].phone) == []
    # Rivera's AWAY made Chen primary now: told at once (the sender's threads may hand the two over in
    # either order)
    paged, told = sorted(transport.to(team["chen"].phone), key=lambda body: body.startswith("Odessa"))
    assert told.startswith("Odessa PD Peer Support: you're on call now") and paged.startswith("Peer support")
    assert "Welcome back" in text(twilio, team["rivera"].phone, "BACK")
    text(twilio, OTHER, "hello")
    send(rt)
    assert len(transport.to(team["rivera"].phone)) == 1


def test_away_records_when_it_began_for_the_calendar_and_back_forgets_it(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    def away_window() -> tuple[Any, Any]:
        with rt.sessions() as session:
            member = session.get(Member, team["rivera"].id)
            return member.away_since, member.away_until

    text(twilio, team["rivera"].phone, "AWAY 2d")
    assert away_window() == (clock.now, clock.now + timedelta(days=2))
    started = clock.now
    clock.advance(hours=3)
    text(twilio, team["rivera"].phone, "AWAY")  # a longer AWAY while away: the same one, begun earlier
    assert away_window()[0] == started
    text(twilio, team["rivera"].phone, "BACK")
    assert away_window() == (None, None)
    text(twilio, team["rivera"].phone, "AWAY 1h")
    clock.advance(hours=2)
    text(twilio, team["rivera"].phone, "AWAY 1h")  # the first one is over: this one begins now
    assert away_window() == (clock.now, clock.now + timedelta(hours=1))
    text(twilio, team["rivera"].phone, "BACK")
    assert away_window() == (None, None)


def test_who_names_the_people_on_call(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    reply = text(twilio, team["brooks"].phone, "WHO")
    assert "On call now: Rivera, Chen, Ortiz" in reply and "Next shift" in reply


def test_talk_opens_a_request_that_never_pages_the_member_themselves(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    assert "won't be paged" in text(twilio, team["rivera"].phone, "TALK")
    send(rt)
    assert transport.to(team["rivera"].phone) == []
    assert len(transport.to(team["chen"].phone)) == 1
    text(twilio, team["chen"].phone, "1")
    assert team["rivera"].phone in last_to(rt, transport, team["chen"].phone)
    text(twilio, team["rivera"].phone, "thanks, I'm at home")  # a member's own follow-up is relayed too
    rt.sender.stop()
    assert any("I'm at home" in b for b in transport.to(team["chen"].phone))


def test_a_member_in_their_own_talk_who_writes_no_is_relayed_not_taken_for_a_pass(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, team["rivera"].phone, "TALK")
    text(twilio, team["chen"].phone, "1")
    reply = text(twilio, team["rivera"].phone, "No worries, I'm OK now")
    assert "no open page" not in reply
    rt.sender.stop()
    assert any("No worries, I'm OK now" in b for b in transport.to(team["chen"].phone))


def test_who_with_a_question_mark_is_who(rt: Any, twilio: TwilioClient, team: dict[str, Member]) -> None:
    assert "On call now: Rivera" in text(twilio, team["nguyen"].phone, "who?")


def test_done_with_two_areas_asks_for_one_and_closes_nothing(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, REQUESTER, "hello")
    text(twilio, team["rivera"].phone, "1")
    assert "One area" in text(twilio, team["rivera"].phone, "DONE work family")
    assert requests(rt)[0].status == "accepted"


def test_away_longer_than_a_year_says_how_long_it_may_be(
    rt: Any, twilio: TwilioClient, team: dict[str, Member]
) -> None:
    assert "from 1m to 365d" in text(twilio, team["rivera"].phone, "AWAY 400d")


def test_a_requester_whose_peer_opted_out_of_texts_is_told_the_peer_has_it(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, REQUESTER, "hello")
    text(twilio, team["rivera"].phone, "1")
    twilio.sms(team["rivera"].phone, "STOP", OptOutType="STOP")
    reply = text(twilio, REQUESTER, "are you calling?")
    assert "has your request" in reply and "still reaching" not in reply


def test_help_lists_the_commands_each_role_may_use(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    peer = text(twilio, team["rivera"].phone, "?")
    dispatch = text(twilio, team["brooks"].phone, "HELP")
    assert "AWAY" in peer and "DEBRIEF" not in peer
    assert "DEBRIEF" in dispatch and "AWAY" not in dispatch
    assert "Only dispatch" in text(twilio, team["rivera"].phone, "PAGE someone please")


def test_page_from_dispatch_gives_the_peer_the_note_and_callback(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    reply = text(twilio, team["brooks"].phone, "PAGE Ofc. needs a call, at the hospital")
    assert "Paging the on-call peer" in reply
    send(rt)
    text(twilio, team["rivera"].phone, "1")
    accepted = last_to(rt, transport, team["rivera"].phone)
    assert "at the hospital" in accepted and team["brooks"].phone in accepted
    assert any("Rivera accepted" in b for b in transport.to(team["brooks"].phone))
    assert requests(rt)[0].kind == "dispatch"


def test_a_director_who_pages_for_someone_is_never_paged_for_it(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    with rt.sessions() as session, session.begin():  # nobody before the director: theirs is the first step
        for name in ("rivera", "chen", "ortiz"):
            session.get(Member, team[name].id).away_until = clock.now + timedelta(days=1)
        session.get(Member, team["patel"].id).opted_out = True
    text(twilio, team["nguyen"].phone, "PAGE Ofc. Lee at the hospital, call me")
    send(rt)
    [request] = requests(rt)
    assert request.status == "exhausted"
    assert team["nguyen"].id not in {p.member_id for p in request.pages}
    assert not any("Reply 1 to accept" in b for b in transport.to(team["nguyen"].phone))


def test_an_opted_out_member_is_not_paged_and_the_director_is_told(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(team["rivera"].phone, "STOP", OptOutType="STOP")
    send(rt)
    assert any("opted out" in b for b in transport.to(team["nguyen"].phone))
    text(twilio, REQUESTER, "hello")
    send(rt)
    assert transport.to(team["rivera"].phone) == []
    twilio.sms(team["rivera"].phone, "START", OptOutType="START")
    text(twilio, OTHER, "hello")
    send(rt)
    assert len(transport.to(team["rivera"].phone)) == 1


def is_opted_out(rt: Any, member: Member) -> bool:
    with rt.sessions() as session:
        return bool(session.get(Member, member.id).opted_out)


def test_a_requester_whose_help_twilio_tags_as_a_keyword_still_gets_the_crisis_lines_and_a_peer(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    reply = twilio.sms(REQUESTER, "HELP", OptOutType="HELP").get_data(as_text=True)
    assert "988" in reply and "911" in reply
    send(rt)
    assert len(requests(rt)) == 1 and len(transport.to(team["rivera"].phone)) == 1


def test_a_members_help_tagged_as_a_keyword_lists_the_commands_and_opts_nobody_out(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    reply = twilio.sms(team["rivera"].phone, "HELP", OptOutType="HELP").get_data(as_text=True)
    assert "Commands:" in reply
    send(rt)
    assert not is_opted_out(rt, team["rivera"])
    assert not any("opted out" in b for b in transport.to(team["nguyen"].phone))


def test_a_yes_that_twilio_tags_as_an_opt_in_still_accepts_the_page(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, REQUESTER, "hello")
    twilio.sms(team["rivera"].phone, "YES", OptOutType="START")
    assert REQUESTER in last_to(rt, transport, team["rivera"].phone)
    [request] = requests(rt)
    assert request.status == "accepted" and request.accepted_by.name == "Rivera"


def test_start_after_stop_opts_the_member_back_in_and_answers_nothing_itself(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(team["rivera"].phone, "STOP", OptOutType="STOP")
    assert is_opted_out(rt, team["rivera"])
    reply = twilio.sms(team["rivera"].phone, "START", OptOutType="START").get_data(as_text=True)
    assert "<Message>" not in reply  # Twilio confirms the opt-in itself
    assert not is_opted_out(rt, team["rivera"])
    assert requests(rt) == []


def test_a_caller_id_that_phonenumbers_does_not_know_yet_is_still_answered(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    reply = text(twilio, "+447700900123", "can someone call me")  # possible, not in phonenumbers' metadata
    assert "988" in reply
    assert len(requests(rt)) == 1


def test_an_accepted_request_left_open_gets_a_reminder_then_closes_as_unspecified(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, REQUESTER, "hello")
    text(twilio, team["rivera"].phone, "1")
    clock.advance(hours=2, seconds=1)
    schedules.slow(rt)
    send(rt)
    assert any("Reminder" in b for b in transport.to(team["rivera"].phone))
    clock.advance(hours=70)
    schedules.slow(rt)
    [request] = requests(rt)
    assert request.status == "closed" and request.closed_reason == "unspecified"


def test_codes_are_unique_among_open_requests(rt: Any, twilio: TwilioClient, team: dict[str, Member]) -> None:
    for i in range(40):
        text(twilio, f"+1432555{6000 + i:04d}", "hello")
    codes = [r.code for r in requests(rt)]
    assert len(set(codes)) == 40


def test_an_exhausted_requester_is_told_the_director_knows_and_a_peer_may_still_answer(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, REQUESTER, "hello")
    passes = [text(twilio, team[name].phone, "2") for name in ("rivera", "chen", "ortiz", "patel", "nguyen")]
    send(rt)
    [request] = requests(rt)
    told = transport.to(REQUESTER)[-1]
    assert request.status == "exhausted"
    assert "director has been alerted" in told and "may still take it" in told and "988" in told
    assert "keep trying" not in told and "answered yet" not in told  # nobody more is paged
    assert all("paging the next person" in reply for reply in passes[:-1])
    assert f"passed on {request.code}. Nobody is left to page." in passes[-1]  # the director's, the last
    assert "paging the next" not in passes[-1] and "director was alerted" not in passes[-1]
    assert any(f"ALERT {request.code}" in body for body in transport.to(team["nguyen"].phone))


def test_an_exhausted_requester_of_a_team_without_a_reachable_director_is_not_told_one_knows(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(team["nguyen"].phone, "STOP", OptOutType="STOP")
    text(twilio, REQUESTER, "hello")
    for name in ("rivera", "chen", "ortiz", "patel"):
        text(twilio, team[name].phone, "2")
    send(rt)
    told = transport.to(REQUESTER)[-1]
    assert "director" not in told and "may still take it" in told and "911" in told


def test_release_with_nobody_left_to_page_says_so_and_the_releaser_may_take_it_back(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    with rt.sessions() as session, session.begin():
        for name in ("chen", "ortiz"):
            session.get(Member, team[name].id).away_until = clock.now + timedelta(days=1)
        session.get(Member, team["patel"].id).opted_out = True
    text(twilio, REQUESTER, "hello")
    text(twilio, team["rivera"].phone, "2")  # the director is next, and takes it
    text(twilio, team["nguyen"].phone, "1")
    [request] = requests(rt)
    reply = text(twilio, team["nguyen"].phone, "RELEASE")
    assert f"Released {request.code}, but nobody is left to page" in reply
    assert "paging the next" not in reply and f"Reply 1 {request.code}" in reply
    assert requests(rt)[0].status == "exhausted"
    send(rt)  # the alert first: last_to reads the last text
    text(twilio, team["nguyen"].phone, f"1 {request.code}")
    assert REQUESTER in last_to(rt, transport, team["nguyen"].phone)
    assert requests(rt)[0].accepted_by.name == "Lt. Nguyen"


def test_done_without_a_code_from_a_member_holding_two_asks_which_request(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, REQUESTER, "hello")
    text(twilio, team["rivera"].phone, "1")
    text(twilio, OTHER, "hello")
    text(twilio, team["rivera"].phone, "1")
    codes = [r.code for r in requests(rt)]
    reply = text(twilio, team["rivera"].phone, "DONE work")
    assert "You hold 2 requests" in reply and all(code in reply for code in codes)
    assert "open pages" not in reply
    assert "You hold 2 requests" in text(twilio, team["rivera"].phone, "RELEASE")
    assert [r.status for r in requests(rt)] == ["accepted", "accepted"]


# --- one member's YES and NO: the first answer stands, the other is told so (issue 10: 6) --------------


@pytest.mark.parametrize("with_code", [False, True])
def test_a_no_after_ones_own_yes_keeps_the_request_and_says_it_is_theirs(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    team: dict[str, Member],
    clock: Clock,
    with_code: bool,
) -> None:
    text(twilio, REQUESTER, "hello")
    text(twilio, team["rivera"].phone, "1")
    code = requests(rt)[0].code
    reply = text(twilio, team["rivera"].phone, f"2 {code}" if with_code else "2")
    assert f"You accepted {code}: it's yours" in reply and f"RELEASE {code}" in reply
    assert "passed" not in reply and "paging" not in reply
    send(rt)
    [request] = requests(rt)
    assert request.status == "accepted" and request.accepted_by.name == "Rivera"
    assert [p.member_id for p in request.pages] == [team["rivera"].id]  # nobody else was paged
    assert transport.to(team["chen"].phone) == []


@pytest.mark.parametrize("with_code", [False, True])
def test_a_yes_after_ones_own_no_is_told_the_pass_stands_while_others_are_paged(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    team: dict[str, Member],
    clock: Clock,
    with_code: bool,
) -> None:
    text(twilio, REQUESTER, "hello")
    assert "We're paging the next person" in text(twilio, team["rivera"].phone, "2")
    code = requests(rt)[0].code
    reply = text(twilio, team["rivera"].phone, f"1 {code}" if with_code else "1")
    assert f"You passed on {code} first" in reply and REQUESTER not in reply
    assert f"You already passed on {code}" in text(twilio, team["rivera"].phone, "2")
    send(rt)
    [request] = requests(rt)
    assert request.status == "open" and request.accepted_by is None
    assert REQUESTER not in "".join(transport.to(team["rivera"].phone))
    assert not any("Stand down" in body for body in transport.to(team["chen"].phone))  # Chen's page stands
    text(twilio, team["chen"].phone, "1")
    assert REQUESTER in last_to(rt, transport, team["chen"].phone)


def test_once_nobody_is_left_a_member_who_passed_may_still_take_it_with_its_code(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, REQUESTER, "hello")
    for name in ("rivera", "chen", "ortiz", "patel", "nguyen"):
        text(twilio, team[name].phone, "2")
    [request] = requests(rt)
    assert request.status == "exhausted"
    assert f"nobody has taken it. To take it after all, reply 1 {request.code}" in text(
        twilio, team["rivera"].phone, "1"
    )
    assert requests(rt)[0].accepted_by is None  # a bare 1 takes nothing it was not asked about
    send(rt)
    assert "<Message>" not in text(twilio, team["rivera"].phone, f"1 {request.code}")
    assert REQUESTER in last_to(rt, transport, team["rivera"].phone)
    assert requests(rt)[0].accepted_by.name == "Rivera"
