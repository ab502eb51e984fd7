"""Periodic work: coverage warnings once per gap, and the claim that makes a cron firing run once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from callout.config import Config
from callout.env import make_env
from callout.housekeeping import claim_run, coverage_warnings
from callout.models import Outbox, Team
from tests.conftest import make_member

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
    assert "no peer is available" in (env.vault.decrypt(notices[0].body_enc or "") or "")


def test_no_warning_when_a_peer_covers_every_shift(session: Session, team: Team, config: Config) -> None:
    make_member(session, team, "Rivera")
    make_member(session, team, "Lt. Nguyen", role="director")
    session.commit()
    assert coverage_warnings(session, make_env(config), NOW) == 0
