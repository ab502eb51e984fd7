"""The calendar page: a month of shifts from the shifts domain function, and overrides assigned on it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from callout.config import Config
from callout.models import AuditEntry, Member, Override
from tests.conftest import Clock, ConsoleClient, TwilioClient, add_roster, make_config, make_user, team_table


@pytest.fixture
def config(database_url: str) -> Config:
    return make_config(
        database_url,
        team_table(),
        team_table(slug="midland", name="Midland PD", support_number="+14325550200"),
    )


@pytest.fixture
def roster(rt: Any, clock: Clock) -> dict[str, Member]:
    members = add_roster(
        rt,
        rivera=("Ofc. Dana Rivera", "peer"),
        chen=("Sgt. Mei Chen", "peer"),
        ortiz=("Det. Luis Ortiz", "peer"),
        nguyen=("Lt. Sam Nguyen", "director"),
    )
    from callout import rotation
    from callout.teams import get_team

    rt.run(lambda s, e, n: rotation.ensure_anchor(s, get_team(s, e.config.team("odessa")), n))
    return members


def client(app: Any, rt: Any, username: str, role: str) -> ConsoleClient:
    make_user(rt, username, role)
    c = ConsoleClient(app)
    c.login(username)
    return c


def cell(page: str, day: str) -> str:
    found = re.search(rf'<td class="day[^"]*"[^>]*id="day-{day}".*?</td>', page, re.S)
    assert found, f"no cell for {day}"
    return found.group(0)


def test_the_month_shows_the_rotation_and_the_dst_days(app: Any, rt: Any, roster: dict[str, Member]) -> None:
    director = client(app, rt, "lt.nguyen", "director")
    page = director.get("/console/odessa/calendar?month=2026-03").get_data(as_text=True)
    assert "<h1>March 2026</h1>" in page
    assert "Ofc. Dana Rivera" in cell(page, "2026-03-10") and "today" in cell(page, "2026-03-10")
    assert "Sgt. Mei Chen" in cell(page, "2026-03-11") and "Det. Luis Ortiz" in cell(page, "2026-03-12")
    assert "Ofc. Dana Rivera" in cell(page, "2026-03-13")
    assert "23 h shift" in cell(page, "2026-03-07")  # 07:00 CST to 07:00 CDT
    assert "h shift" not in cell(page, "2026-03-08")
    november = director.get("/console/odessa/calendar?month=2026-10").get_data(as_text=True)
    assert "25 h shift" in cell(november, "2026-10-31")
    assert 'id="day-2026-02-23"' in page  # the first week starts on a Monday in February


def test_a_director_assigns_a_range_to_a_peer_and_removes_it(
    app: Any, rt: Any, roster: dict[str, Member]
) -> None:
    director = client(app, rt, "lt.nguyen", "director")
    form = director.get("/console/odessa/calendar?month=2026-03&day=2026-03-12").get_data(as_text=True)
    assert '<label for="member">Peer</label>' in form and 'value="2026-03-12"' in form
    response = director.post(
        "/console/odessa/calendar/overrides",
        {"member": str(roster["ortiz"].id), "first": "2026-03-14", "last": "2026-03-16"},
    )
    assert response.status_code == 303
    page = director.get(response.headers["Location"]).get_data(as_text=True)
    assert "Assigned: Det. Luis Ortiz primary Sat 14 Mar 07:00 to Tue 17 Mar 07:00." in page
    for day in ("2026-03-14", "2026-03-15", "2026-03-16"):
        assert "Det. Luis Ortiz" in cell(page, day) and "(override)" in cell(page, day)
    assert "(override)" not in cell(page, "2026-03-17")
    (override,) = rt.run(lambda s, e, n: s.scalars(select(Override)).all())
    assert override.starts_at.isoformat() == "2026-03-14T12:00:00+00:00"
    removed = director.post(f"/console/odessa/calendar/overrides/{override.id}/remove", {})
    page = director.get(removed.headers["Location"]).get_data(as_text=True)
    assert "Removed: Det. Luis Ortiz primary" in page and "(override)" not in cell(page, "2026-03-15")
    entries = rt.run(lambda s, e, n: [(a.actor, a.action) for a in s.scalars(select(AuditEntry))])
    assert entries == [("lt.nguyen", "override.add"), ("lt.nguyen", "override.remove")]


def test_an_override_that_makes_no_sense_is_refused_with_a_reason(
    app: Any, rt: Any, roster: dict[str, Member]
) -> None:
    director = client(app, rt, "lt.nguyen", "director")
    cases = [
        (
            {"member": str(roster["ortiz"].id), "first": "2026-03-16", "last": "2026-03-14"},
            "last day comes before",
        ),
        ({"member": str(roster["ortiz"].id), "first": "2026-03-01", "last": "2026-03-02"}, "already be over"),
        (
            {"member": str(roster["nguyen"].id), "first": "2026-03-14", "last": "2026-03-14"},
            "not an active peer",
        ),
        ({"member": "", "first": "2026-03-14", "last": "2026-03-14"}, "Choose a peer"),
        ({"member": str(roster["ortiz"].id), "first": "soon", "last": "2026-03-14"}, "YYYY-MM-DD"),
    ]
    for fields, reason in cases:
        response = director.post("/console/odessa/calendar/overrides", fields)
        page = director.get(response.headers["Location"]).get_data(as_text=True)
        assert reason in page, reason
    assert rt.run(lambda s, e, n: s.scalars(select(Override)).all()) == []


def test_gaps_are_red_and_away_is_shown(
    app: Any, rt: Any, roster: dict[str, Member], twilio: TwilioClient
) -> None:
    director = client(app, rt, "lt.nguyen", "director")
    for name in ("rivera", "chen", "ortiz"):
        twilio.sms(roster[name].phone, "AWAY 2d")
    page = director.get("/console/odessa/calendar?month=2026-03").get_data(as_text=True)
    today = cell(page, "2026-03-10")
    assert " gap" in today.split(">")[0] and "No peer" in today and "Away: Det. Luis Ortiz" in today
    assert " gap" not in cell(page, "2026-03-13").split(">")[0]


def test_a_viewer_reads_the_calendar_and_cannot_change_it(
    app: Any, rt: Any, roster: dict[str, Member]
) -> None:
    viewer = client(app, rt, "viewer", "viewer")
    page = viewer.get("/console/odessa/calendar").get_data(as_text=True)
    assert "Ofc. Dana Rivera" in page and "Assign days" not in page and "Remove" not in page
    fields = {"member": str(roster["ortiz"].id), "first": "2026-03-14", "last": "2026-03-14"}
    assert viewer.post("/console/odessa/calendar/overrides", fields).status_code == 403
    desk = client(app, rt, "desk", "dispatch")
    assert desk.get("/console/odessa/calendar").status_code == 403
    other = ConsoleClient(app)
    make_user(rt, "mid", "director", "midland")
    other.login("mid")
    assert other.get("/console/odessa/calendar").status_code == 404
    assert other.post("/console/odessa/calendar/overrides", fields).status_code == 404
    assert rt.run(lambda s, e, n: s.scalars(select(Override)).all()) == []


def test_a_bad_month_is_400(app: Any, rt: Any, roster: dict[str, Member]) -> None:
    director = client(app, rt, "lt.nguyen", "director")
    for month in ("2026-13", "March", "0001-01"):
        assert director.get(f"/console/odessa/calendar?month={month}").status_code == 400


def test_an_override_of_the_shift_running_tells_the_new_primary_and_the_one_displaced(
    app: Any, rt: Any, roster: dict[str, Member], transport: Any
) -> None:
    from tests.conftest import send

    director = client(app, rt, "lt.nguyen", "director")
    response = director.post(
        "/console/odessa/calendar/overrides",
        {"member": str(roster["ortiz"].id), "first": "2026-03-10", "last": "2026-03-10"},
    )
    assert response.status_code == 303
    send(rt)
    assert transport.to(roster["ortiz"].phone) == [
        "Odessa PD Peer Support: you're on call now, until Wed 11 Mar 07:00 CDT (the director's override):"
        " first to be paged."
    ]
    assert transport.to(roster["rivera"].phone) == [
        "Odessa PD Peer Support: you're off call now, until Wed 11 Mar 07:00 CDT;"
        " Det. Luis Ortiz is first to be paged instead."
    ]
