"""Two peers taking one COVER at the same moment, and one COVER texted twice at once (PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callout import conversation, cover, requests, rotation
from callout.env import Env
from callout.models import Cover, Member, Override, Team
from tests.conftest import TEST_DATABASE_URL, Clock, add_roster
from tests.test_concurrency import at_once

pytestmark = pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs CALLOUT_TEST_DATABASE_URL")


@pytest.fixture
def team(rt: Any, clock: Clock) -> dict[str, Member]:
    roster = add_roster(
        rt,
        rivera=("Rivera", "peer"),
        park=("Park", "peer"),
        moss=("Moss", "peer"),
        chen=("Chen", "peer"),
        ortiz=("Ortiz", "director"),
    )
    # Anchored, as a roster import leaves it: else the first text anchors it and the second waits for that.
    rt.run(lambda session, env, now: rotation.ensure_anchor(session, session.scalar(select(Team)), now))
    return roster


def texted(member: Member, body: str) -> Any:
    """Return work that handles member's text as the webhook does, returning the reply."""

    def work(session: Session, env: Env, now: datetime) -> str | None:
        row = session.scalar(select(Team))
        return conversation.handle_sms(session, env, now, row, member.phone, body).text

    return work


def test_two_peers_taking_one_cover_at_once_make_one_override(
    rt: Any, team: dict[str, Member], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt.run(texted(team["park"], "COVER"))
    with rt.sessions() as session:
        code = session.scalars(select(Cover)).one().request.code
    replies = at_once(
        rt,
        monkeypatch,
        requests,
        "lock",
        texted(team["moss"], f"1 {code}"),
        texted(team["chen"], f"1 {code}"),
    )
    won = [r for r in replies if r and "is yours" in r]
    lost = [r for r in replies if r and "already taken by" in r]
    assert len(won) == 1 and len(lost) == 1
    with rt.sessions() as session:
        (override,) = session.scalars(select(Override)).all()
        assert override.member.name in lost[0]
        assert session.scalars(select(Cover)).one().state == "taken"


def test_one_cover_texted_twice_at_once_asks_once(
    rt: Any, team: dict[str, Member], monkeypatch: pytest.MonkeyPatch
) -> None:
    replies = at_once(
        rt, monkeypatch, cover, "_whom_to_ask", texted(team["park"], "COVER"), texted(team["park"], "COVER")
    )
    assert sum("Asked 3 peers" in (r or "") for r in replies) == 1
    assert sum("You already asked for cover" in (r or "") for r in replies) == 1
    with rt.sessions() as session:
        assert len(session.scalars(select(Cover)).all()) == 1
