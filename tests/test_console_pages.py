"""The console's pages: the board, dispatch, statistics, audit and users, each as its role may see it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import select

from callout.config import Config
from callout.models import AuditEntry, Member, Request
from tests.conftest import (
    Clock,
    ConsoleClient,
    TwilioClient,
    add_roster,
    make_config,
    make_user,
    send,
    team_table,
)

REQUESTER = "+14325559876"


@pytest.fixture
def config(database_url: str) -> Config:
    return make_config(
        database_url,
        team_table(),
        team_table(
            slug="midland", name="Midland PD", support_number="+14325550200", dispatch_token="midland-secret"
        ),
    )


@pytest.fixture
def roster(rt: Any) -> dict[str, Member]:
    return add_roster(
        rt,
        rivera=("Ofc. Dana Rivera", "peer"),
        chen=("Sgt. Mei Chen", "peer"),
        ortiz=("Det. Luis Ortiz", "peer"),
        patel=("Dr. Anita Patel", "psychologist"),
        nguyen=("Lt. Sam Nguyen", "director"),
    )


def logged_in(app: Any, rt: Any, username: str, role: str, team: str | None = "odessa") -> ConsoleClient:
    make_user(rt, username, role, team)
    client = ConsoleClient(app)
    assert client.login(username).status_code == 302
    return client


def html(response: Any) -> str:
    return str(response.get_data(as_text=True))


def row(page: str, code: str) -> str:
    found = re.search(rf'<tr id="row-{code}".*?</tr>', page, re.S)
    assert found, f"no row for {code}"
    return found.group(0)


# --- the board -------------------------------------------------------------------------------------


def test_the_board_shows_a_request_and_its_acceptance(
    app: Any, rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    director = logged_in(app, rt, "lt.nguyen", "director")
    twilio.sms(REQUESTER, "Rough night. Can someone call me?")
    send(rt)
    (code,) = rt.run(lambda s, e, n: s.scalars(select(Request.code)).all())
    clock.advance(seconds=90)
    live = html(director.get("/console/odessa/board/live"))
    shown = row(live, code)
    assert "support request" in shown and "text" in shown and "paging" in shown
    assert "step 1: paging the peer" in shown and "1 min" in shown
    assert "Rivera" not in shown  # never who is paged for a support request
    twilio.sms(roster["rivera"].phone, f"1 {code}")
    shown = row(html(director.get("/console/odessa/board/live")), code)
    assert "accepted" in shown and "Ofc. Dana Rivera" in shown


def test_a_talk_request_names_nobody_but_who_holds_it(
    app: Any, rt: Any, twilio: TwilioClient, roster: dict[str, Member]
) -> None:
    director = logged_in(app, rt, "lt.nguyen", "director")
    twilio.sms(roster["chen"].phone, "TALK")
    (code,) = rt.run(lambda s, e, n: s.scalars(select(Request.code)).all())
    page = html(director.get("/console/odessa/"))
    shown = row(page, code)
    for member in ("Chen", "Rivera", "Ortiz", "Patel"):
        assert member not in shown
    assert "support request" in shown  # like any other: nothing says a member asked
    twilio.sms(roster["rivera"].phone, f"1 {code}")
    shown = row(html(director.get("/console/odessa/")), code)
    assert "Ofc. Dana Rivera" in shown and "Chen" not in shown
    assert director.get(f"/console/odessa/dispatch/{code}").status_code == 404  # who was paged: not shown


def test_the_board_shows_debrief_tallies_and_coverage_warnings(
    app: Any, rt: Any, twilio: TwilioClient, roster: dict[str, Member]
) -> None:
    director = logged_in(app, rt, "lt.nguyen", "director")
    twilio.sms(roster["nguyen"].phone, "DEBRIEF Officer-involved shooting at 5th and Main")
    (code,) = rt.run(lambda s, e, n: s.scalars(select(Request.code)).all())
    twilio.sms(roster["rivera"].phone, f"1 {code}")
    twilio.sms(roster["chen"].phone, f"2 {code}")
    shown = row(html(director.get("/console/odessa/")), code)
    assert "debrief call-out" in shown and "1 yes, 1 unable" in shown and "Ofc. Dana Rivera" in shown
    for name in ("rivera", "chen", "ortiz"):
        twilio.sms(roster[name].phone, "AWAY 3d")
    twilio.sms(roster["patel"].phone, "AWAY 3d")
    page = html(director.get("/console/odessa/"))
    assert "No peer or psychologist can be reached for this shift" in page


def test_dispatch_sees_only_the_pages_it_made(
    app: Any, rt: Any, twilio: TwilioClient, roster: dict[str, Member]
) -> None:
    desk = logged_in(app, rt, "desk", "dispatch")
    other = logged_in(app, rt, "desk2", "dispatch")
    twilio.sms(REQUESTER, "I need to talk to someone")
    response = desk.post(
        "/console/odessa/dispatch", {"kind": "page", "note": "Officer at the station, Unit 12"}
    )
    assert response.status_code == 302
    mine = response.headers["Location"].rsplit("/", 1)[1]
    codes = rt.run(lambda s, e, n: {r.kind: r.code for r in s.scalars(select(Request))})
    page = html(desk.get("/console/odessa/"))
    assert mine in page and codes["support"] not in page
    assert mine not in html(other.get("/console/odessa/"))
    assert other.get(f"/console/odessa/dispatch/{mine}").status_code == 404
    assert desk.get(f"/console/odessa/dispatch/{mine}").status_code == 200
    assert desk.get("/console/").headers["Location"] == "/console/odessa/dispatch"


# --- dispatch --------------------------------------------------------------------------------------


def test_a_page_from_the_form_goes_through_the_dispatch_domain(
    app: Any, rt: Any, twilio: TwilioClient, roster: dict[str, Member]
) -> None:
    desk = logged_in(app, rt, "desk", "dispatch")
    form = html(desk.get("/console/odessa/dispatch"))
    assert "Ofc. Dana Rivera" in form and "primary" in form
    for field in ('name="kind"', 'name="note"', 'name="callback"', 'name="skill"'):
        assert field in form
    response = desk.post(
        "/console/odessa/dispatch",
        {"kind": "page", "note": "Officer at the station, Unit 12", "callback": "(432) 555-0177"},
    )
    code = response.headers["Location"].rsplit("/", 1)[1]
    request = rt.run(lambda s, e, n: s.scalars(select(Request)).one())
    assert request.kind == "dispatch" and request.channel == "api" and request.opened_by_user_id is not None
    send(rt)
    assert any("Reply 1 to accept" in body for body in rt.transport.to(roster["rivera"].phone))
    status = html(desk.get(f"/console/odessa/dispatch/{code}/live"))
    assert "nobody yet" in status
    twilio.sms(roster["rivera"].phone, f"1 {code}")
    status = html(desk.get(f"/console/odessa/dispatch/{code}/live"))
    assert 'id="accepted-by">Ofc. Dana Rivera' in status and 'data-status="accepted"' in status
    assert "hx-get=" in status  # still live
    twilio.sms(roster["rivera"].phone, f"DONE {code}")
    status = html(desk.get(f"/console/odessa/dispatch/{code}/live"))
    assert 'data-status="closed"' in status and "hx-get=" not in status  # closed: it stops asking


def test_the_board_tells_a_page_from_the_console_from_one_from_the_api(
    app: Any, rt: Any, roster: dict[str, Member]
) -> None:
    director = logged_in(app, rt, "lt.nguyen", "director")
    mine = director.post("/console/odessa/dispatch", {"kind": "page", "note": "Unit 12 at the station"})
    console_code = mine.headers["Location"].rsplit("/", 1)[1]
    api = app.test_client().post(
        "/api/v1/pages",
        json={"kind": "page", "note": "Unit 9 at the hospital"},
        headers={"Authorization": "Bearer dispatch-secret"},
    )
    api_code = api.get_json()["code"]
    board = html(director.get("/console/odessa/board/live"))
    assert '<td data-label="Channel">console</td>' in row(board, console_code)
    assert '<td data-label="Channel">dispatch API</td>' in row(board, api_code)


def test_a_debrief_with_a_skill_and_its_tally(
    app: Any, rt: Any, twilio: TwilioClient, roster: dict[str, Member]
) -> None:
    with rt.sessions() as session, session.begin():
        session.get(Member, roster["chen"].id).skills = ["post-shooting"]  # type: ignore[union-attr]
    director = logged_in(app, rt, "lt.nguyen", "director")
    assert '<option value="post-shooting"' in html(director.get("/console/odessa/dispatch"))
    response = director.post(
        "/console/odessa/dispatch",
        {"kind": "debrief", "note": "Shooting, 5th and Main", "skill": "post-shooting"},
    )
    code = response.headers["Location"].rsplit("/", 1)[1]
    send(rt)
    told = rt.transport.to(roster["nguyen"].phone)
    assert any(f"DEBRIEF {code} called by lt.nguyen (console)" in body for body in told), told
    twilio.sms(roster["chen"].phone, f"1 {code}")
    status = html(director.get(f"/console/odessa/dispatch/{code}"))
    assert 'id="tally">1 yes: Sgt. Mei Chen' in status and "post-shooting" in status


def test_a_bad_page_is_refused_with_the_apis_message_and_nothing_opens(
    app: Any, rt: Any, roster: dict[str, Member]
) -> None:
    desk = logged_in(app, rt, "desk", "dispatch")
    bad = desk.post("/console/odessa/dispatch", {"kind": "page", "note": "x", "callback": "12"})
    assert bad.status_code == 400 and "callback: &#39;12&#39; is not a valid phone number" in html(bad)
    empty = desk.post("/console/odessa/dispatch", {"kind": "page", "note": ""})
    assert empty.status_code == 400
    skill = desk.post("/console/odessa/dispatch", {"kind": "page", "note": "x", "skill": "post-shooting"})
    assert skill.status_code == 302  # a skill is for debriefs: the form leaves it out of a page
    assert rt.run(lambda s, e, n: len(s.scalars(select(Request)).all())) == 1


# --- roles and teams -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "dispatch"])
def test_a_viewer_or_dispatcher_cannot_change_anything(app: Any, rt: Any, role: str) -> None:
    client = logged_in(app, rt, "someone", role)
    new_user = {"username": "x", "role": "viewer", "team": "odessa", "password": "a long password here"}
    assert client.post("/console/users", new_user).status_code == 403
    assert client.get("/console/users").status_code == 403
    assert client.get("/console/odessa/stats").status_code == 403
    assert client.get("/console/odessa/audit").status_code == 403
    if role == "viewer":
        assert client.post("/console/odessa/dispatch", {"kind": "page", "note": "x"}).status_code == 403
        assert client.get("/console/odessa/dispatch").status_code == 403
    assert rt.run(lambda s, e, n: len(s.scalars(select(Request)).all())) == 0


@pytest.mark.parametrize(
    "path",
    [
        "/console/midland/",
        "/console/midland/board/live",
        "/console/midland/dispatch",
        "/console/midland/stats",
        "/console/midland/audit",
        "/console/midland/stats/report.csv",
        "/console/nowhere/",
    ],
)
def test_another_teams_pages_are_404(app: Any, rt: Any, path: str) -> None:
    director = logged_in(app, rt, "lt.nguyen", "director")
    assert director.get(path).status_code == 404
    admin = logged_in(app, rt, "root", "admin", None)
    assert admin.get(path).status_code == (404 if "nowhere" in path else 200)


def test_another_teams_page_code_is_404(app: Any, rt: Any, roster: dict[str, Member]) -> None:
    odessa = logged_in(app, rt, "lt.nguyen", "director")
    code = odessa.post("/console/odessa/dispatch", {"kind": "page", "note": "x"}).headers["Location"][-4:]
    make_user(rt, "mid", "director", "midland")
    midland = ConsoleClient(app)
    midland.login("mid")
    assert midland.get(f"/console/midland/dispatch/{code}").status_code == 404
    assert midland.get(f"/console/odessa/dispatch/{code}").status_code == 404
    assert midland.post("/console/odessa/dispatch", {"kind": "page", "note": "x"}).status_code == 404


# --- users -----------------------------------------------------------------------------------------


def test_an_admin_manages_every_user_and_a_director_their_team(app: Any, rt: Any) -> None:
    admin = logged_in(app, rt, "root", "admin", None)
    director = logged_in(app, rt, "lt.nguyen", "director")
    mid = make_user(rt, "mid.viewer", "viewer", "midland")
    assert "mid.viewer" in html(admin.get("/console/users"))
    page = html(director.get("/console/users"))
    assert "mid.viewer" not in page and "root" not in page and "lt.nguyen" in page
    assert 'value="admin"' not in page
    for role in ("director", "dispatch", "viewer"):
        assert f'<option value="{role}"' in page
    assert '<option value="odessa"' in page and '<option value="midland"' not in page
    assert '<option value="admin"' in html(admin.get("/console/users"))
    added = director.post(
        "/console/users",
        {"username": "desk", "role": "dispatch", "team": "odessa", "password": "a long password here"},
    )
    assert added.status_code == 302
    assert (
        director.post(
            "/console/users",
            {"username": "boss", "role": "admin", "team": "", "password": "a long password here"},
        ).status_code
        == 403
    )
    assert (
        director.post(
            "/console/users",
            {"username": "m2", "role": "viewer", "team": "midland", "password": "a long password here"},
        ).status_code
        == 404
    )
    assert director.post(f"/console/users/{mid}/remove", {}).status_code == 404
    assert (
        director.post(f"/console/users/{mid}/password", {"password": "a long password here"}).status_code
        == 404
    )
    assert (
        admin.post(f"/console/users/{mid}/password", {"password": "a fresh long password"}).status_code == 302
    )
    assert ConsoleClient(app).login("mid.viewer", "a fresh long password").status_code == 302
    assert admin.post(f"/console/users/{mid}/remove", {}).status_code == 302
    assert "mid.viewer" not in html(admin.get("/console/users"))
    short = director.post(
        "/console/users", {"username": "x", "role": "viewer", "team": "odessa", "password": "short"}
    )
    assert short.status_code == 400 and "at least 10 characters" in html(short)


def test_a_new_users_role_is_viewer_until_chosen(app: Any, rt: Any) -> None:
    page = html(logged_in(app, rt, "root", "admin", None).get("/console/users"))
    assert '<option value="viewer" selected>' in page  # never an admin or a director by a missed click
    assert '<option value="midland" selected>' in page  # a viewer has a team: the first, by name
    page = html(logged_in(app, rt, "lt.nguyen", "director").get("/console/users"))
    assert '<option value="viewer" selected>' in page and '<option value="odessa" selected>' in page


def test_the_users_page_shows_the_last_login_in_the_teams_zone(app: Any, rt: Any, clock: Clock) -> None:
    admin = logged_in(app, rt, "root", "admin", None)
    make_user(rt, "viewer", "viewer")
    page = html(admin.get("/console/users"))
    assert re.search(r'id="user-viewer".*?never', page, re.S)
    ConsoleClient(app).login("viewer")
    page = html(admin.get("/console/users"))
    viewer = re.search(r'<tr id="user-viewer".*?</tr>', page, re.S)
    assert viewer and "Tue 10 Mar 2026 10:00 CDT" in viewer.group(0)  # 15:00 UTC in Odessa
    root = re.search(r'<tr id="user-root".*?</tr>', page, re.S)
    assert root and "Tue 10 Mar 2026 15:00 UTC" in root.group(0)  # an admin of every team: UTC


def test_the_account_and_users_pages_keep_the_teams_navigation(app: Any, rt: Any) -> None:
    director = logged_in(app, rt, "lt.nguyen", "director")
    admin = logged_in(app, rt, "root", "admin", None)
    for client, slug in ((director, "odessa"), (admin, "midland")):  # an admin: the first team by name
        for path in ("/console/account", "/console/users"):
            page = html(client.get(path))
            for link in (f'href="/console/{slug}/"', f'href="/console/{slug}/calendar"'):
                assert link in page, f"{path} has no {link}"
    account = html(logged_in(app, rt, "desk", "dispatch").get("/console/account"))
    assert 'href="/console/odessa/dispatch"' in account and 'href="/console/odessa/calendar"' not in account
    assert "logged in as <strong>desk</strong>, a dispatch of Odessa" in account


# --- audit -----------------------------------------------------------------------------------------


def test_the_audit_page_shows_who_changed_what(app: Any, rt: Any) -> None:
    director = logged_in(app, rt, "lt.nguyen", "director")
    director.post(
        "/console/users",
        {"username": "desk", "role": "dispatch", "team": "odessa", "password": "a long password here"},
    )
    entries = rt.run(lambda s, e, n: [(a.actor, a.via, a.action) for a in s.scalars(select(AuditEntry))])
    assert entries == [("lt.nguyen", "console", "user.add")]
    page = html(director.get("/console/odessa/audit"))
    assert "added desk (dispatch of odessa)" in page and "lt.nguyen" in page
    mid = logged_in(app, rt, "mid", "director", "midland")
    assert "added desk" not in html(mid.get("/console/midland/audit"))


# --- statistics -------------------------------------------------------------------------------------


def test_the_statistics_page_and_its_downloads(
    app: Any, rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    director = logged_in(app, rt, "lt.nguyen", "director")
    twilio.sms(REQUESTER, "Can someone call me?")
    (code,) = rt.run(lambda s, e, n: s.scalars(select(Request.code)).all())
    twilio.sms(roster["rivera"].phone, f"1 {code}")
    twilio.sms(roster["rivera"].phone, f"DONE {code} family OT")
    page = html(director.get("/console/odessa/stats?start=2026-03-01&end=2026-03-31"))
    assert "<svg" in page and "Contacts by content area" in page
    assert 'href="/console/odessa/stats/report.csv?start=2026-03-01&amp;end=2026-03-31"' in page
    csv = director.get("/console/odessa/stats/report.csv?start=2026-03-01&end=2026-03-31")
    assert (
        csv.headers["Content-Disposition"]
        == 'attachment; filename="callout-odessa-2026-03-01-to-2026-03-31.csv"'
    )
    assert "odessa,total,contacts_by_area,family,1" in html(csv)
    data = json.loads(html(director.get("/console/odessa/stats/report.json?start=2026-03-01&end=2026-03-31")))
    assert data["teams"][0]["total"]["accepted"] == 1
    printable = html(director.get("/console/odessa/stats/report.html?start=2026-03-01&end=2026-03-31"))
    assert printable.startswith("<!DOCTYPE html>")
    bad = director.get("/console/odessa/stats?start=2026-04-01&end=2026-03-01")
    assert bad.status_code == 400 and "starts (2026-04-01) after it ends" in html(bad)
    assert director.get("/console/odessa/stats?start=yesterday").status_code == 400
    assert director.get("/console/odessa/stats/report.pdf").status_code == 404
    default = html(director.get("/console/odessa/stats"))
    assert 'value="2026-03-01"' in default and 'value="2026-03-10"' in default


def test_the_board_drops_an_unanswered_request_once_it_is_purged(
    app: Any, rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    from tests.conftest import tick

    twilio.sms(REQUESTER, "Anyone there?")
    (code,) = rt.run(lambda s, e, n: s.scalars(select(Request.code)).all())
    for _ in range(8):  # three peers, then the psychologist and the director, each times out
        clock.advance(minutes=11)
        tick(rt)
    director = logged_in(app, rt, "lt.nguyen", "director")
    assert 'data-state="exhausted"' in row(html(director.get("/console/odessa/board/live")), code)
    from callout.housekeeping import purge

    clock.advance(hours=25)
    rt.run(purge)
    director = ConsoleClient(app)
    director.login("lt.nguyen")
    assert code not in html(director.get("/console/odessa/board/live"))


def test_the_statistics_kept_for_a_period_follow_a_new_contact(
    app: Any, rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    director = logged_in(app, rt, "lt.nguyen", "director")
    path = "/console/odessa/stats?start=2026-03-01&end=2026-03-31"
    before = html(director.get(path))
    assert re.search(r"<td>Contacts</td><td>0</td>", before)
    twilio.sms(REQUESTER, "Can someone call me?")
    (code,) = rt.run(lambda s, e, n: s.scalars(select(Request.code)).all())
    twilio.sms(roster["rivera"].phone, f"1 {code}")
    twilio.sms(roster["rivera"].phone, f"DONE {code} grief")
    after = html(director.get(path))
    assert re.search(r"<td>Contacts</td><td>1</td>", after)
    assert re.search(r"<td>  grief</td><td>1</td>", after)
