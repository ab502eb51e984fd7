"""The roster kept in memory per roster version: the same answers as the database, in every process."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callout import rotation
from callout.env import make_env
from callout.models import Member, Team
from tests.conftest import NOW, add_roster


def team_of(session: Session) -> Team:
    team = session.scalar(select(Team))
    assert team is not None
    return team


def version(rt: Any) -> int:
    with rt.sessions() as session:
        return team_of(session).roster_version


def on_call(rt: Any, env: Any, at: datetime = NOW) -> list[str]:
    """Return who env's process would page at at, in order (and check it against the database's answer)."""
    with rt.sessions() as session, session.begin():
        team = team_of(session)
        cached = [p.name for p in env.lineups.available(session, team, at)]
        assert cached == [m.name for m in rotation.availability_list(session, team, at)]
        return cached


def test_every_change_to_a_member_or_an_override_counts_the_roster_version_up(rt: Any) -> None:
    members = add_roster(rt, rivera=("Rivera", "peer"), chen=("Chen", "peer"))
    before = version(rt)
    with rt.sessions() as session, session.begin():
        session.execute(update(Member).where(Member.id == members["chen"].id).values(away_until=NOW))
    after_away = version(rt)
    with rt.sessions() as session, session.begin():
        team = team_of(session)
        rotation.add_override(
            session, team, session.get(Member, members["chen"].id), NOW, NOW + timedelta(hours=2), NOW
        )
    assert before < after_away < version(rt)


def test_a_change_of_a_column_the_lineup_does_not_hold_leaves_the_version(rt: Any) -> None:
    add_roster(rt, rivera=("Rivera", "peer"))
    with rt.sessions() as session, session.begin():
        team_of(session).name = "Renamed"  # not a roster change
    before = version(rt)
    with rt.sessions() as session, session.begin():
        team = team_of(session)
        team.anchor_shift = team.anchor_shift  # touching the team row itself
    assert version(rt) == before


def test_a_roster_change_in_another_process_is_seen_at_once(rt: Any) -> None:
    members = add_roster(rt, rivera=("Rivera", "peer"), chen=("Chen", "peer"), ortiz=("Ortiz", "peer"))
    here, there = rt.env, make_env(rt.config)  # two processes' memories
    first = on_call(rt, here)
    assert on_call(rt, there) == first
    with rt.sessions() as session, session.begin():  # "there" marks the primary away
        primary = session.scalar(select(Member).where(Member.name == first[0]))
        assert primary is not None
        primary.away_until, primary.away_since = NOW + timedelta(days=1), NOW
    assert on_call(rt, here) == first[1:]
    with rt.sessions() as session, session.begin():  # and deactivates another, with a Core statement
        session.execute(update(Member).where(Member.id == members["ortiz"].id).values(active=False))
    assert "Ortiz" not in on_call(rt, here)


def test_a_transaction_that_changed_the_roster_reads_its_own_changes(rt: Any) -> None:
    add_roster(rt, rivera=("Rivera", "peer"), chen=("Chen", "peer"))
    first = on_call(rt, rt.env)
    with rt.sessions() as session, session.begin():
        team = team_of(session)
        primary = session.scalar(select(Member).where(Member.name == first[0]))
        assert primary is not None
        primary.active = False
        session.flush()
        assert [p.name for p in rt.env.lineups.available(session, team, NOW)] == first[1:]
        session.rollback()
    assert on_call(rt, rt.env) == first  # and what it rolled back left no trace in the cache


def test_the_member_texting_is_found_without_reading_the_roster_again(rt: Any) -> None:
    members = add_roster(rt, rivera=("Rivera", "peer"))
    on_call(rt, rt.env)
    with rt.sessions() as session:
        team = team_of(session)
        found = rt.env.lineups.member_by_phone(session, team, members["rivera"].phone)
        assert found is not None and found.name == "Rivera"
        assert rt.env.lineups.member_by_phone(session, team, "+14325559876") is None
