"""DEBRIEF by SMS through the real webhook and engine: page everyone, tally, widen, end (hand-moved clock)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callout import debrief, messages
from callout.config import Config
from callout.models import Member, Page, Request, Team
from callout.transport import TransportError
from tests.conftest import (
    NOW,
    Clock,
    RecordingTransport,
    TwilioClient,
    make_config,
    make_member,
    send,
    team_table,
    tick,
)
from tests.test_messages import GSM7

NOTE = "OIS debrief 19:00 at Station 2"
PAGE = "Reply 1 = I'll be there, 2 = I can't"


@pytest.fixture
def config(database_url: str) -> Config:
    settings = {"window": "1h", "min_responders": 2, "widen_after": "10m", "tally_every": "30s"}
    return make_config(database_url, team_table(debrief=settings))


@pytest.fixture
def roster(rt: Any) -> dict[str, Member]:
    with rt.sessions() as session, session.begin():
        team = session.scalar(select(Team).where(Team.slug == "odessa"))
        members = {
            "rivera": make_member(session, team, "Rivera", skills=["post-shooting", "k9"]),
            "chen": make_member(session, team, "Chen", skills=["Post-Shooting"]),
            "ortiz": make_member(session, team, "Ortiz"),
            "park": make_member(session, team, "Park"),
            "kim": make_member(session, team, "Kim", away_until=NOW + timedelta(days=3)),
            "lopez": make_member(session, team, "Lopez", opted_out=True),
            "old": make_member(session, team, "Old", active=False, skills=["hostage"]),
            "patel": make_member(session, team, "Dr. Patel", role="psychologist"),
            "nguyen": make_member(session, team, "Lt. Nguyen", role="director"),
            "diaz": make_member(session, team, "Diaz", role="dispatch"),
        }
    return members


def pages(transport: RecordingTransport, member: Member) -> list[str]:
    return [b for b in transport.to(member.phone) if PAGE in b]


def the_debrief(rt: Any) -> Request:
    with rt.sessions() as session:
        found = session.scalar(select(Request).where(Request.kind == "debrief"))
        assert found is not None
        _ = [(p.state, p.member.name) for p in found.pages]
        return found


def call_out(rt: Any, twilio: TwilioClient, roster: dict[str, Member], text: str = f"DEBRIEF {NOTE}") -> str:
    twilio.sms(roster["diaz"].phone, text)
    send(rt)
    return the_debrief(rt).code


def said(response: Any) -> str:
    return str(response.get_data(as_text=True))


def page_of(code: str) -> str:
    return messages.debrief_page(code, NOTE, "11:00 CDT")  # NOW is 10:00 CDT; the window is 1 h


def said_twiml(text: str) -> str:
    from webhooks.sms import twiml

    return str(twiml(text).get_data(as_text=True))


def test_it_pages_every_available_peer_at_once_and_tells_the_director(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    reply = said(twilio.sms(roster["diaz"].phone, f"DEBRIEF {NOTE}"))
    send(rt)
    code = the_debrief(rt).code
    assert f"DEBRIEF {code}: paging 4 members now" in reply
    for name in ("rivera", "chen", "ortiz", "park"):
        assert pages(transport, roster[name]) == [page_of(code)], name
    for name in ("kim", "lopez", "old", "patel", "diaz"):
        assert transport.to(roster[name].phone) == [], name
    notice = transport.to(roster["nguyen"].phone)
    assert notice == [f"DEBRIEF {code} called by Diaz (all peers, 4 paged): {NOTE}"]


def test_a_debrief_page_carries_the_note_and_the_end_of_the_call_out_not_an_answer_timeout(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster)
    [page] = transport.to(roster["rivera"].phone)
    assert page == (
        f"DEBRIEF {code}: OIS debrief 19:00 at Station 2. Reply 1 = I'll be there, 2 = I can't."
        " Call-out open until 11:00 CDT."
    )
    assert "to answer" not in page and "accept" not in page and roster["diaz"].phone not in page
    assert messages.debrief_page(code, "Debrief at HQ!", "Wed 11 Mar 01:00 CDT").startswith(
        f"DEBRIEF {code}: Debrief at HQ! Reply"
    )


def test_it_pages_only_the_peers_with_the_skill(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster, f"DEBRIEF #POST-shooting {NOTE}")
    assert len(pages(transport, roster["rivera"])) == len(pages(transport, roster["chen"])) == 1
    assert pages(transport, roster["ortiz"]) == pages(transport, roster["park"]) == []
    assert (
        f"DEBRIEF {code} called by Diaz (#post-shooting peers, 2 paged)"
        in transport.to(roster["nguyen"].phone)[0]
    )
    assert the_debrief(rt).skill == "post-shooting"


def test_it_pages_every_peer_at_once_when_too_few_have_the_skill(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    reply = said(twilio.sms(roster["diaz"].phone, f"DEBRIEF #k9 {NOTE}"))
    send(rt)
    assert "paging 4 members" in reply
    for name in ("rivera", "chen", "ortiz", "park"):
        assert len(pages(transport, roster[name])) == 1, name
    code = the_debrief(rt).code  # the director is told the group actually paged, not just the skill's
    notice = f"DEBRIEF {code} called by Diaz (#k9 peers, then all peers, 4 paged): {NOTE}"
    assert transport.to(roster["nguyen"].phone) == [notice]


@pytest.mark.parametrize("skill", ["hostage", "negotiator"])
def test_it_refuses_a_skill_no_active_peer_has(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock, skill: str
) -> None:
    reply = said(twilio.sms(roster["diaz"].phone, f"DEBRIEF #{skill} {NOTE}"))
    assert f"No active peer has #{skill}" in reply and "#post-shooting" in reply
    with rt.sessions() as session:
        assert session.scalar(select(Request)) is None


@pytest.mark.parametrize("who", ["rivera", "patel"])
def test_it_refuses_a_debrief_from_anyone_but_dispatch_and_the_director(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], who: str
) -> None:
    reply = said(twilio.sms(roster[who].phone, f"DEBRIEF {NOTE}"))
    assert "Only dispatch and the director can PAGE or DEBRIEF" in reply
    send(rt)
    with rt.sessions() as session:
        assert session.scalar(select(Request)) is None
    assert transport.sms == []


def test_a_director_may_call_a_debrief_and_is_not_paged_for_it(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    reply = said(twilio.sms(roster["nguyen"].phone, f"DEBRIEF {NOTE}"))
    send(rt)
    assert "paging 4 members" in reply
    assert transport.to(roster["nguyen"].phone) == []  # neither paged nor told of their own debrief


def test_a_strangers_debrief_text_is_a_support_request(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member]
) -> None:
    reply = said(twilio.sms("+14325559876", "DEBRIEF everyone now"))
    assert "988" in reply
    with rt.sessions() as session:
        assert session.scalar(select(Request.kind)) == "support"


def test_it_gives_responders_the_note_and_whom_to_call(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster)
    yes = said(twilio.sms(roster["rivera"].phone, "1"))
    assert yes == said_twiml(messages.debrief_yes(code, NOTE, roster["diaz"].phone))
    no = said(twilio.sms(roster["chen"].phone, f"2 {code}"))
    assert f"unable for DEBRIEF {code}" in no and NOTE not in no
    states = {p.member.name: p.state for p in the_debrief(rt).pages}
    assert states == {"Rivera": "accepted", "Chen": "declined", "Ortiz": "pending", "Park": "pending"}


def test_it_sends_the_initiator_an_aggregated_running_tally(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster)
    twilio.sms(roster["rivera"].phone, "1")
    twilio.sms(roster["chen"].phone, "YES")
    twilio.sms(roster["ortiz"].phone, "2")
    tick(rt)
    tally = f"DEBRIEF {code}: 2 responding: Rivera, Chen; 1 unable; 1 no answer yet."
    assert transport.to(roster["diaz"].phone) == [tally]
    clock.advance(seconds=10)
    twilio.sms(roster["park"].phone, "1")
    tick(rt)
    assert len(transport.to(roster["diaz"].phone)) == 1  # the next tally waits for tally_every
    clock.advance(seconds=21)
    tick(rt)
    clock.advance(seconds=40)
    tick(rt)
    assert transport.to(roster["diaz"].phone)[1:] == [
        f"DEBRIEF {code}: 3 responding: Rivera, Chen, Park; 1 unable."
    ]
    assert not any(code in b and "responding" in b for b in transport.to(roster["nguyen"].phone))


def test_two_ticks_at_once_send_one_tally(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    call_out(rt, twilio, roster)
    twilio.sms(roster["rivera"].phone, "1")
    with rt.sessions() as first, rt.sessions() as second:
        debrief.run_due(first, rt.env, clock.now)
        first.commit()
        debrief.run_due(second, rt.env, clock.now)
        second.commit()
    send(rt)
    assert len(transport.to(roster["diaz"].phone)) == 1


def test_a_change_of_mind_counts_once(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster)
    twilio.sms(roster["rivera"].phone, "1")
    twilio.sms(roster["rivera"].phone, f"1 {code}")
    twilio.sms(roster["rivera"].phone, f"2 {code}")
    tick(rt)
    assert transport.to(roster["diaz"].phone) == [f"DEBRIEF {code}: 0 responding; 1 unable; 3 no answer yet."]


def test_the_director_may_respond_without_being_paged(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster)
    reply = said(twilio.sms(roster["nguyen"].phone, f"1 {code}"))
    assert f"responding to DEBRIEF {code}" in reply
    assert debrief.tally(the_debrief(rt)).yes == ["Lt. Nguyen"]


def test_the_initiator_cannot_answer_their_own_debrief(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster, f"DEBRIEF {NOTE}")
    with rt.sessions() as session, session.begin():
        request = session.scalar(select(Request))
        diaz = session.get(Member, roster["diaz"].id)
        assert request is not None and diaz is not None
        answer = debrief.respond(session, rt.env, clock.now, diaz, request, yes=True)
    assert answer == messages.debrief_own(code)
    assert debrief.tally(the_debrief(rt)).yes == []


def test_it_widens_to_every_peer_then_to_the_fallback_when_too_few_say_yes(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster, f"DEBRIEF #post-shooting {NOTE}")
    twilio.sms(roster["rivera"].phone, "1")
    clock.advance(minutes=9, seconds=59)
    tick(rt)
    assert pages(transport, roster["ortiz"]) == []
    clock.advance(seconds=2)
    tick(rt)
    assert len(pages(transport, roster["ortiz"])) == len(pages(transport, roster["park"])) == 1
    widened = f"DEBRIEF {code}: 1 of 2 needed responding; now also paging all peers (2 more)."
    assert widened in transport.to(roster["diaz"].phone)
    assert widened in transport.to(roster["nguyen"].phone)
    assert pages(transport, roster["patel"]) == []
    clock.advance(minutes=10, seconds=1)
    tick(rt)
    assert len(pages(transport, roster["patel"])) == len(pages(transport, roster["nguyen"])) == 1
    assert pages(transport, roster["chen"]) == pages(transport, roster["rivera"]) == [page_of(code)]
    fallback = f"DEBRIEF {code}: 1 of 2 needed responding; now also paging the fallback roles (2 more)."
    assert fallback in transport.to(roster["diaz"].phone)
    clock.advance(minutes=10, seconds=1)
    tick(rt)
    short = messages.debrief_short(code, 1, 2)
    assert transport.to(roster["diaz"].phone).count(short) == 1
    clock.advance(minutes=10, seconds=1)
    tick(rt)
    assert transport.to(roster["diaz"].phone).count(short) == 1  # told once
    assert pages(transport, roster["kim"]) == pages(transport, roster["diaz"]) == []


def test_it_widens_at_once_when_passes_leave_too_few(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster, f"DEBRIEF #post-shooting {NOTE}")
    twilio.sms(roster["chen"].phone, "2")
    clock.advance(seconds=1)
    tick(rt)
    assert len(pages(transport, roster["ortiz"])) == 1
    assert f"DEBRIEF {code}: 0 of 2 needed responding; now also paging all peers (2 more)." in transport.to(
        roster["diaz"].phone
    )


def test_it_stops_widening_once_enough_say_yes(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    call_out(rt, twilio, roster, f"DEBRIEF #post-shooting {NOTE}")
    twilio.sms(roster["rivera"].phone, "1")
    twilio.sms(roster["chen"].phone, "1")
    clock.advance(minutes=30)
    tick(rt)
    assert pages(transport, roster["ortiz"]) == pages(transport, roster["patel"]) == []
    assert the_debrief(rt).step_deadline is None  # nothing due, so /healthz sees nothing overdue


def test_a_change_of_mind_that_leaves_too_few_widens_again(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster)
    twilio.sms(roster["rivera"].phone, "1")
    twilio.sms(roster["chen"].phone, "1")
    clock.advance(minutes=15)
    tick(rt)
    twilio.sms(roster["chen"].phone, f"2 {code}")
    tick(rt)
    clock.advance(minutes=9)
    tick(rt)
    assert pages(transport, roster["patel"]) == []  # Ortiz and Park may still say yes
    clock.advance(minutes=1, seconds=1)
    tick(rt)
    assert len(pages(transport, roster["patel"])) == 1


def test_a_change_of_mind_that_leaves_too_few_reachable_widens_at_once(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster, f"DEBRIEF #post-shooting {NOTE}")
    twilio.sms(roster["rivera"].phone, "1")
    twilio.sms(roster["chen"].phone, "1")
    clock.advance(minutes=15)
    tick(rt)
    twilio.sms(roster["chen"].phone, f"2 {code}")
    tick(rt)
    assert len(pages(transport, roster["ortiz"])) == 1


def test_it_ends_after_the_window_and_tells_the_initiator_and_director(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster)
    twilio.sms(roster["rivera"].phone, "1")
    twilio.sms(roster["chen"].phone, "1")
    clock.advance(minutes=59, seconds=59)
    tick(rt)
    assert the_debrief(rt).status == "open"
    clock.advance(seconds=1)
    tick(rt)
    request = the_debrief(rt)
    assert (request.status, request.closed_reason) == ("closed", "window")
    assert request.purge_at is not None
    assert {p.state for p in request.pages} == {"accepted", "closed"}
    final = f"Ended. DEBRIEF {code}: 2 responding: Rivera, Chen; 0 unable."
    assert transport.to(roster["diaz"].phone)[-1] == final
    assert transport.to(roster["nguyen"].phone)[-1] == final
    late = said(twilio.sms(roster["ortiz"].phone, f"1 {code}"))
    assert f"DEBRIEF {code} is over" in late
    assert said(twilio.sms(roster["park"].phone, "1")).count("no open page") == 1


def test_it_ends_on_done_from_the_initiator_only(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster)
    twilio.sms(roster["rivera"].phone, "1")
    for who in ("rivera", "nguyen"):
        refused = said(twilio.sms(roster[who].phone, f"DONE {code}"))
        assert f"Only the one who called DEBRIEF {code} can end it" in refused
    assert the_debrief(rt).status == "open"
    done = said(twilio.sms(roster["diaz"].phone, f"done {code}"))
    assert f"Ended. DEBRIEF {code}: 1 responding: Rivera; 0 unable." in done
    request = the_debrief(rt)
    assert (request.status, request.closed_reason) == ("closed", "done")
    assert f"DEBRIEF {code} is over" in said(twilio.sms(roster["diaz"].phone, f"DONE {code}"))
    send(rt)
    assert transport.to(roster["nguyen"].phone)[-1].startswith("Ended.")
    clock.advance(hours=2)
    tick(rt)
    assert not any(b.startswith("Ended.") for b in transport.to(roster["diaz"].phone))  # the reply said it


def test_a_page_that_cannot_be_delivered_does_not_escalate_like_a_support_request(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    transport.fail[roster["rivera"].phone] = TransportError("invalid number", permanent=True, code=21211)
    call_out(rt, twilio, roster)
    request = the_debrief(rt)
    states = {p.member.name: p.state for p in request.pages}
    assert states["Rivera"] == "failed" and len(request.pages) == 4 and request.step == 1
    tick(rt)
    assert pages(transport, roster["patel"]) == []  # three can still say yes: no need to widen


def test_it_never_phones_for_a_debrief(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    call_out(rt, twilio, roster)
    clock.advance(minutes=3)
    tick(rt)
    assert transport.calls == []


def test_it_counts_responders_and_the_unable_in_the_report(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    from callout.report import build_report

    code = call_out(rt, twilio, roster)
    twilio.sms(roster["rivera"].phone, "1")
    twilio.sms(roster["chen"].phone, "1")
    twilio.sms(roster["ortiz"].phone, "2")
    twilio.sms(roster["diaz"].phone, f"DONE {code}")
    with rt.sessions() as session:
        figures = build_report(session, ["odessa"], NOW.date(), NOW.date()).teams[0].total
    assert (figures.debriefs, figures.debrief_responders, figures.debrief_unable) == (1, 2, 1)
    assert dict(figures.by_kind)["debrief"] == 1 and figures.accepted == 0


def test_debrief_texts_fit_one_segment() -> None:
    texts = [
        messages.debrief_page("K7QD", "OIS debrief 19:00 at Station 2, room 4", "Wed 11 Mar 01:00 CDT"),
        messages.debrief_no("K7QD"),
        messages.debrief_over("K7QD"),
        messages.debrief_own("K7QD"),
        messages.debrief_not_yours("K7QD"),
        messages.debrief_widened("K7QD", 1, 2, "the fallback roles", 2),
        messages.debrief_short("K7QD", 1, 2),
        messages.debrief_tally("K7QD", ["Ofc. Dana Rivera", "Sgt. Li Chen"], 1, 12),
    ]
    for text in texts:
        assert len(text) <= 160 and set(text) <= GSM7, text


def test_a_big_tally_names_the_first_and_counts_the_rest() -> None:
    names = [f"Officer Number {i}" for i in range(60)]
    text = messages.debrief_tally("K7QD", names, 3, 0)
    assert text.startswith("DEBRIEF K7QD: 60 responding: Officer Number 0, ")
    assert "more; 3 unable." in text and len(text) < 360


def test_the_window_is_measured_from_the_opening(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    call_out(rt, twilio, roster)
    request = the_debrief(rt)
    assert request.opened_at == NOW and request.step_deadline == NOW + timedelta(minutes=10)
    with rt.sessions() as session:
        assert session.scalar(select(Page.tier).distinct()) == "debrief"


# -- two processes at once: every worker's scheduler runs run_due, and replies are handled side by side --


def loaded(rt: Any) -> tuple[Session, Request, dict[int, Member]]:
    """Return another process's session that has read the debrief, its pages and the members.

    Its transaction is over (so SQLite lets this process write) but its objects stay as it read them, as a
    process's do on PostgreSQL while another commits between its reads and its writes.
    """
    session = rt.sessions()
    request = session.scalar(select(Request).where(Request.kind == "debrief"))
    assert request is not None
    _ = [(p.state, p.member.name) for p in request.pages], request.team, request.initiator
    members = {m.id: m for m in session.scalars(select(Member))}
    # The identity map holds objects weakly: keep them, pages too, as the other process's code would.
    session.info["held"] = (request, list(request.pages), members)
    session.commit()
    return session, request, members


def test_a_widen_another_process_made_first_says_nothing(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster)
    clock.advance(minutes=10, seconds=1)
    other, _, _ = loaded(rt)  # the other worker's tick has read the debrief, due to widen ...
    tick(rt)  # ... when this worker's tick widens it
    debrief.run_due(other, rt.env, clock.now)
    other.commit()
    other.close()
    send(rt)
    widened = f"DEBRIEF {code}: 0 of 2 needed responding; now also paging the fallback roles (2 more)."
    assert transport.to(roster["diaz"].phone) == [widened]  # not "everyone we can reach has been paged"
    assert len(pages(transport, roster["patel"])) == 1
    assert the_debrief(rt).step_deadline == clock.now + timedelta(minutes=10)


def test_two_processes_say_once_that_nobody_is_left_and_leave_nothing_due(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster)
    clock.advance(minutes=10, seconds=1)
    tick(rt)  # the fallback roles are paged: every stage is out
    for name in ("ortiz", "park", "patel", "nguyen"):
        twilio.sms(roster[name].phone, f"2 {code}")
    for name in ("rivera", "chen"):
        twilio.sms(roster[name].phone, f"1 {code}")
    tick(rt)  # enough say yes: nothing is due
    twilio.sms(roster["chen"].phone, f"2 {code}")  # only Rivera is left
    other, _, _ = loaded(rt)
    tick(rt)
    debrief.run_due(other, rt.env, clock.now)
    other.commit()
    other.close()
    send(rt)
    short = messages.debrief_short(code, 1, 2)
    assert transport.to(roster["diaz"].phone).count(short) == 1
    assert transport.to(roster["nguyen"].phone).count(short) == 1
    request = the_debrief(rt)
    assert request.step == 3 and request.step_deadline is None  # /healthz never sees it overdue


def test_an_answer_made_while_a_tally_goes_out_is_in_the_next_tally(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster)
    twilio.sms(roster["rivera"].phone, "1")  # a tally is due
    replying, request, members = loaded(rt)  # Chen's YES has read the debrief ...
    clock.advance(seconds=1)
    tick(rt)  # ... when the tally of Rivera alone goes out
    debrief.respond(replying, rt.env, clock.now, members[roster["chen"].id], request, yes=True)
    replying.commit()
    replying.close()
    clock.advance(seconds=30)
    tick(rt)
    assert transport.to(roster["diaz"].phone) == [
        f"DEBRIEF {code}: 1 responding: Rivera; 0 unable; 3 no answer yet.",
        f"DEBRIEF {code}: 2 responding: Rivera, Chen; 0 unable; 2 no answer yet.",
    ]


def test_a_tally_counts_an_answer_recorded_after_its_tick_read_the_debrief(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster)
    twilio.sms(roster["rivera"].phone, "1")
    clock.advance(seconds=1)
    ticking, _, _ = loaded(rt)  # a tick has read the debrief and its pages ...
    twilio.sms(roster["chen"].phone, "1")  # ... when Chen's YES is recorded
    debrief.run_due(ticking, rt.env, clock.now)
    ticking.commit()
    ticking.close()
    clock.advance(seconds=31)
    tick(rt)
    assert transport.to(roster["diaz"].phone) == [
        f"DEBRIEF {code}: 2 responding: Rivera, Chen; 0 unable; 2 no answer yet."
    ]


def test_an_answer_recorded_while_the_debrief_ends_is_kept_and_counted(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster)
    clock.advance(hours=1)
    closing, _, _ = loaded(rt)  # the tick that ends the debrief has read it ...
    twilio.sms(roster["rivera"].phone, "1")  # ... when Rivera's YES is recorded
    debrief.run_due(closing, rt.env, clock.now)
    closing.commit()
    closing.close()
    send(rt)
    assert transport.to(roster["diaz"].phone)[-1] == f"Ended. DEBRIEF {code}: 1 responding: Rivera; 0 unable."
    states = {p.member.name: p.state for p in the_debrief(rt).pages}
    assert states == {"Rivera": "accepted", "Chen": "closed", "Ortiz": "closed", "Park": "closed"}


def test_an_answer_to_a_debrief_that_ended_meanwhile_is_not_recorded(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster)
    replying, request, members = loaded(rt)  # Rivera's YES has read the open debrief ...
    twilio.sms(roster["diaz"].phone, f"DONE {code}")  # ... when Diaz ends it
    answer = debrief.respond(replying, rt.env, clock.now, members[roster["rivera"].id], request, yes=True)
    replying.commit()
    replying.close()
    assert answer == messages.debrief_over(code)
    assert {p.state for p in the_debrief(rt).pages} == {"closed"}


def test_two_answers_from_the_director_at_once_make_one_page(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    code = call_out(rt, twilio, roster)
    replying, request, members = loaded(rt)  # the director's NO has read the debrief ...
    twilio.sms(roster["nguyen"].phone, f"1 {code}")  # ... when their YES is recorded
    answer = debrief.respond(replying, rt.env, clock.now, members[roster["nguyen"].id], request, yes=False)
    replying.commit()
    replying.close()
    assert answer == messages.debrief_no(code)
    mine = [p.state for p in the_debrief(rt).pages if p.member_id == roster["nguyen"].id]
    assert mine == ["declined"]
