"""SHIFTS, TEST and the notices ahead, through the real webhook with a hand-moved clock (Tue 10 March 2026,
10:00 in Odessa; Rivera primary today, then Park, then Moss)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

import schedules
import service
from callout import messages, notices, rotation, shifts
from callout.housekeeping import handoff_notices
from callout.models import Member, Request, Team
from callout.segments import segments
from tests.conftest import Clock, RecordingTransport, TwilioClient, add_roster, make_config, send, team_table

CHICAGO = ZoneInfo("America/Chicago")
REQUESTER = "+14325559876"
WEDNESDAY = datetime(2026, 3, 11, 7, tzinfo=CHICAGO)


@pytest.fixture
def team(rt: Any, clock: Clock) -> dict[str, Member]:
    roster = add_roster(
        rt,
        rivera=("Ofc. Dana Rivera", "peer"),
        park=("Sgt. Lee Park", "peer"),
        moss=("Det. Kim Moss", "peer"),
        cruz=("Dr. Ana Cruz", "psychologist"),
        ortiz=("Lt. Ray Ortiz", "director"),
    )

    def anchor(session: Any, env: Any, now: datetime) -> None:
        rotation.ensure_anchor(session, session.scalar(select(Team)), now)

    rt.run(anchor)
    return roster


def text(twilio: TwilioClient, sender: str, body: str) -> str:
    response = twilio.sms(sender, body)
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


# --- SHIFTS -----------------------------------------------------------------------------------------


def test_shifts_lists_the_next_three_and_the_calendar_link(
    app: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    reply = text(twilio, team["park"].phone, "shifts")
    assert (
        "Your next shifts: Wed 11 Mar 07:00 CDT to Thu 12 Mar 07:00 CDT; Sat 14 Mar 07:00 CDT to Sun 15 Mar"
        " 07:00 CDT; Tue 17 Mar 07:00 CDT to Wed 18 Mar 07:00 CDT." in reply
    )
    link = reply.split("Your calendar: ")[1].split("<")[0]
    assert link.startswith("https://peer.example.org/calendar/") and link.endswith(".ics")
    assert app.test_client().get(link.removeprefix("https://peer.example.org")).status_code == 200
    assert link in text(twilio, team["park"].phone, "SHIFTS")  # the same link each time


def test_shifts_of_the_primary_starts_with_the_shift_running(
    twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    assert "Your next shifts: Tue 10 Mar 07:00 CDT to Wed 11 Mar 07:00 CDT;" in text(
        twilio, team["rivera"].phone, "SHIFTS"
    )


def test_shifts_of_a_member_off_the_rotation_says_so(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    # The psychologist is paged after the peers (the fallback): "no shifts" must not read as "never paged".
    assert (
        "You have no shifts as first to be paged; as the psychologist you're paged whenever the peers on call"
        " don't answer. Your calendar: https://" in text(twilio, team["cruz"].phone, "SHIFTS")
    )
    with rt.sessions() as session, session.begin():
        session.get(Member, team["moss"].id).active = False
        session.add(
            Member(team_id=team["moss"].team_id, name="Brooks", phone="+14325550188", role="dispatch")
        )
    assert "You have no on-call shifts in the next 90 days. Your calendar: https://" in text(
        twilio, "+14325550188", "SHIFTS"
    )


# --- TEST -------------------------------------------------------------------------------------------


def test_a_test_page_goes_like_a_real_one_and_a_1_confirms_it(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    reply = text(twilio, team["moss"].phone, "TEST")
    assert "A test page is on its way; no answer in 2 min and we call you" in reply
    send(rt)
    (page,) = transport.to(team["moss"].phone)
    assert page.startswith("TEST page ") and "Reply 1 to confirm (5 min)." in page
    code = page.split()[2].rstrip(":")
    clock.advance(minutes=2)
    schedules.tick(rt)
    send(rt)
    (call,) = transport.calls
    assert call.to == team["moss"].phone
    assert f"Test {code} confirmed by text" in text(twilio, team["moss"].phone, "1")
    with rt.sessions() as session:
        assert session.get(Member, team["moss"].id).test_confirmed_at == clock.now
        (request,) = session.scalars(select(Request)).all()
        assert request.kind == "test" and request.status == "closed"
    assert transport.to(team["rivera"].phone) == []  # nobody else is ever paged for a test


def test_a_test_page_confirmed_on_the_call(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, team["moss"].phone, "TEST")
    clock.advance(minutes=2)
    schedules.tick(rt)
    send(rt)
    with rt.sessions() as session:
        (request,) = session.scalars(select(Request)).all()
        page_id = request.pages[0].id
    response = twilio.post(
        f"/twilio/voice/page/{page_id}/answer", {"Digits": "1", "CallSid": "CA" + "7" * 32}
    )
    assert response.status_code == 200 and "is confirmed" in response.get_data(as_text=True)
    with rt.sessions() as session:
        assert session.get(Member, team["moss"].id).test_confirmed_at == clock.now


def test_an_unanswered_test_ends_and_says_so(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, team["moss"].phone, "TEST")
    send(rt)
    code = transport.to(team["moss"].phone)[0].split()[2].rstrip(":")
    assert f"is waiting: reply 1 {code}" in text(twilio, team["moss"].phone, "TEST")
    assert "That was a test page" in text(twilio, team["moss"].phone, "2")
    clock.advance(minutes=5)
    schedules.slow(rt)
    send(rt)
    assert "got no answer in 5 min" in transport.to(team["moss"].phone)[-1]
    assert "has ended" in text(twilio, team["moss"].phone, f"1 {code}")
    with rt.sessions() as session:
        assert session.get(Member, team["moss"].id).test_confirmed_at is None


def test_a_bare_1_with_a_test_and_a_real_page_asks_which(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, team["rivera"].phone, "TEST")
    text(twilio, REQUESTER, "hello")
    assert "You have 2 open pages" in text(twilio, team["rivera"].phone, "1")


def test_a_non_member_who_texts_test_is_a_person_who_may_need_help(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    reply = text(twilio, REQUESTER, "TEST")
    ack = messages.requester_ack("Odessa PD Peer Support", messages.DEFAULT_LIMITS, testing=True)
    assert ack.startswith("Odessa PD Peer Support: it works. A peer will contact you soon. In danger now?")
    assert ET.fromstring(reply).findtext("Message") == ack
    assert segments(ack) <= messages.ACK_SEGMENTS  # the first reply's budget, as any first reply
    send(rt)
    assert transport.to(team["rivera"].phone)[0].startswith("Peer support request")
    with rt.sessions() as session:
        (request,) = session.scalars(select(Request)).all()
        assert request.kind == "support"


# --- notices ahead ----------------------------------------------------------------------------------


def test_a_heads_up_goes_12_hours_ahead_once_across_processes_and_restarts(
    rt: Any, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    clock.now = WEDNESDAY - timedelta(hours=12, seconds=1)
    rt.run(notices.shift_notices)
    send(rt)
    assert transport.to(team["park"].phone) == []
    clock.now = WEDNESDAY - timedelta(hours=12)
    assert rt.run(notices.shift_notices) == 1
    assert rt.run(notices.shift_notices) == 0  # another process in the same minute: the scan is claimed
    clock.advance(minutes=1)
    assert rt.run(notices.shift_notices) == 0  # the next scan, or after a restart: the notice is claimed
    send(rt)
    assert transport.to(team["park"].phone) == [
        "Odessa PD Peer Support: heads-up, you're on call from Wed 11 Mar 07:00 CDT to Thu 12 Mar 07:00 CDT:"
        " first to be paged. Can't? Text COVER."
    ]
    clock.now = WEDNESDAY
    rt.run(handoff_notices)  # the handoff text would say it again: it is not sent
    send(rt)
    assert len(transport.to(team["park"].phone)) == 1


def test_a_missed_heads_up_goes_late_while_the_shift_lasts(
    rt: Any, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    clock.now = WEDNESDAY + timedelta(hours=3)  # down from before the notice until after the handoff
    rt.run(notices.shift_notices)
    send(rt)
    assert transport.to(team["park"].phone) == [
        "Odessa PD Peer Support: you're on call now, until Thu 12 Mar 07:00 CDT: first to be paged."
    ]
    assert transport.to(team["rivera"].phone) == []  # Rivera's shift is over: no late notice for it


def _counting_team_shifts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the teams whose shifts are worked out (by any caller) from now on."""
    worked_out: list[str] = []
    team_shifts = shifts.team_shifts

    def counting(session: Any, team: Team, *args: Any) -> Any:
        worked_out.append(team.slug)
        return team_shifts(session, team, *args)

    monkeypatch.setattr(shifts, "team_shifts", counting)
    return worked_out


def test_the_heads_up_scan_passes_a_team_by_until_its_next_heads_up_is_due(
    rt: Any,
    transport: RecordingTransport,
    team: dict[str, Member],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worked_out = _counting_team_shifts(monkeypatch)
    assert rt.run(notices.shift_notices) == 1  # Tue 10:00: Rivera, on call now
    assert worked_out == ["odessa"]
    for _ in range(3):
        clock.advance(minutes=1)
        assert rt.run(notices.shift_notices) == 0
    clock.now = WEDNESDAY - timedelta(hours=12, minutes=1)
    assert rt.run(notices.shift_notices) == 0
    assert worked_out == ["odessa"]  # nothing due until Park's heads-up, 12 hours before Wednesday's shift
    restarted = service.build(rt.config, transport=transport, clock=clock)  # or another process
    clock.advance(seconds=30)
    assert restarted.run(notices.shift_notices) == 0
    assert worked_out == ["odessa"]  # the note is in the database
    restarted.close()
    clock.now = WEDNESDAY - timedelta(hours=12)
    assert rt.run(notices.shift_notices) == 1
    assert worked_out == ["odessa", "odessa"]
    send(rt)
    assert transport.to(team["park"].phone)[0].startswith("Odessa PD Peer Support: heads-up, you're on call")


def test_the_heads_up_scan_looks_again_when_the_roster_changes_by_any_path(
    rt: Any, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    rt.run(notices.shift_notices)
    clock.advance(minutes=1)
    assert rt.run(notices.shift_notices) == 0

    def override(session: Any, env: Any, now: datetime) -> None:  # not through told_of_changes
        row = session.scalar(select(Team))
        moss = session.get(Member, team["moss"].id)
        rotation.add_override(session, row, moss, now + timedelta(hours=1), WEDNESDAY, now)

    rt.run(override)
    clock.advance(minutes=1)
    assert rt.run(notices.shift_notices) == 1
    send(rt)
    assert transport.to(team["moss"].phone) == [
        "Odessa PD Peer Support: heads-up, you're on call from Tue 10 Mar 11:01 CDT to Wed 11 Mar 07:00 CDT:"
        " first to be paged. Can't? Text COVER."
    ]


def test_a_heads_up_scan_that_rolls_back_is_not_remembered_as_done(
    rt: Any, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    def fails(session: Any, env: Any, now: datetime) -> None:
        assert notices.shift_notices(session, env, now) == 1
        raise RuntimeError("the database went away before the commit")

    with pytest.raises(RuntimeError):
        rt.run(fails)
    clock.advance(minutes=1)
    assert rt.run(notices.shift_notices) == 1  # this process looks again: nothing was sent
    send(rt)
    assert len(transport.to(team["rivera"].phone)) == 1


@pytest.mark.parametrize(
    ("now", "span"),
    [
        (
            datetime(2026, 3, 6, 20, tzinfo=CHICAGO),
            "from Sat 07 Mar 07:00 CST to Sun 08 Mar 07:00 CDT",
        ),  # 23 h
        (
            datetime(2026, 10, 30, 20, tzinfo=CHICAGO),
            "from Sat 31 Oct 07:00 CDT to Sun 01 Nov 07:00 CST",
        ),  # 25 h
    ],
)
def test_heads_up_across_both_dst_changes_names_local_times(
    rt: Any, transport: RecordingTransport, team: dict[str, Member], clock: Clock, now: datetime, span: str
) -> None:
    clock.now = now
    rt.run(notices.shift_notices)
    send(rt)
    (notice,) = [body for body in transport.sms if "heads-up" in body.body]
    assert span in notice.body


def test_an_override_tells_the_new_primary_and_the_displaced_at_once(
    rt: Any, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    def swap(session: Any, env: Any, now: datetime) -> None:
        row = session.scalar(select(Team))
        moss = session.get(Member, team["moss"].id)
        with notices.told_of_changes(session, env, row, now):
            rotation.add_override(session, row, moss, now, datetime(2026, 3, 11, 7, tzinfo=CHICAGO), now)

    rt.run(swap)
    send(rt)
    assert transport.to(team["moss"].phone) == [
        "Odessa PD Peer Support: you're on call now, until Wed 11 Mar 07:00 CDT (the director's override):"
        " first to be paged."
    ]
    assert transport.to(team["rivera"].phone) == [
        "Odessa PD Peer Support: you're off call now, until Wed 11 Mar 07:00 CDT;"
        " Det. Kim Moss is first to be paged instead."
    ]
    rt.run(notices.shift_notices)
    send(rt)
    assert len(transport.to(team["moss"].phone)) == 1  # the heads-up scan does not tell Moss again


def test_an_away_tells_the_stand_in_and_back_tells_them_they_are_off(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    assert "off the on-call list" in text(twilio, team["rivera"].phone, "AWAY 3h")
    send(rt)
    assert transport.to(team["park"].phone) == [
        "Odessa PD Peer Support: you're on call now, until Tue 10 Mar 13:00 CDT"
        " (Ofc. Dana Rivera can't be paged then): first to be paged."
    ]
    assert transport.to(team["rivera"].phone) == []  # they texted AWAY: its reply says it
    text(twilio, team["rivera"].phone, "BACK")
    send(rt)
    assert transport.to(team["park"].phone)[-1].startswith("Odessa PD Peer Support: you're off call now")


def test_a_primary_who_opts_out_is_replaced_and_the_next_is_told(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(team["rivera"].phone, "STOP", OptOutType="STOP")
    send(rt)
    assert transport.to(team["rivera"].phone) == []  # nothing reaches a number that opted out
    assert transport.to(team["park"].phone) == [
        "Odessa PD Peer Support: you're on call now, until Wed 11 Mar 07:00 CDT"
        " (Ofc. Dana Rivera can't be paged then): first to be paged."
    ]


def test_heads_up_off_keeps_the_handoff_text(database_url: str, transport: RecordingTransport) -> None:
    import service
    from webhooks import create_app

    config = make_config(database_url, team_table(shift_notice="0"))
    application = create_app(service.build(config, transport=transport))
    rt = application.extensions["callout"]
    try:
        roster = add_roster(rt, rivera=("Rivera", "peer"), park=("Park", "peer"))
        rt.clock = rt.sender.clock = lambda: WEDNESDAY + timedelta(minutes=1)
        assert rt.run(notices.shift_notices) == 0
        rt.run(handoff_notices)
        send(rt)
        assert transport.to(roster["rivera"].phone)[0].endswith(
            "your on-call shift started; you're first to be paged until Thu 07:00."
        )
    finally:
        rt.close()


# --- the guide ----------------------------------------------------------------------------------------


def test_the_members_guide_quotes_the_texts_as_they_are_sent() -> None:
    from tests.e2e import ROOT

    lines = (ROOT / "docs" / "members.md").read_text().splitlines()
    guide = " ".join(" ".join(line.removeprefix(">").strip() for line in lines).split())
    start, end, team = "Wed 11 Mar 07:00 CDT", "Thu 12 Mar 07:00 CDT", "Odessa PD Peer Support"
    sent = [
        messages.page("K7QD", "support", "5 min"),
        messages.page("K7QD", "test", "5 min"),
        messages.shift_notice(team, start, end, begun=False),
        messages.now_primary(team, "", "Tue 10 Mar 13:00 CDT", True, "Ofc. Dana Rivera can't be paged then"),
        messages.shifts_list(
            [
                (start, end),
                ("Sat 14 Mar 07:00 CDT", "Sun 15 Mar 07:00 CDT"),
                ("Tue 17 Mar 07:00 CDT", "Wed 18 Mar 07:00 CDT"),
            ],
            "https://peer.example.org/calendar/....ics",
        ),
        messages.cover_asked("Q9C9", 3, start, end),
        messages.cover_page("Q9C9", "Sgt. Lee Park", start, end),
        messages.cover_moot_asker("Q9C9", start, "Ofc. Mei Chen"),
        messages.requester_ack(team, messages.DEFAULT_LIMITS),
        messages.privacy_statement("24 h", messages.DEFAULT_LIMITS),
        messages.help_text("peer"),
    ]
    for text in sent:
        assert text in guide, text
