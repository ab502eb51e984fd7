"""COVER: asking the other peers to take a shift, the first `1 CODE` winning, alerts and the end, through the
real webhook with a hand-moved clock (Tue 10 March 2026, 10:00 in Odessa)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

import schedules
from callout import cover, shifts
from callout.models import Cover, Member, Override, Request, Team
from callout.shifts import Why
from tests.conftest import Clock, RecordingTransport, TwilioClient, add_roster, last_to, send

CHICAGO = ZoneInfo("America/Chicago")
REQUESTER = "+14325559876"


@pytest.fixture
def team(rt: Any) -> dict[str, Member]:
    """Four peers (Rivera primary today, then Park, Moss, Chen), the psychologist, the director, dispatch."""
    return add_roster(
        rt,
        rivera=("Ofc. Dana Rivera", "peer"),
        park=("Sgt. Lee Park", "peer"),
        moss=("Det. Kim Moss", "peer"),
        chen=("Ofc. Mei Chen", "peer"),
        cruz=("Dr. Ana Cruz", "psychologist"),
        ortiz=("Lt. Ray Ortiz", "director"),
        brooks=("Brooks", "dispatch"),
    )


def text(twilio: TwilioClient, sender: str, body: str) -> str:
    response = twilio.sms(sender, body)
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def the_cover(rt: Any) -> tuple[str, str, datetime]:
    """Return the only cover's code, state and start."""
    with rt.sessions() as session:
        row = session.scalar(select(Cover))
        assert row is not None
        return row.request.code, row.state, row.starts_at


def primary_at(rt: Any, at: datetime) -> str | None:
    with rt.sessions() as session:
        row = session.scalar(select(Team))
        (shift,) = shifts.team_shifts(session, row, at, at + timedelta(microseconds=1), at)
        found = shift.primary_at(at)
        return found.name if found else None


WEDNESDAY = datetime(2026, 3, 11, 7, tzinfo=CHICAGO)  # Park's shift


@pytest.mark.parametrize(
    ("words", "day"),
    [
        ("12/24", date(2026, 12, 24)),
        ("3/9", date(2027, 3, 9)),  # past this year: next year's
        ("3/10", date(2026, 3, 10)),
        ("12/24/26", date(2026, 12, 24)),
        ("12/24/2026", date(2026, 12, 24)),
        ("2026-12-24", date(2026, 12, 24)),
        ("Dec 24", date(2026, 12, 24)),
        ("24 december", date(2026, 12, 24)),
        ("thu", date(2026, 3, 12)),
        ("Thursday", date(2026, 3, 12)),
        ("tues", date(2026, 3, 10)),
        ("tomorrow", date(2026, 3, 11)),
        ("today", date(2026, 3, 10)),
        ("2/29", date(2028, 2, 29)),
    ],
)
def test_it_reads_the_dates_people_text(words: str, day: date) -> None:
    assert cover.parse_day(words, date(2026, 3, 10)) == day


@pytest.mark.parametrize(
    "words", ["soon", "13/45", "2/30", "th", "next week", "32 dec", "2026-02-30", "1/2/3/4"]
)
def test_it_reads_nothing_into_what_is_not_a_date(words: str) -> None:
    assert cover.parse_day(words, date(2026, 3, 10)) is None


def test_a_cover_asks_every_other_peer_once_with_a_code(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    reply = text(twilio, team["park"].phone, "COVER")
    code, state, start = the_cover(rt)
    assert start == WEDNESDAY and state == "open"
    assert reply == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
        "Asked 3 peers to cover Wed 11 Mar 07:00 CDT"
        f" to Thu 12 Mar 07:00 CDT (COVER {code}). We'll text you who takes it; until then it's yours."
        "</Message></Response>"
    )
    send(rt)
    for name in ("rivera", "moss", "chen"):
        assert transport.to(team[name].phone) == [
            "Sgt. Lee Park asks: can you take their on-call shift Wed 11 Mar 07:00 CDT to"
            " Thu 12 Mar 07:00 CDT?"
            f" Reply 1 {code} to take it, 2 {code} to pass."
        ]
    assert transport.to(team["park"].phone) == [] and transport.to(team["ortiz"].phone) == []
    assert transport.calls == []  # a cover is never a phone call


def test_the_first_1_code_takes_it_as_an_override_and_everyone_is_told(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, team["park"].phone, "COVER tomorrow")
    code, _, _ = the_cover(rt)
    send(rt)
    reply = text(twilio, team["moss"].phone, f"1 {code}")
    assert "Sgt. Lee Park's shift Wed 11 Mar 07:00 CDT to Thu 12 Mar 07:00 CDT is yours" in reply
    send(rt)
    assert transport.to(team["park"].phone)[-1] == (
        f"Det. Kim Moss takes your shift Wed 11 Mar 07:00 CDT to Thu 12 Mar 07:00 CDT (COVER {code}). "
        "You're off it."
    )
    assert transport.to(team["ortiz"].phone) == [
        f"COVER {code}: Det. Kim Moss takes Sgt. Lee Park's shift Wed 11 Mar 07:00 CDT"
        " to Thu 12 Mar 07:00 CDT."
    ]
    for name in ("rivera", "chen"):
        assert (
            transport.to(team[name].phone)[-1]
            == f"COVER {code} was taken by Det. Kim Moss. No need to answer, thank you."
        )
    assert "already taken by Det. Kim Moss" in text(twilio, team["chen"].phone, f"1 {code}")
    assert primary_at(rt, WEDNESDAY + timedelta(hours=3)) == "Det. Kim Moss"
    with rt.sessions() as session:
        (override,) = session.scalars(select(Override)).all()
        assert override.cover is not None and override.cover.code == code
        row = session.scalar(select(Team))
        (shift,) = shifts.team_shifts(session, row, WEDNESDAY, WEDNESDAY + timedelta(hours=1), clock.now)
        assert shift.stretches[0].why is Why.COVER and shift.covers == (override,)
    assert "already taken" in text(twilio, team["moss"].phone, f"1 {code}") or "is yours" in text(
        twilio, team["moss"].phone, f"1 {code}"
    )


def test_a_peer_away_when_the_shift_begins_cannot_take_it_until_back(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, team["park"].phone, "COVER tomorrow")
    code, _, _ = the_cover(rt)
    send(rt)
    assert "off the on-call list" in text(twilio, team["moss"].phone, "AWAY")  # after the page came
    reply = text(twilio, team["moss"].phone, f"1 {code}")
    assert (
        f"You're AWAY at Wed 11 Mar 07:00 CDT, so COVER {code} can't be yours."
        f" Text BACK first, then 1 {code}." in reply
    )
    assert the_cover(rt)[1] == "open"
    assert primary_at(rt, WEDNESDAY + timedelta(hours=3)) == "Sgt. Lee Park"  # still the asker's
    text(twilio, team["moss"].phone, "BACK")
    assert "is yours" in text(twilio, team["moss"].phone, f"1 {code}")
    assert primary_at(rt, WEDNESDAY + timedelta(hours=3)) == "Det. Kim Moss"


def test_a_bare_1_never_takes_a_cover_and_still_accepts_a_page(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, team["park"].phone, "COVER")
    code, _, _ = the_cover(rt)
    assert f"reply 1 with its code: 1 {code}" in text(twilio, team["rivera"].phone, "1")
    assert the_cover(rt)[1] == "open"
    text(twilio, REQUESTER, "I need to talk to someone")  # pages Rivera, today's primary
    send(rt)
    text(twilio, team["rivera"].phone, "1")
    assert REQUESTER in last_to(rt, transport, team["rivera"].phone)  # the support request, not the cover
    assert the_cover(rt)[1] == "open"
    with rt.sessions() as session:
        support = session.scalar(select(Request).where(Request.kind == "support"))
        assert support is not None and support.code != code and support.status == "accepted"


def test_a_cover_code_is_never_a_live_request_code(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callout import requests

    text(twilio, team["park"].phone, "COVER")
    code, _, _ = the_cover(rt)
    letters = iter([*code, *"KQDT"])
    monkeypatch.setattr(requests.secrets, "choice", lambda alphabet: next(letters))
    text(twilio, REQUESTER, "hello")
    with rt.sessions() as session:
        support = session.scalar(select(Request).where(Request.kind == "support"))
        assert support is not None and support.code == "KQDT"


@pytest.mark.parametrize(
    ("who", "words", "expected"),
    [
        ("cruz", "COVER", "COVER is for peers on the rotation"),
        ("brooks", "COVER tomorrow", "COVER is for peers on the rotation"),
        ("park", "COVER someday", "COVER takes a date such as 12/24, Thu or tomorrow"),
        ("park", "COVER 2/30", "COVER takes a date such as 12/24"),
        (
            "park",
            "COVER thu",
            "Thu 12 Mar isn't your shift. Your next: Wed 11 Mar 07:00 CDT, Sun 15 Mar 07:00 CDT,",
        ),
        ("rivera", "COVER today", "Your shift has begun (until Wed 11 Mar 07:00 CDT)"),
        ("park", "COVER 3/9/26", "Mon 09 Mar has passed. COVER asks about a shift to come"),
        (
            "park",
            "COVER 3/9",
            "Tue 09 Mar 2027 is more than 90 days ahead, too far to know whose shift it is.",
        ),
        (
            "park",
            "COVER 12/24",
            "Thu 24 Dec is more than 90 days ahead, too far to know whose shift it is. Ask"
            " again from Fri 25 Sep.",
        ),
    ],
)
def test_bad_covers_get_a_clear_reply_and_ask_nobody(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    team: dict[str, Member],
    clock: Clock,
    who: str,
    words: str,
    expected: str,
) -> None:
    assert expected in text(twilio, team[who].phone, words)
    send(rt)
    with rt.sessions() as session:
        assert session.scalar(select(Cover)) is None
    assert transport.sms == []


def test_a_second_cover_of_the_same_shift_is_refused(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, team["park"].phone, "COVER")
    code, _, _ = the_cover(rt)
    send(rt)
    again = text(twilio, team["park"].phone, "COVER 3/11")
    assert f"You already asked for cover of Wed 11 Mar 07:00 CDT ({code})" in again
    send(rt)
    assert len(transport.to(team["rivera"].phone)) == 1


def test_a_non_member_texting_cover_still_gets_a_peer(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    assert "a peer will contact you soon" in text(twilio, REQUESTER, "COVER")
    with rt.sessions() as session:
        assert session.scalar(select(Request).where(Request.kind == "support")) is not None


def test_nobody_taking_it_by_12_hours_before_alerts_the_director_once(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, team["park"].phone, "COVER")
    code, _, _ = the_cover(rt)
    clock.now = WEDNESDAY - timedelta(hours=12, seconds=1)
    rt.run(cover.run_due)
    send(rt)
    assert transport.to(team["ortiz"].phone) == []
    clock.now = WEDNESDAY - timedelta(hours=12)
    rt.run(cover.run_due)
    rt.run(cover.run_due)
    send(rt)
    assert transport.to(team["ortiz"].phone) == [
        f"COVER {code}: Sgt. Lee Park asked for cover of Wed 11 Mar 07:00 CDT and nobody has taken it yet."
        " Please arrange it (an override)."
    ]
    assert (
        f"Nobody has taken your shift Wed 11 Mar 07:00 CDT yet (COVER {code})"
        in transport.to(team["park"].phone)[-1]
    )


def test_a_cover_asked_less_than_12_hours_ahead_tells_the_director_with_the_ask_once(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    clock.now = WEDNESDAY - timedelta(hours=6)
    reply = text(twilio, team["park"].phone, "COVER")
    code, _, _ = the_cover(rt)
    assert "until then it's yours. It's less than 12 h away, so the director knows too." in reply
    send(rt)
    alert = (
        f"COVER {code}: Sgt. Lee Park asks for cover of Wed 11 Mar 07:00 CDT, less than 12 h away; the other"
        " peers are asked. You'll hear if one takes it; if not, please arrange it (an override)."
    )
    assert transport.to(team["ortiz"].phone) == [alert]
    clock.advance(minutes=1)
    schedules.slow(rt)
    send(rt)
    assert transport.to(team["ortiz"].phone) == [alert]  # not a second time
    assert not any("Nobody has taken" in body for body in transport.to(team["park"].phone))
    text(twilio, team["moss"].phone, f"1 {code}")
    send(rt)
    assert transport.to(team["ortiz"].phone)[-1].startswith(f"COVER {code}: Det. Kim Moss takes")


def test_when_everyone_asked_passes_the_director_is_alerted_at_once(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, team["park"].phone, "COVER")
    code, _, _ = the_cover(rt)
    for name in ("rivera", "moss"):
        assert f"passed on COVER {code}" in text(twilio, team[name].phone, f"2 {code}")
    send(rt)
    assert transport.to(team["ortiz"].phone) == []
    text(twilio, team["chen"].phone, f"2 {code}")
    send(rt)
    assert "every peer asked passed" in transport.to(team["ortiz"].phone)[0]


def test_a_cover_nobody_took_ends_when_its_shift_begins(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, team["park"].phone, "COVER")
    code, _, _ = the_cover(rt)
    clock.now = WEDNESDAY
    schedules.slow(rt)
    send(rt)
    assert the_cover(rt)[1] == "unanswered"
    assert transport.to(team["park"].phone)[-1] == (
        f"Nobody took COVER {code}: you're on call now, until Thu 12 Mar 07:00 CDT."
        " Text AWAY if you can't be paged."
    )
    assert f"COVER {code} is over" in text(twilio, team["moss"].phone, f"1 {code}")
    assert primary_at(rt, WEDNESDAY + timedelta(hours=1)) == "Sgt. Lee Park"


def give_wednesday_to_chen(rt: Any, team: dict[str, Member], clock: Clock) -> None:
    """Make Chen primary for Park's Wednesday by the director's override."""
    with rt.sessions() as session, session.begin():
        chen = session.get(Member, team["chen"].id)
        session.add(
            Override(
                team_id=chen.team_id,
                member=chen,
                starts_at=WEDNESDAY,
                ends_at=WEDNESDAY + timedelta(days=1),
                created_at=clock.now,
            )
        )


def test_a_cover_whose_shift_changed_hands_meanwhile_is_not_taken(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, team["park"].phone, "COVER")
    code, _, _ = the_cover(rt)
    send(rt)
    give_wednesday_to_chen(rt, team, clock)
    assert f"COVER {code} is no longer needed: Ofc. Mei Chen has that shift now." in text(
        twilio, team["moss"].phone, f"1 {code}"
    )
    assert the_cover(rt)[1] == "moot"
    assert primary_at(rt, WEDNESDAY + timedelta(hours=1)) == "Ofc. Mei Chen"
    send(rt)
    assert transport.to(team["park"].phone)[-1] == (
        f"COVER {code} is closed: Wed 11 Mar 07:00 CDT is no longer your shift (Ofc. Mei Chen has it now), so"
        " nobody needs to take it. SHIFTS lists yours."
    )
    assert transport.to(team["rivera"].phone)[-1] == (
        f"COVER {code} is no longer needed: Ofc. Mei Chen has that shift now. Thank you."
    )
    assert transport.to(team["chen"].phone)[-1] == (
        f"COVER {code} is no longer needed: that shift is yours now (SHIFTS lists yours). Thank you."
    )
    assert len(transport.to(team["moss"].phone)) == 1  # the one who answered is told by the reply
    for name in ("rivera", "moss"):  # a later answer is told the same, not that the shift began
        assert "no longer needed" in text(twilio, team[name].phone, f"1 {code}")
        assert "no longer needed" in text(twilio, team[name].phone, f"2 {code}")


def test_a_cover_whose_shift_the_director_gave_away_ends_with_no_false_alert(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, team["park"].phone, "COVER")
    code, _, _ = the_cover(rt)
    send(rt)
    give_wednesday_to_chen(rt, team, clock)
    clock.now = WEDNESDAY - timedelta(hours=12)  # when nobody having taken it would alert the director
    schedules.slow(rt)
    send(rt)
    assert the_cover(rt)[1] == "moot"
    assert not any(code in body for body in transport.to(team["ortiz"].phone))
    assert transport.to(team["park"].phone)[-1].startswith(f"COVER {code} is closed: Wed 11 Mar 07:00 CDT")
    for name in ("rivera", "moss", "chen"):
        assert f"COVER {code} is no longer needed: " in " ".join(transport.to(team[name].phone))
    clock.now = WEDNESDAY
    schedules.slow(rt)
    send(rt)
    assert not any("Nobody took" in body for body in transport.to(team["park"].phone))
    assert primary_at(rt, WEDNESDAY + timedelta(hours=1)) == "Ofc. Mei Chen"


def test_everyone_passing_on_a_cover_whose_shift_changed_hands_alerts_nobody(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, team["park"].phone, "COVER")
    code, _, _ = the_cover(rt)
    give_wednesday_to_chen(rt, team, clock)
    for name in ("rivera", "moss", "chen"):
        text(twilio, team[name].phone, f"2 {code}")
    send(rt)
    assert the_cover(rt)[1] == "moot"
    assert not any(code in body for body in transport.to(team["ortiz"].phone))
    assert transport.to(team["park"].phone)[-1].startswith(f"COVER {code} is closed")


def test_the_new_primary_of_a_shift_may_ask_cover_of_it_while_the_old_ask_is_open(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, team["park"].phone, "COVER")
    old, _, _ = the_cover(rt)
    give_wednesday_to_chen(rt, team, clock)
    reply = text(twilio, team["chen"].phone, "COVER tomorrow")
    assert "Asked 3 peers to cover Wed 11 Mar 07:00 CDT" in reply and "already asked" not in reply
    with rt.sessions() as session:
        states = {c.request.code: (c.state, c.asker.name) for c in session.scalars(select(Cover))}
    assert states[old] == ("moot", "Sgt. Lee Park") and len(states) == 2
    assert ("open", "Ofc. Mei Chen") in states.values()


def test_a_pass_after_the_cover_was_taken_is_told_who_took_it(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    text(twilio, team["park"].phone, "COVER")
    code, _, _ = the_cover(rt)
    assert "passed on COVER" in text(twilio, team["chen"].phone, f"2 {code}")
    assert "passed on COVER" in text(twilio, team["chen"].phone, f"2 {code}")  # said twice: the same
    text(twilio, team["moss"].phone, f"1 {code}")
    assert f"COVER {code} was already taken by Det. Kim Moss" in text(
        twilio, team["rivera"].phone, f"2 {code}"
    )


def test_covers_are_not_counted_in_the_report(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    from callout.report import build_report

    text(twilio, team["park"].phone, "COVER")
    text(twilio, team["moss"].phone, "TEST")
    with rt.sessions() as session:
        report = build_report(session, ["odessa"], date(2026, 3, 1), date(2026, 3, 31))
        assert report.teams[0].total.requests == 0


def test_covers_and_test_pages_are_not_on_the_console_board(
    rt: Any, twilio: TwilioClient, team: dict[str, Member], clock: Clock
) -> None:
    from callout.board import live_requests

    text(twilio, team["park"].phone, "COVER")
    text(twilio, team["moss"].phone, "TEST")
    text(twilio, REQUESTER, "hello")
    with rt.sessions() as session:
        row = session.scalar(select(Team))
        assert [r.kind for r in live_requests(session, row)] == ["support"]
        assert live_requests(session, row, support=False) == []


def test_a_cover_lives_in_the_database_another_process_alerts_once_and_takes_it(
    config: Any,
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    team: dict[str, Member],
    clock: Clock,
) -> None:
    import service
    from webhooks import create_app

    text(twilio, team["park"].phone, "COVER")  # asked of the first process, which then goes away
    code, _, _ = the_cover(rt)
    send(rt)
    restarted = RecordingTransport()
    other = create_app(service.build(config, transport=restarted))
    later = other.extensions["callout"]
    try:
        later.clock = later.sender.clock = clock
        clock.now = WEDNESDAY - timedelta(hours=12)
        schedules.slow(later)
        schedules.slow(rt)  # both processes look: the director is alerted once
        send(later)
        send(rt)
        alerts = restarted.to(team["ortiz"].phone) + transport.to(team["ortiz"].phone)
        assert alerts == [
            f"COVER {code}: Sgt. Lee Park asked for cover of Wed 11 Mar 07:00 CDT and nobody has taken it"
            " yet. Please arrange it (an override)."
        ]
        webhooks = TwilioClient(other.test_client())
        webhooks._sid = 1000  # Twilio's message ids are unique: not those the first process saw
        taken = webhooks.sms(team["moss"].phone, f"1 {code}").get_data(as_text=True)
        assert "Sgt. Lee Park's shift Wed 11 Mar 07:00 CDT to Thu 12 Mar 07:00 CDT is yours" in taken
        assert primary_at(later, WEDNESDAY + timedelta(hours=1)) == "Det. Kim Moss"
    finally:
        later.close()
