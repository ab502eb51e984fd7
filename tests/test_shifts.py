"""A team's shifts over a period: stretches, overrides, covers, AWAY and gaps, across both DST changes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlalchemy.orm import Session

from callout import rotation, shifts
from callout.conversation import FOREVER
from callout.models import Member, Override, Request, Team
from callout.shifts import Why
from tests.conftest import NOW, make_member

CHICAGO = ZoneInfo("America/Chicago")
HOUR = timedelta(hours=1)


def chicago(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Return an aware Chicago datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=CHICAGO)


def roster(session: Session, team: Team, count: int = 4) -> list[Member]:
    """Add count peers and anchor the rotation on NOW's shift (Peer 0 primary on Tue 10 March)."""
    peers = [make_member(session, team, f"Peer {i}") for i in range(count)]
    rotation.ensure_anchor(session, team, NOW)
    session.flush()
    return peers


def override(session: Session, team: Team, member: Member, start: datetime, end: datetime) -> Override:
    """Add an override the way the director's command does."""
    return rotation.add_override(session, team, member, start, end, NOW - timedelta(days=30))


def names(items: list[shifts.Shift]) -> list[str | None]:
    """Return each shift's primary name."""
    return [s.primary.name if s.primary else None for s in items]


def test_it_gives_one_shift_per_day_from_handoff_to_handoff_in_the_teams_zone(
    session: Session, team: Team, now: datetime
) -> None:
    roster(session, team)
    week = shifts.team_shifts(session, team, now, now + timedelta(days=6), now)
    assert [s.day for s in week] == [date(2026, 3, 10) + timedelta(days=i) for i in range(7)]
    assert week[0].start == chicago(2026, 3, 10, 7) and week[0].end == chicago(2026, 3, 11, 7)
    assert all(s.start.tzinfo == CHICAGO and s.start.hour == 7 for s in week)
    assert names(week) == ["Peer 0", "Peer 1", "Peer 2", "Peer 3", "Peer 0", "Peer 1", "Peer 2"]
    assert all(s.stretches[0].why is Why.ROTATION and len(s.stretches) == 1 for s in week)
    assert all(s.gaps == () and s.scheduled == s.primary for s in week)


def test_the_spring_forward_shift_lasts_23_hours_and_keeps_its_handoff(session: Session, team: Team) -> None:
    roster(session, team)
    start = chicago(2026, 3, 6, 12)
    days = shifts.team_shifts(session, team, start, start + timedelta(days=2), NOW)
    by_day = {s.day: s for s in days}
    change = by_day[date(2026, 3, 7)]  # clocks go forward at 02:00 on Sunday 8 March
    assert change.length == timedelta(hours=23)
    assert (change.start.hour, change.end.hour) == (7, 7)
    assert change.start.tzname() == "CST" and change.end.tzname() == "CDT"
    assert by_day[date(2026, 3, 8)].length == timedelta(hours=24)
    assert days[0].end == days[1].start and days[1].end == days[2].start


def test_the_fall_back_shift_lasts_25_hours_and_keeps_its_handoff(session: Session, team: Team) -> None:
    roster(session, team)
    start = chicago(2026, 10, 31, 12)
    days = shifts.team_shifts(session, team, start, start + timedelta(days=1), NOW)
    change = days[0]  # clocks go back at 02:00 on Sunday 1 November
    assert change.day == date(2026, 10, 31)
    assert change.length == timedelta(hours=25)
    assert (change.start.hour, change.end.hour) == (7, 7)
    assert change.start.tzname() == "CDT" and change.end.tzname() == "CST"


def test_the_rotation_keeps_its_order_across_both_dst_changes(session: Session, team: Team) -> None:
    roster(session, team)
    year = shifts.team_shifts(session, team, NOW, NOW + timedelta(days=300), NOW)
    assert len(year) == 301
    assert all(a.end == b.start for a, b in pairwise(year))
    for index, shift in enumerate(year):
        assert shift.primary is not None and shift.primary.name == f"Peer {index % 4}"
        assert shift.primary == rotation.availability_list(session, team, shift.start + HOUR)[0]


def test_an_override_mid_shift_cuts_the_shift_and_ends_where_it_ends(session: Session, team: Team) -> None:
    peers = roster(session, team)
    taken = override(session, team, peers[2], chicago(2026, 3, 10, 19), chicago(2026, 3, 11, 7))
    (shift,) = shifts.team_shifts(session, team, NOW, NOW + HOUR, NOW)
    assert [(s.start, s.end, s.primary, s.why) for s in shift.stretches] == [
        (chicago(2026, 3, 10, 7), chicago(2026, 3, 10, 19), peers[0], Why.ROTATION),
        (chicago(2026, 3, 10, 19), chicago(2026, 3, 11, 7), peers[2], Why.OVERRIDE),
    ]
    assert shift.stretches[1].override == taken and shift.overrides == (taken,)
    assert shift.primary == peers[0] and shift.primary_at(chicago(2026, 3, 10, 20)) == peers[2]
    assert shift.covers == ()


def test_an_override_over_a_dst_change_keeps_its_exact_hours(session: Session, team: Team) -> None:
    peers = roster(session, team)
    begins, ends = chicago(2026, 10, 31, 7), chicago(2026, 11, 1, 7)
    override(session, team, peers[3], begins, ends)
    (shift,) = shifts.team_shifts(session, team, begins, begins + HOUR, NOW)
    (stretch,) = shift.stretches
    assert stretch.primary == peers[3] and stretch.why is Why.OVERRIDE
    assert stretch.length == timedelta(hours=25)


def test_a_cover_taken_shows_as_a_cover(session: Session, team: Team) -> None:
    peers = roster(session, team)
    ask = Request(team=team, code="CQVR", kind="cover", channel="sms", opened_at=NOW, initiator=peers[1])
    session.add(ask)
    session.flush()
    tomorrow = chicago(2026, 3, 11, 7)
    taken = override(session, team, peers[3], tomorrow, tomorrow + timedelta(days=1))
    taken.cover_id = ask.id
    session.flush()
    _, shift = shifts.team_shifts(session, team, NOW, tomorrow + HOUR, NOW)
    assert shift.scheduled == peers[1] and shift.primary == peers[3]
    assert shift.stretches[0].why is Why.COVER and shift.covers == (taken,)


def test_an_away_primary_is_stood_in_for_until_the_away_ends(session: Session, team: Team) -> None:
    peers = roster(session, team)
    peers[0].away_since, peers[0].away_until = NOW - HOUR, chicago(2026, 3, 10, 18)
    (shift,) = shifts.team_shifts(session, team, NOW, NOW + HOUR, NOW)
    assert [(s.start, s.primary, s.why, s.instead_of) for s in shift.stretches] == [
        (chicago(2026, 3, 10, 7), peers[0], Why.ROTATION, None),
        (chicago(2026, 3, 10, 9), peers[1], Why.STAND_IN, peers[0]),
        (chicago(2026, 3, 10, 18), peers[0], Why.ROTATION, None),
    ]
    assert shift.away == (shifts.Away(peers[0], NOW - HOUR, chicago(2026, 3, 10, 18)),)


def test_an_away_until_back_lasts_as_far_as_the_feed_looks(session: Session, team: Team) -> None:
    peers = roster(session, team, 2)
    peers[1].away_since, peers[1].away_until = NOW, FOREVER
    ahead = shifts.shifts_ahead(session, team, NOW)
    assert len(ahead) == 91
    assert {s.primary for s in ahead} == {peers[0]}
    assert ahead[1].stretches[0].why is Why.STAND_IN and ahead[1].stretches[0].instead_of == peers[1]
    assert ahead[-1].away == (shifts.Away(peers[1], NOW, None),)


def test_an_away_override_member_is_stood_in_for_by_the_rotation(session: Session, team: Team) -> None:
    peers = roster(session, team)
    override(session, team, peers[2], chicago(2026, 3, 10, 7), chicago(2026, 3, 11, 7))
    peers[2].away_since, peers[2].away_until = NOW, FOREVER
    (shift,) = shifts.team_shifts(session, team, NOW, NOW + HOUR, NOW)
    assert shift.stretches[-1].primary == peers[0] and shift.stretches[-1].instead_of == peers[2]


def test_a_shift_with_nobody_available_is_a_gap(session: Session, team: Team) -> None:
    peers = roster(session, team, 2)
    peers[0].opted_out = True
    peers[1].away_since, peers[1].away_until = chicago(2026, 3, 10, 6), chicago(2026, 3, 12, 13)
    days = shifts.team_shifts(session, team, NOW, chicago(2026, 3, 12, 8), NOW)
    assert days[0].gaps == ((chicago(2026, 3, 10, 7), chicago(2026, 3, 11, 7)),)
    assert days[0].primary is None and days[0].stretches[0].why is Why.GAP
    assert days[2].gaps == ((chicago(2026, 3, 12, 7), chicago(2026, 3, 12, 13)),)
    assert days[2].primary_at(chicago(2026, 3, 12, 14)) == peers[1]


def test_a_team_with_no_peer_has_shifts_that_are_all_gap(session: Session, team: Team) -> None:
    (shift,) = shifts.team_shifts(session, team, NOW, NOW + HOUR, NOW)
    assert shift.scheduled is None and shift.primary is None and len(shift.gaps) == 1


def test_it_reads_without_anchoring_and_agrees_with_the_anchor_to_come(session: Session, team: Team) -> None:
    for i in range(3):
        make_member(session, team, f"Peer {i}")
    before = names(shifts.team_shifts(session, team, NOW - timedelta(days=2), NOW + timedelta(days=3), NOW))
    assert team.anchor_shift is None
    rotation.ensure_anchor(session, team, NOW)
    after = names(shifts.team_shifts(session, team, NOW - timedelta(days=2), NOW + timedelta(days=3), NOW))
    assert before == after == ["Peer 1", "Peer 2", "Peer 0", "Peer 1", "Peer 2", "Peer 0"]


def test_an_empty_period_has_no_shifts(session: Session, team: Team) -> None:
    assert shifts.team_shifts(session, team, NOW, NOW, NOW) == []


def test_stretches_of_joins_a_members_shifts_in_a_row(session: Session, team: Team) -> None:
    peers = roster(session, team)
    override(session, team, peers[1], chicago(2026, 3, 12, 7), chicago(2026, 3, 15, 7))
    ahead = shifts.team_shifts(session, team, NOW, NOW + timedelta(days=8), NOW)
    mine = shifts.stretches_of(ahead, peers[1])
    assert [(s.start, s.end, s.why) for s in mine] == [
        (chicago(2026, 3, 11, 7), chicago(2026, 3, 12, 7), Why.ROTATION),
        (chicago(2026, 3, 12, 7), chicago(2026, 3, 15, 7), Why.OVERRIDE),
        (chicago(2026, 3, 15, 7), chicago(2026, 3, 16, 7), Why.ROTATION),
    ]
    assert shifts.stretches_of(ahead, peers[1], after=chicago(2026, 3, 15, 7))[0].why is Why.ROTATION


def test_ninety_days_take_two_queries(session: Session, team: Team) -> None:
    peers = roster(session, team, 50)
    for week in range(12):
        start = chicago(2026, 3, 12, 7) + timedelta(weeks=week)
        override(session, team, peers[week], start, start + timedelta(hours=12))
    session.commit()
    statements: list[str] = []
    engine = session.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        ahead = shifts.shifts_ahead(session, session.merge(team), NOW)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len(ahead) == 91 and len(statements) <= 3  # the members, the overrides (and the team's reload)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    overrides=st.lists(
        st.tuples(st.integers(0, 3), st.integers(-24, 24 * 20), st.integers(1, 60)), max_size=4
    ),
    aways=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 24 * 25)), max_size=4),
    opted_out=st.sets(st.integers(0, 3), max_size=2),
    probes=st.lists(st.integers(0, 24 * 21 * 4), min_size=1, max_size=8),
)
def test_its_primary_is_always_who_paging_would_try_first(
    session: Session,
    team: Team,
    overrides: list[tuple[int, int, int]],
    aways: list[tuple[int, int]],
    opted_out: set[int],
    probes: list[int],
) -> None:
    session.rollback()
    for member in list(team.members):
        session.delete(member)
    session.execute(Override.__table__.delete())
    team.anchor_shift = team.anchor_member_id = None
    session.flush()
    peers = roster(session, team)
    for who, offset, hours in overrides:
        start = NOW + timedelta(hours=offset)
        try:
            with session.begin_nested():
                override(session, team, peers[who], start, start + timedelta(hours=hours))
        except rotation.OverrideError:
            pass  # overlapping ones are refused, as the command refuses them
    for who, hours in aways:
        peers[who].away_since, peers[who].away_until = NOW, NOW + timedelta(hours=hours)
    for who in opted_out:
        peers[who].opted_out = True
    session.flush()
    ahead = shifts.team_shifts(session, team, NOW, NOW + timedelta(days=21), NOW)
    for quarter_hours in probes:
        at = NOW + timedelta(minutes=15 * quarter_hours)
        shift = next(s for s in ahead if s.start <= at < s.end)
        expected = rotation.availability_list(session, team, at)
        assert shift.primary_at(at) == (expected[0] if expected else None)
    for shift in ahead:
        assert shift.stretches[0].start == shift.start and shift.stretches[-1].end == shift.end
        assert all(a.end == b.start for a, b in pairwise(shift.stretches))
