"""Periodic work: coverage warnings once per gap, and the claim that makes a cron firing run once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callout import rotation
from callout.away import UNTIL_BACK
from callout.config import Config
from callout.env import make_env
from callout.housekeeping import claim_run, coverage_warnings, purge
from callout.models import Member, Outbox, OutboxStatus, Team
from tests.conftest import Clock, RecordingTransport, make_member, send

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def test_a_cron_firing_is_claimed_once(session: Session) -> None:
    assert claim_run(session, NOW, "handoff:odessa", "2026-03-10")
    assert not claim_run(session, NOW, "handoff:odessa", "2026-03-10")
    assert claim_run(session, NOW, "handoff:odessa", "2026-03-11")


def test_the_director_is_told_once_of_a_coming_shift_with_nobody_available(
    session: Session, team: Team, config: Config
) -> None:
    env = make_env(config)
    make_member(session, team, "Rivera", away_until=NOW + timedelta(days=30))
    make_member(session, team, "Chen", active=False)
    director = make_member(session, team, "Lt. Nguyen", role="director")
    session.commit()
    assert coverage_warnings(session, env, NOW) >= 1
    again = coverage_warnings(session, env, NOW + timedelta(minutes=1))
    assert again == 0
    notices = session.scalars(select(Outbox).where(Outbox.purpose == "notice")).all()
    assert notices and all(env.vault.decrypt(n.to_enc or "") == director.phone for n in notices)
    assert "no peer or psychologist available" in (env.vault.decrypt(notices[0].body_enc or "") or "")


def test_no_warning_when_a_peer_covers_every_shift(session: Session, team: Team, config: Config) -> None:
    make_member(session, team, "Rivera")
    make_member(session, team, "Dr. Patel", role="psychologist")  # every fallback role is covered too
    make_member(session, team, "Lt. Nguyen", role="director")
    session.commit()
    assert coverage_warnings(session, make_env(config), NOW) == 0


def test_the_coverage_warning_is_one_text_with_the_running_shift_first_marked_now(
    session: Session, team: Team, config: Config
) -> None:
    env = make_env(config)
    make_member(session, team, "Rivera", away_until=NOW + timedelta(days=30))
    psych = make_member(session, team, "Dr. Patel", role="psychologist")
    director = make_member(session, team, "Lt. Nguyen", role="director")
    session.commit()
    assert coverage_warnings(session, env, NOW) == 3  # the running shift and the next two
    [notice] = session.scalars(select(Outbox).where(Outbox.purpose == "notice")).all()
    body = env.vault.decrypt(notice.body_enc or "") or ""
    assert env.vault.decrypt(notice.to_enc or "") == director.phone
    assert body.startswith(
        "Odessa PD Peer Support: please arrange cover. NOW to Wed 07:00: no peer available."
    )
    assert body.index("NOW") < body.index("Wed 07:00 to Thu 07:00") < body.index("Thu 07:00 to Fri 07:00")
    assert body.count("NOW") == 1 and len(body) <= 320
    # A new gap (the psychologist goes away too): again one text, with every gap as it now stands.
    psych.away_since, psych.away_until = NOW, UNTIL_BACK
    session.commit()
    later = NOW + timedelta(minutes=10)
    assert coverage_warnings(session, env, later) == 3
    notices = session.scalars(select(Outbox).where(Outbox.purpose == "notice").order_by(Outbox.id)).all()
    assert len(notices) == 2
    assert "NOW to Wed 07:00: no peer or psychologist available." in (
        env.vault.decrypt(notices[1].body_enc or "") or ""
    )
    assert coverage_warnings(session, env, later + timedelta(minutes=10)) == 0


def test_the_coverage_check_passes_a_team_by_until_the_next_handoff_or_a_roster_change(
    rt: Any, clock: Clock, transport: RecordingTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    with rt.sessions() as session, session.begin():
        team = session.scalar(select(Team))
        make_member(session, team, "Rivera", away_until=clock.now + timedelta(days=30))
        make_member(session, team, "Dr. Patel", role="psychologist")
        director = make_member(session, team, "Lt. Nguyen", role="director")
    looked: list[datetime] = []
    uncovered = rotation.uncovered

    def counting(session: Session, team: Team, now: datetime, *args: Any) -> Any:
        looked.append(now)
        return uncovered(session, team, now, *args)

    monkeypatch.setattr(rotation, "uncovered", counting)
    assert rt.run(coverage_warnings) == 3  # Tue 10:00 in Odessa: today's shift, Wednesday's, Thursday's
    for _ in range(3):
        clock.advance(minutes=10)
        assert rt.run(coverage_warnings) == 0
    assert len(looked) == 1  # nothing new can appear before the next handoff while the roster stays
    clock.now = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # Wed 07:00: Friday's shift comes into view
    assert rt.run(coverage_warnings) == 1
    assert len(looked) == 2

    def psychologist_away(session: Session, env: Any, now: datetime) -> None:
        patel = session.scalar(select(Member).where(Member.name == "Dr. Patel"))
        patel.away_since, patel.away_until = now, UNTIL_BACK

    rt.run(psychologist_away)
    clock.advance(minutes=10)
    assert rt.run(coverage_warnings) == 3  # the roster changed: looked at again, every gap lacks both now
    assert len(looked) == 3
    send(rt)
    told = transport.to(director.phone)
    assert len(told) == 3 and "no peer or psychologist available" in told[-1]


def test_the_purge_forgets_old_notices_whatever_became_of_them_but_not_those_still_to_send(
    session: Session, team: Team, config: Config
) -> None:
    env = make_env(config)
    old = NOW - config.privacy.purge_after - timedelta(minutes=1)
    for status in OutboxStatus:
        session.add(
            Outbox(
                team_id=team.id,
                channel="sms",
                purpose="notice",
                to_enc=env.vault.encrypt("+14325550101"),
                body_enc=env.vault.encrypt(f"a notice that ended {status}"),
                status=status,
                next_attempt_at=old,
                created_at=old,
            )
        )
    session.commit()
    purge(session, env, NOW)
    session.commit()
    left = session.scalars(select(Outbox.status)).all()
    assert sorted(left) == sorted([OutboxStatus.PENDING, OutboxStatus.SENDING])  # still to go, or going
