"""Calendar feeds: parsed back with icalendar across both DST changes, names only, 304s, tokens hashed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from callout import calendar, rotation
from callout.models import AuditEntry, CalendarToken, Member, Team
from cli import cli
from tests.conftest import DATA_KEY, NOW, Clock, add_roster

CHICAGO = ZoneInfo("America/Chicago")


@pytest.fixture
def team(rt: Any) -> dict[str, Member]:
    return add_roster(
        rt,
        rivera=("Ofc. Dana Rivera", "peer"),
        park=("Sgt. Lee Park", "peer"),
        moss=("Det. Kim Moss", "peer"),
        cruz=("Dr. Ana Cruz", "psychologist"),
        ortiz=("Lt. Ray Ortiz", "director"),
    )


def token(rt: Any, member: Member | None, rotate: bool = False) -> str:
    """Return (make, or with rotate replace) a feed token, as SHIFTS and the command do."""

    def work(session: Any, env: Any, now: datetime) -> str:
        row = session.scalar(select(Team).where(Team.slug == "odessa"))
        owner = session.get(Member, member.id) if member else None
        action = calendar.rotate if rotate else calendar.token_for
        return action(session, env, row, owner, now)

    result: str = rt.run(work)
    return result


def parse(response: Any) -> icalendar.Calendar:
    """Assert a feed answered 200 as iCalendar and parse it back."""
    assert response.status_code == 200
    assert response.content_type == "text/calendar; charset=utf-8"
    return icalendar.Calendar.from_ical(response.get_data())


def events(cal: icalendar.Calendar) -> list[Any]:
    """Return a feed's events in order."""
    return sorted(cal.walk("VEVENT"), key=lambda e: e.decoded("dtstart"))


def test_a_members_feed_has_their_shifts_in_the_teams_zone_with_its_vtimezone(
    app: Any, rt: Any, team: dict[str, Member], clock: Clock
) -> None:
    cal = parse(app.test_client().get(f"/calendar/{token(rt, team['park'])}.ics"))
    assert str(cal["x-wr-calname"]) == "Sgt. Lee Park: on call (Odessa PD Peer Support)"
    (zone,) = cal.walk("VTIMEZONE")
    assert str(zone["tzid"]) == "America/Chicago"
    shifts = events(cal)
    assert len(shifts) == 30  # every third shift, from today's to 90 days ahead
    first = shifts[0]
    assert first.decoded("dtstart") == datetime(2026, 3, 11, 7, tzinfo=CHICAGO)
    assert str(first["dtstart"].params["TZID"]) == "America/Chicago"
    assert str(first["summary"]) == "On call"
    assert all(e.decoded("dtstart").astimezone(CHICAGO).hour == 7 for e in shifts)
    assert all(e.decoded("dtend") - e.decoded("dtstart") == timedelta(days=1) for e in shifts[1:])


@pytest.mark.parametrize(
    ("today", "change_day", "hours"),
    [
        (datetime(2026, 3, 5, 15, tzinfo=UTC), datetime(2026, 3, 7, 7, tzinfo=CHICAGO), 23),
        (datetime(2026, 10, 28, 15, tzinfo=UTC), datetime(2026, 10, 31, 7, tzinfo=CHICAGO), 25),
    ],
)
def test_the_team_feed_makes_dst_change_shifts_23_and_25_hours_long(
    app: Any,
    rt: Any,
    team: dict[str, Member],
    clock: Clock,
    today: datetime,
    change_day: datetime,
    hours: int,
) -> None:
    clock.now = today
    cal = parse(app.test_client().get(f"/calendar/{token(rt, None)}.ics"))
    shifts = events(cal)
    assert len(shifts) == 91 and all(str(e["summary"]).startswith("On call: ") for e in shifts)
    change = next(e for e in shifts if e.decoded("dtstart") == change_day)
    start, end = change.decoded("dtstart"), change.decoded("dtend")
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=hours)
    assert (start.hour, end.hour) == (7, 7)
    utc = [e.decoded("dtstart").astimezone(UTC) for e in shifts]
    lengths = {b - a for a, b in pairwise(utc)}
    assert lengths == {timedelta(hours=24), timedelta(hours=hours)}
    # A phone without the zone database reads the feed's own VTIMEZONE: built from it alone, every start and
    # end (07:00 as written) falls at the same instant as by the zone database.
    (vtimezone,) = cal.walk("VTIMEZONE")
    assert str(vtimezone["tzid"]) == "America/Chicago"
    own = vtimezone.to_tz(lookup_tzid=False)
    assert not isinstance(own, ZoneInfo)
    for event in shifts:
        for key in ("dtstart", "dtend"):
            written = event.decoded(key)
            assert written.replace(tzinfo=own).astimezone(UTC) == written.astimezone(UTC), (key, written)


def test_feeds_show_overrides_covers_and_away_and_names_only(
    app: Any, rt: Any, team: dict[str, Member], clock: Clock
) -> None:
    def work(session: Any, env: Any, now: datetime) -> None:
        row = session.scalar(select(Team).where(Team.slug == "odessa"))
        moss = session.get(Member, team["moss"].id)
        start = datetime(2026, 3, 11, 7, tzinfo=CHICAGO)  # Park's shift goes to Moss
        rotation.add_override(session, row, moss, start, start + timedelta(days=1), now)
        rivera = session.get(Member, team["rivera"].id)
        rivera.away_since = now - timedelta(hours=4)  # since before today's handoff
        rivera.away_until = datetime(2026, 3, 16, 12, tzinfo=CHICAGO)

    rt.run(work)
    client = app.test_client()
    whole = client.get(f"/calendar/{token(rt, None)}.ics")
    body = whole.get_data(as_text=True)
    shifts = events(parse(whole))
    # Rivera is away today (Moss stands in), Moss has Park's shift tomorrow by the override
    assert [str(e["summary"]) for e in shifts[:4]] == [
        "On call: Sgt. Lee Park",
        "On call: Det. Kim Moss",
        "On call: Det. Kim Moss",
        "On call: Sgt. Lee Park",
    ]
    assert "Override set by the director" in str(shifts[1]["description"])
    assert "Standing in for Ofc. Dana Rivera" in str(shifts[0]["description"])
    for member in team.values():
        assert member.phone not in body and member.phone[2:] not in body
    mine = events(parse(client.get(f"/calendar/{token(rt, team['rivera'])}.ics")))
    away = [e for e in mine if str(e["summary"]) == "Away"]
    assert len(away) == 1 and away[0].decoded("dtend") == datetime(2026, 3, 16, 12, tzinfo=CHICAGO)
    assert all(
        e.decoded("dtstart") >= datetime(2026, 3, 16, 7, tzinfo=CHICAGO) for e in mine if e not in away
    )
    park = events(parse(client.get(f"/calendar/{token(rt, team['park'])}.ics")))
    assert datetime(2026, 3, 11, 7, tzinfo=CHICAGO) not in [e.decoded("dtstart") for e in park]


def test_an_unchanged_feed_answers_304_and_a_change_gives_a_new_etag(
    app: Any, rt: Any, team: dict[str, Member], clock: Clock
) -> None:
    client = app.test_client()
    url = f"/calendar/{token(rt, team['rivera'])}.ics"
    first = client.get(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    clock.advance(minutes=5)
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == etag
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(url).headers["Last-Modified"] == modified  # nothing changed: the same date

    def work(session: Any, env: Any, now: datetime) -> None:
        row = session.scalar(select(Team).where(Team.slug == "odessa"))
        park = session.get(Member, team["park"].id)
        start = datetime(2026, 3, 10, 19, tzinfo=CHICAGO)  # Park takes Rivera's evening
        rotation.add_override(session, row, park, start, start + timedelta(hours=12), now)

    rt.run(work)
    changed = client.get(url, headers={"If-None-Match": etag, "If-Modified-Since": modified})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.headers["Last-Modified"] != modified
    first_event = events(parse(changed))[0]
    assert first_event.decoded("dtend") == datetime(2026, 3, 10, 19, tzinfo=CHICAGO)


def test_unknown_rotated_and_deactivated_tokens_are_404(
    app: Any, rt: Any, team: dict[str, Member], clock: Clock
) -> None:
    client = app.test_client()
    assert client.get("/calendar/nope.ics").status_code == 404
    assert client.get(f"/calendar/{'x' * 32}.ics").status_code == 404
    old = token(rt, team["park"])
    new = token(rt, team["park"], rotate=True)
    assert old != new and token(rt, team["park"]) == new
    assert client.get(f"/calendar/{old}.ics").status_code == 404
    assert client.get(f"/calendar/{new}.ics").status_code == 200
    with rt.sessions() as session, session.begin():
        session.get(Member, team["park"].id).active = False
    assert client.get(f"/calendar/{new}.ics").status_code == 404


def test_tokens_are_stored_hashed_and_encrypted_never_in_clear(
    rt: Any, team: dict[str, Member], clock: Clock
) -> None:
    issued = [token(rt, None), token(rt, team["rivera"])]
    with rt.engine.connect() as db:
        dump = " ".join(str(row) for row in db.execute(text("SELECT * FROM calendar_tokens")))
    assert all(t not in dump for t in issued)
    with rt.sessions() as session:
        hashes = set(session.scalars(select(CalendarToken.token_hash)))
    assert len(hashes) == 2


def test_the_command_prints_every_feed_and_rotates_them(tmp_path: Path, database_url: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\ndatabase_url = "{database_url}"\npublic_url = "https://peer.example.org"\n'
        f'[privacy]\ndata_key = "{DATA_KEY}"\n'
        '[[teams]]\nslug = "odessa"\nname = "Odessa"\nsupport_number = "+14325550100"\n'
        'roster = "roster.toml"\n'
    )
    (tmp_path / "roster.toml").write_text(
        '[[members]]\nname = "Rivera"\nphone = "4325550101"\nrole = "peer"\n'
        '[[members]]\nname = "Park"\nphone = "4325550102"\nrole = "peer"\n'
        '[[members]]\nname = "Ortiz"\nphone = "4325550105"\nrole = "director"\n'
    )

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, ["--config", str(config), "oncall", "calendar", *args])
        assert result.exit_code == 0, result.output
        return result.output

    with time_machine.travel(NOW, tick=False):
        CliRunner().invoke(cli, ["--config", str(config), "roster", "import", str(tmp_path / "roster.toml")])
        listed = run()
        lines = listed.splitlines()
        assert [line.split(": https")[0] for line in lines] == ["Odessa (whole rotation)", "Rivera", "Park"]
        assert all("https://peer.example.org/calendar/" in line and line.endswith(".ics") for line in lines)
        assert run() == listed  # the same links every time
        assert run("--member", "Ortiz").startswith("Ortiz: https://peer.example.org/calendar/")
        rotated = run("--member", "Park", "--rotate")
        assert "rotated 1 feed" in rotated and rotated.splitlines()[0] not in listed
        assert run().splitlines()[1] == lines[1]  # Rivera's link is untouched
    engine = create_engine(database_url)
    with Session(engine) as session:
        entries = [(e.via, e.action, e.summary) for e in session.scalars(select(AuditEntry))]
    engine.dispose()
    assert (
        "cli",
        "calendar.rotate",
        "replaced the calendar feed URLs of Park",
    ) in entries  # printing alone: none
    assert [action for _via, action, _summary in entries].count("calendar.rotate") == 1  # printing: none
    with time_machine.travel(NOW, tick=False):
        unknown = CliRunner().invoke(
            cli, ["--config", str(config), "oncall", "calendar", "--member", "Nobody"]
        )
        assert unknown.exit_code == 2 and "no active member" in unknown.output
