"""The command line for what members do between calls: tests confirmed, covers, overrides and AWAY shown."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callout.conversation import FOREVER
from callout.models import Cover, Member, Override, Request, Team
from cli import cli
from tests.conftest import DATA_KEY, NOW

CHICAGO = ZoneInfo("America/Chicago")
ROSTER = "".join(
    f'[[members]]\nname = "{name}"\nphone = "432555{number}"\nrole = "{role}"\n'
    for name, number, role in (
        ("Ofc. Dana Rivera", "0101", "peer"),
        ("Sgt. Lee Park", "0102", "peer"),
        ("Det. Kim Moss", "0103", "peer"),
        ("Lt. Ray Ortiz", "0105", "director"),
        ("Jo Vance", "0106", "dispatch"),  # never paged: no TEST asked of them
    )
)


@pytest.fixture
def run(tmp_path: Path, database_url: str) -> object:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\ndatabase_url = "{database_url}"\n[privacy]\ndata_key = "{DATA_KEY}"\n'
        '[[teams]]\nslug = "odessa"\nname = "Odessa"\nsupport_number = "+14325550100"\n'
    )
    (tmp_path / "roster.toml").write_text(ROSTER)

    def invoke(*args: str) -> str:
        result = CliRunner().invoke(cli, ["--config", str(config), *args])
        assert result.exit_code in (0, 1), result.output
        return result.output

    with time_machine.travel(NOW, tick=False):
        invoke("roster", "import", str(tmp_path / "roster.toml"))
        yield invoke


def member(session: Session, name: str) -> Member:
    found = session.scalar(select(Member).where(Member.name == name))
    assert found is not None
    return found


def test_roster_list_shows_each_members_last_confirmed_test(
    run: object, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session, session.begin():
        member(session, "Sgt. Lee Park").test_confirmed_at = NOW - timedelta(days=2)
    lines = run("roster", "list").splitlines()  # type: ignore[operator]
    assert "LAST TEST" in lines[1]
    park = next(line for line in lines if line.startswith("Sgt. Lee Park"))
    rivera = next(line for line in lines if line.startswith("Ofc. Dana Rivera"))
    assert "Sun 2026-03-08 10:00 CDT" in park and "never" in rivera


def test_the_coverage_check_names_members_never_tested_or_opted_out(
    run: object, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session, session.begin():
        member(session, "Sgt. Lee Park").test_confirmed_at = NOW
        member(session, "Det. Kim Moss").opted_out = True
    output = run("oncall", "--check")  # type: ignore[operator]
    assert "opted out of texts (pages can't reach them): Det. Kim Moss" in output
    untested = next(line for line in output.splitlines() if "never confirmed a TEST page" in line)
    assert untested.endswith(
        "never confirmed a TEST page (ask them to text TEST): Ofc. Dana Rivera, Lt. Ray Ortiz"
    )


def test_oncall_shows_covers_overrides_and_away_with_their_ends(
    run: object, sessions: sessionmaker[Session]
) -> None:
    wednesday = datetime(2026, 3, 11, 7, tzinfo=CHICAGO)
    with sessions() as session, session.begin():
        team = session.scalar(select(Team))
        park, moss, rivera = (
            member(session, n) for n in ("Sgt. Lee Park", "Det. Kim Moss", "Ofc. Dana Rivera")
        )
        ask = Request(
            team=team,
            code="CQVR",
            kind="cover",
            channel="sms",
            opened_at=NOW,
            initiator=park,
            status="closed",
        )
        session.add(ask)
        session.flush()
        session.add(
            Override(
                team_id=team.id,
                member=moss,
                starts_at=wednesday,
                ends_at=wednesday + timedelta(days=1),
                created_at=NOW,
                cover_id=ask.id,
            )
        )
        other = Request(team=team, code="CQWX", kind="cover", channel="sms", opened_at=NOW, initiator=moss)
        session.add(other)
        session.flush()
        session.add(
            Cover(
                request_id=other.id,
                team_id=team.id,
                asker_id=moss.id,
                starts_at=wednesday + timedelta(days=1),
                ends_at=wednesday + timedelta(days=2),
                alert_at=NOW,
                state="open",
            )
        )
        rivera.away_since, rivera.away_until = NOW, FOREVER
    output = run("oncall")  # type: ignore[operator]
    assert (
        "cover CQVR (override 1): Det. Kim Moss for Sgt. Lee Park,"
        " Wed 2026-03-11 07:00 CDT to Thu 2026-03-12 07:00 CDT" in output
    )
    assert (
        "COVER CQWX asked by Det. Kim Moss for Thu 2026-03-12 07:00 CDT to Fri 2026-03-13 07:00 CDT" in output
    )
    assert "away: Ofc. Dana Rivera (peer) since Tue 2026-03-10 10:00 CDT, until they text BACK" in output
    assert "skipped: Ofc. Dana Rivera, away until they text BACK" in output


def test_an_override_from_the_command_line_tells_both_members(
    run: object, sessions: sessionmaker[Session]
) -> None:
    output = run(
        "oncall",
        "override",
        "--member",
        "Det. Kim Moss",
        "--from",
        "2026-03-10T12:00",  # type: ignore[operator]
        "--to",
        "2026-03-11T07:00",
    )
    assert "override 1: Det. Kim Moss is primary" in output
    with sessions() as session:
        texts = session.scalars(select(Request)).all()
        assert texts == []  # notices are not requests
        from callout.models import Outbox

        assert session.query(Outbox).count() == 2  # the new primary and the one displaced
