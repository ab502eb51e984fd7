"""The rotation: shifts across DST, the primary, re-anchoring, overrides, availability and coverage."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from callout import rotation
from callout.models import Member, Team
from tests.conftest import make_member

ZONES = [
    "America/Chicago",
    "Australia/Sydney",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Europe/London",
    "UTC",
]
HOUR = timedelta(hours=1)


def team_at(zone: str = "America/Chicago", handoff: time = time(7, 0)) -> Team:
    """Return a team (not stored) with this zone and handoff (shift maths needs nothing else)."""
    return Team(slug="t", name="T", support_number="+14325550100", timezone=zone, handoff=f"{handoff:%H:%M}")


def local(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Return an aware local datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def peers(session: Session, team: Team, count: int) -> list[Member]:
    """Add count peers to the team."""
    return [make_member(session, team, f"Peer {i}") for i in range(count)]


# --- shifts -------------------------------------------------------------------------------------


def test_it_runs_a_shift_from_handoff_to_the_next_days_handoff(now: datetime) -> None:
    start, end = rotation.shift_bounds(team_at(), now)  # 10:00 CDT
    assert start == local("America/Chicago", 2026, 3, 10, 7)
    assert end == local("America/Chicago", 2026, 3, 11, 7)


def test_it_starts_the_new_shift_exactly_at_handoff() -> None:
    handoff = local("America/Chicago", 2026, 3, 10, 7)
    assert rotation.shift_bounds(team_at(), handoff)[0] == handoff
    assert rotation.shift_bounds(team_at(), handoff - timedelta(microseconds=1))[1] == handoff


def test_it_reads_the_handoff_from_a_team_row(team: Team, now: datetime) -> None:
    assert rotation.shift_bounds(team, now) == rotation.shift_bounds(team_at(), now)


def test_it_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        rotation.shift_bounds(team_at(), datetime(2026, 3, 10, 12))


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("America/Chicago", date(2026, 3, 7), 23),  # spring forward on Sunday 8 March
        ("America/Chicago", date(2026, 10, 31), 25),  # fall back on Sunday 1 November
        ("America/Chicago", date(2026, 3, 8), 24),
        ("Australia/Sydney", date(2026, 4, 4), 25),  # DST ends on Sunday 5 April
        ("Australia/Sydney", date(2026, 10, 3), 23),  # DST starts on Sunday 4 October
    ],
)
def test_it_makes_shifts_23_or_25_hours_on_dst_change_days(zone: str, day: date, hours: int) -> None:
    team = team_at(zone)
    start, end = rotation.shift_bounds(team, rotation.shift_start(team, day) + HOUR)
    assert end - start == timedelta(hours=hours)
    assert rotation.local_time(team, start).hour == rotation.local_time(team, end).hour == 7


def test_it_moves_a_handoff_in_a_dst_gap_forward_by_the_gap() -> None:
    team = team_at(handoff=time(2, 30))  # 02:30 does not exist on 8 March 2026 in Chicago
    assert rotation.shift_start(team, date(2026, 3, 8)) == datetime(
        2026, 3, 8, 8, 30, tzinfo=UTC
    )  # 03:30 CDT


def test_it_takes_the_first_of_two_handoffs_in_a_dst_fold() -> None:
    team = team_at(handoff=time(1, 30))  # 01:30 happens twice on 1 November 2026 in Chicago
    assert rotation.shift_start(team, date(2026, 11, 1)) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # CDT


moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC))
handoffs = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@given(zone=st.sampled_from(ZONES), handoff=handoffs, at=moments)
def test_it_puts_every_moment_in_a_shift_that_tiles_with_its_neighbours(
    zone: str, handoff: time, at: datetime
) -> None:
    team = team_at(zone, handoff)
    start, end = rotation.shift_bounds(team, at)
    assert start <= at < end
    assert rotation.shift_bounds(team, end)[0] == end
    assert rotation.shift_bounds(team, start - timedelta(microseconds=1))[1] == start
    assert timedelta(hours=22) <= end - start <= timedelta(hours=26)
    assert rotation.shift_of(team, end) == rotation.shift_of(team, at) + timedelta(days=1)


@given(zone=st.sampled_from(["America/Chicago", "Australia/Sydney"]), at=moments)
def test_it_lasts_24_hours_except_on_dst_change_days(zone: str, at: datetime) -> None:
    team = team_at(zone)
    start, end = rotation.shift_bounds(team, at)
    change = rotation.local_time(team, start).utcoffset() != rotation.local_time(team, end).utcoffset()
    expected = {timedelta(hours=23), timedelta(hours=25)} if change else {timedelta(hours=24)}
    assert end - start in expected


# --- the primary --------------------------------------------------------------------------------


def test_it_anchors_a_new_rotation_on_the_first_peer_now(session: Session, team: Team, now: datetime) -> None:
    first, _second = peers(session, team, 2)
    assert rotation.scheduled_primary(session, team, now) == first
    assert team.anchor_shift == date(2026, 3, 10)
    assert team.anchor_member_id == first.id


def test_it_rotates_daily_in_position_order(session: Session, team: Team, now: datetime) -> None:
    a, b, c = peers(session, team, 3)
    make_member(session, team, "Dr. Psych", role="psychologist")
    make_member(session, team, "Inactive Peer", active=False)
    rotation.reanchor(session, team, now)
    days = [rotation.scheduled_primary(session, team, now + timedelta(days=k)) for k in range(-1, 5)]
    assert days == [c, a, b, c, a, b]


def test_it_knows_the_primary_after_days_of_downtime(session: Session, team: Team, now: datetime) -> None:
    a, b, c = peers(session, team, 3)
    rotation.reanchor(session, team, now)
    # Nothing ran in between: the primary is counted from the anchor, not stepped at each handoff.
    assert rotation.scheduled_primary(session, team, now + timedelta(days=300)) == a
    assert rotation.scheduled_primary(session, team, now + timedelta(days=301)) == b
    assert rotation.scheduled_primary(session, team, now + timedelta(days=302)) == c


def test_it_advances_the_primary_by_exactly_one_per_shift(
    session: Session, team: Team, now: datetime
) -> None:
    crew = peers(session, team, 5)
    rotation.reanchor(session, team, now)

    @settings(max_examples=60, deadline=None)
    @given(shifts=st.integers(-2000, 2000), into=st.floats(0, 0.999))
    def check(shifts: int, into: float) -> None:
        start, end = rotation.shift_bounds(team, now + timedelta(days=shifts))
        at = start + (end - start) * into
        primary = rotation.scheduled_primary(session, team, at)
        following = rotation.scheduled_primary(session, team, end)
        assert primary is not None and following is not None
        assert crew.index(following) == (crew.index(primary) + 1) % len(crew)

    check()


def test_it_changes_the_primary_at_handoff_not_at_midnight(session: Session, team: Team) -> None:
    a, b = peers(session, team, 2)
    rotation.reanchor(session, team, local("America/Chicago", 2026, 3, 10, 12))
    assert rotation.scheduled_primary(session, team, local("America/Chicago", 2026, 3, 11, 6, 59)) == a
    assert rotation.scheduled_primary(session, team, local("America/Chicago", 2026, 3, 11, 7)) == b


operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 10)),
        st.tuples(st.just("remove"), st.integers(0, 10)),
        st.tuples(st.just("swap"), st.integers(0, 10)),
    ),
    min_size=1,
    max_size=6,
)


def test_it_never_changes_who_is_on_call_now_when_the_roster_changes(
    session: Session, team: Team, now: datetime
) -> None:
    peers(session, team, 4)
    session.commit()

    @settings(max_examples=40, deadline=None)
    @given(ops=operations, days=st.integers(-30, 30), hours=st.integers(0, 23))
    def check(ops: list[tuple[str, int]], days: int, hours: int) -> None:
        at = now + timedelta(days=days, hours=hours)
        savepoint = session.begin_nested()
        for op, n in ops:
            before = rotation.rotation_at(session, team, at)
            current = before[0] if before else None
            with rotation.roster_change(session, team, at):
                crew = rotation.rotation_peers(session, team)
                if op == "add":
                    newcomer = make_member(session, team, f"New {n}")
                    newcomer.position = n - 1  # anywhere in the order, even before everyone
                elif op == "remove" and crew:
                    crew[n % len(crew)].active = False
                elif op == "swap" and len(crew) > 1:
                    x, y = crew[n % len(crew)], crew[(n + 1) % len(crew)]
                    x.position, y.position = y.position, x.position
            after = rotation.scheduled_primary(session, team, at)
            remaining = {p.id for p in rotation.rotation_peers(session, team)}
            if current is not None and current.id in remaining:
                assert after == current
            else:  # the primary left: the next remaining peer in the old order takes over
                assert after == next((p for p in before if p.id in remaining), after)
        savepoint.rollback()

    check()


def test_it_hands_a_removed_primarys_shift_to_the_next_peer(
    session: Session, team: Team, now: datetime
) -> None:
    a, b, c = peers(session, team, 3)
    rotation.reanchor(session, team, now + timedelta(days=-1))  # b is primary now
    assert rotation.scheduled_primary(session, team, now) == b
    with rotation.roster_change(session, team, now):
        b.active = False
    assert rotation.scheduled_primary(session, team, now) == c
    assert rotation.scheduled_primary(session, team, now + timedelta(days=1)) == a


def test_it_survives_an_anchor_peer_deactivated_without_reanchoring(
    session: Session, team: Team, now: datetime
) -> None:
    a, b, c = peers(session, team, 3)
    rotation.reanchor(session, team, now)
    a.active = False
    session.flush()
    assert rotation.scheduled_primary(session, team, now) == b
    assert rotation.scheduled_primary(session, team, now + timedelta(days=1)) == c


# --- overrides ----------------------------------------------------------------------------------


def test_it_makes_an_override_member_primary_for_its_window(
    session: Session, team: Team, now: datetime
) -> None:
    a, b, c = peers(session, team, 3)
    rotation.reanchor(session, team, now)
    rotation.add_override(session, team, c, now - HOUR, now + HOUR, now)
    assert rotation.availability_list(session, team, now) == [c, a, b]
    assert rotation.availability_list(session, team, now + 2 * HOUR) == [a, b, c]


def test_it_lists_and_removes_overrides(session: Session, team: Team, now: datetime) -> None:
    a, b = peers(session, team, 2)
    past = rotation.add_override(session, team, a, now - 3 * HOUR, now + HOUR, now)
    later = rotation.add_override(session, team, b, now + 5 * HOUR, now + 9 * HOUR, now)
    assert rotation.list_overrides(session, team, now) == [past, later]
    assert rotation.list_overrides(session, team, now + 2 * HOUR) == [later]
    assert rotation.remove_override(session, later.id, team).member == b
    assert rotation.list_overrides(session, team) == [past]
    with pytest.raises(rotation.OverrideError, match="no override"):
        rotation.remove_override(session, later.id)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [(2, 1, "end after it starts"), (-5, -1, "already be over"), (0, 3, "overlaps")],
)
def test_it_refuses_overrides_that_make_no_sense(
    session: Session, team: Team, now: datetime, start: int, end: int, message: str
) -> None:
    a, b = peers(session, team, 2)
    rotation.add_override(session, team, a, now + 2 * HOUR, now + 4 * HOUR, now)
    with pytest.raises(rotation.OverrideError, match=message):
        rotation.add_override(session, team, b, now + start * HOUR, now + end * HOUR, now)


def test_it_only_lets_active_peers_take_a_shift(session: Session, team: Team, now: datetime) -> None:
    psych = make_member(session, team, "Dr. Psych", role="psychologist")
    with pytest.raises(rotation.OverrideError, match="not an active peer"):
        rotation.add_override(session, team, psych, now, now + HOUR, now)


# --- availability -------------------------------------------------------------------------------


def test_it_skips_away_opted_out_and_inactive_peers(session: Session, team: Team, now: datetime) -> None:
    a, b, c, d, e = peers(session, team, 5)
    rotation.reanchor(session, team, now)
    b.away_until = now + HOUR
    c.opted_out = True
    d.away_until = now - HOUR  # back already
    e.active = False
    assert rotation.availability_list(session, team, now) == [a, d]
    assert rotation.availability_list(session, team, now + HOUR) == [a, b, d]


def test_it_starts_with_the_next_available_peer_when_the_primary_is_away(
    session: Session, team: Team, now: datetime
) -> None:
    a, b, c = peers(session, team, 3)
    rotation.reanchor(session, team, now)
    a.away_until = now + timedelta(days=2)
    assert rotation.availability_list(session, team, now) == [b, c]
    assert rotation.availability_list(session, team, now + timedelta(days=1)) == [b, c]


def test_it_lists_available_peers_in_rotation_order_without_the_away_ones(
    session: Session, team: Team, now: datetime
) -> None:
    crew = peers(session, team, 6)
    rotation.reanchor(session, team, now)

    @settings(max_examples=40, deadline=None)
    @given(away=st.sets(st.integers(0, 5)), days=st.integers(0, 12))
    def check(away: set[int], days: int) -> None:
        at = now + timedelta(days=days)
        for i, peer in enumerate(crew):
            peer.away_until = at + HOUR if i in away else None
        listed = rotation.availability_list(session, team, at)
        order = rotation.rotation_at(session, team, at)
        assert listed == [p for p in order if crew.index(p) not in away]

    check()


def test_it_lists_fallback_members_of_a_role_in_order(session: Session, team: Team, now: datetime) -> None:
    first = make_member(session, team, "Dr. One", role="psychologist")
    make_member(session, team, "Dr. Gone", role="psychologist", active=False)
    make_member(session, team, "Dr. Opted", role="psychologist", opted_out=True)
    second = make_member(session, team, "Dr. Two", role="psychologist")
    make_member(session, team, "Director", role="director")
    assert rotation.fallback_members(session, team, "psychologist", now) == [first, second]


# --- coverage and handoff -----------------------------------------------------------------------


def test_it_finds_no_gaps_when_a_peer_is_always_available(
    session: Session, team: Team, now: datetime
) -> None:
    peers(session, team, 2)
    assert rotation.coverage_gaps(session, team, now, days=7) == []


def test_it_reports_shifts_that_start_with_every_peer_away(
    session: Session, team: Team, now: datetime
) -> None:
    a, b = peers(session, team, 2)
    a.away_until = b.away_until = local("America/Chicago", 2026, 3, 12, 9)  # back mid-shift on the 12th
    gaps = rotation.coverage_gaps(session, team, now, days=3)
    assert gaps == [
        rotation.shift_bounds(team, local("America/Chicago", 2026, 3, d, 8)) for d in (10, 11, 12)
    ]


def test_it_reports_every_shift_without_active_peers(session: Session, team: Team, now: datetime) -> None:
    make_member(session, team, "Opted", opted_out=True)
    make_member(session, team, "Gone", active=False)
    assert len(rotation.coverage_gaps(session, team, now, days=2)) == 3


def test_it_names_the_shift_and_whom_to_text_at_handoff(session: Session, team: Team, now: datetime) -> None:
    a, b = peers(session, team, 2)
    rotation.reanchor(session, team, now)
    handoff = local("America/Chicago", 2026, 3, 11, 7)
    due = rotation.handoff_due(session, team, handoff + timedelta(seconds=1), within=timedelta(minutes=5))
    assert due is not None
    assert (due.shift, due.start, due.end, due.primary) == (
        date(2026, 3, 11),
        handoff,
        handoff + timedelta(days=1),
        b,
    )
    b.away_until = handoff + HOUR
    later = rotation.handoff_due(session, team, handoff + timedelta(seconds=1))
    assert later is not None and later.primary == a
    assert rotation.handoff_due(session, team, handoff + HOUR, within=timedelta(minutes=5)) is None
