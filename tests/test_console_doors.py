"""Every door of the console, found in the app's URL map: a session first, a CSRF token on every POST, the
role's rights (403), and no other team's rows (404). A route added later is checked without a new test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import url_for
from sqlalchemy import func, select

from callout import assign, auditlog, dispatch, rotation
from callout.config import Config
from callout.models import AuditEntry, ConsoleUser, Member, Override, Request, Team
from tests.conftest import ConsoleClient, make_config, make_member, make_user, team_table

OPEN = {"console.login", "console.login_code", "console.static"}
# What each role may open (GET) and do (POST); everything else answers 403.
OWN = {"console.home", "console.no_team", "console.account", "console.totp_start"}
OWN_CHANGES = {"console.logout", "console.account_password", "console.totp_enable", "console.totp_disable"}
VIEWER_PAGES = OWN | {"console.board", "console.board_live", "console.calendar"}
DISPATCH_PAGES = OWN | {
    "console.board",
    "console.board_live",
    "console.dispatch_form",
    "console.dispatch_status",
    "console.dispatch_live",
}
DISPATCH_CHANGES = OWN_CHANGES | {"console.dispatch_send"}


@dataclass(frozen=True)
class Rows:
    """The ids a team's URLs are filled in with."""

    slug: str
    member_id: int
    override_id: int
    code: str
    user_id: int

    def values(self, arguments: set[str]) -> dict[str, Any]:
        """Return the URL values a rule with these arguments needs."""
        known = {
            "slug": self.slug,
            "member_id": self.member_id,
            "override_id": self.override_id,
            "code": self.code,
            "user_id": self.user_id,
            "fmt": "csv",
        }
        assert arguments <= known.keys(), f"teach this test what to put in {arguments - known.keys()}"
        return {name: known[name] for name in arguments}


@pytest.fixture
def config(database_url: str) -> Config:
    return make_config(
        database_url,
        team_table(),
        team_table(slug="midland", name="Midland PD", support_number="+14325550200"),
    )


def _team_rows(rt: Any, slug: str) -> Rows:
    """Give a team a roster, an override, a dispatch page and a console user; return their ids."""

    def work(session: Any, env: Any, now: Any) -> Rows:
        team = session.scalar(select(Team).where(Team.slug == slug))
        peers = [make_member(session, team, f"{slug} peer {n}") for n in range(3)]
        make_member(session, team, f"{slug} psychologist", role="psychologist")
        make_member(session, team, f"{slug} director", role="director")
        rotation.ensure_anchor(session, team, now)
        day = rotation.local_time(team, now).date() + timedelta(days=3)
        override = assign.assign_days(session, now, auditlog.Actor("t", "cli"), team, peers[1].id, day, day)
        page = dispatch.open_page(
            session, env, now, team, dispatch.parse_order({"kind": "page", "note": "at the station"})
        )
        return Rows(slug, peers[0].id, override.id, page.code, 0)

    rows = rt.run(work)
    user_id = make_user(rt, f"{slug}.viewer", "viewer", slug)
    return Rows(rows.slug, rows.member_id, rows.override_id, rows.code, user_id)


@pytest.fixture
def odessa(rt: Any) -> Rows:
    return _team_rows(rt, "odessa")


@pytest.fixture
def midland(rt: Any) -> Rows:
    return _team_rows(rt, "midland")


def routes(app: Any, rows: Rows, method: str) -> list[tuple[str, str]]:
    """Return (endpoint, URL) of every console route answering method, filled in with rows."""
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("console.") or method not in (rule.methods or ()):
                continue
            if rule.endpoint in OPEN:
                continue
            found.append((rule.endpoint, url_for(rule.endpoint, **rows.values(set(rule.arguments)))))
    assert len(found) > 8, found
    return found


def fingerprint(rt: Any) -> tuple[int, ...]:
    """Return counts that any change would move: audit entries, members active, overrides, requests, users."""

    def work(session: Any, env: Any, now: Any) -> tuple[int, ...]:
        def count(query: Any) -> int:
            return int(session.scalar(query) or 0)

        return (
            count(select(func.count()).select_from(AuditEntry)),
            count(select(func.count()).select_from(Member).where(Member.active)),
            count(select(func.sum(Member.position))),
            count(select(func.count()).select_from(Override)),
            count(select(func.count()).select_from(Request)),
            count(select(func.count()).select_from(ConsoleUser)),
            count(select(func.max(ConsoleUser.session_version))),
        )

    return tuple(rt.run(work))


def test_every_route_without_a_session_goes_to_the_login(app: Any, rt: Any, odessa: Rows) -> None:
    visitor = ConsoleClient(app)
    before = fingerprint(rt)
    for endpoint, url in routes(app, odessa, "GET"):
        response = visitor.get(url)
        assert response.status_code == 302, endpoint
        assert response.headers["Location"].startswith("/console/login"), endpoint
    token = visitor.token()  # a real token of an anonymous session: the login still comes first
    for endpoint, url in routes(app, odessa, "POST"):
        response = visitor.post(url, {"csrf_token": token}, csrf=False)
        assert response.status_code == 302, endpoint
        assert response.headers["Location"].startswith("/console/login"), endpoint
    assert fingerprint(rt) == before


def test_every_post_without_a_valid_csrf_token_is_400_and_changes_nothing(
    app: Any, rt: Any, odessa: Rows
) -> None:
    make_user(rt, "root", "admin", None)
    admin = ConsoleClient(app)
    admin.login("root")
    before = fingerprint(rt)
    posts = routes(app, odessa, "POST")
    for endpoint, url in posts:
        fields = {"active": "no", "direction": "down", "kind": "page", "note": "x", "password": "p" * 12}
        assert admin.post(url, fields, csrf=False).status_code == 400, endpoint
        assert admin.post(url, {**fields, "csrf_token": "forged"}, csrf=False).status_code == 400, endpoint
    assert fingerprint(rt) == before
    assert admin.get("/console/odessa/").status_code == 200  # still logged in: nothing happened


@pytest.mark.parametrize(
    ("role", "pages", "changes"),
    [("viewer", VIEWER_PAGES, OWN_CHANGES), ("dispatch", DISPATCH_PAGES, DISPATCH_CHANGES)],
)
def test_a_viewer_or_dispatcher_gets_403_for_everything_beyond_their_role(
    app: Any, rt: Any, odessa: Rows, role: str, pages: set[str], changes: set[str]
) -> None:
    make_user(rt, "someone", role)
    client = ConsoleClient(app)
    client.login("someone")
    mine = (
        client.post("/console/odessa/dispatch", {"kind": "page", "note": "x"}) if role == "dispatch" else None
    )
    code = mine.headers["Location"].rsplit("/", 1)[1] if mine is not None else odessa.code
    rows = Rows(odessa.slug, odessa.member_id, odessa.override_id, code, odessa.user_id)
    for endpoint, url in routes(app, rows, "GET"):
        expected = (200, 302) if endpoint in pages else (403,)
        assert client.get(url).status_code in expected, endpoint
    before = fingerprint(rt)
    for endpoint, url in routes(app, rows, "POST"):
        if endpoint in changes:
            continue
        fields = {"active": "no", "direction": "down", "member": str(rows.member_id), "first": "2026-03-20"}
        fields |= {"last": "2026-03-20", "username": "x", "role": "admin", "password": "p" * 12}
        assert client.post(url, fields).status_code == 403, endpoint
    assert fingerprint(rt) == before


def test_another_teams_rows_and_pages_are_404(app: Any, rt: Any, odessa: Rows, midland: Rows) -> None:
    make_user(rt, "lt.nguyen", "director", "odessa")
    director = ConsoleClient(app)
    director.login("lt.nguyen")
    before = fingerprint(rt)
    # Midland's pages, and Odessa's URLs with one of Midland's members, overrides, codes or users in them.
    mixed = [
        Rows("odessa", midland.member_id, odessa.override_id, odessa.code, odessa.user_id),
        Rows("odessa", odessa.member_id, midland.override_id, odessa.code, odessa.user_id),
        Rows("odessa", odessa.member_id, odessa.override_id, midland.code, odessa.user_id),
        Rows("odessa", odessa.member_id, odessa.override_id, odessa.code, midland.user_id),
    ]
    checked = 0
    for method in ("GET", "POST"):
        theirs = [url for _endpoint, url in routes(app, midland, method) if "/midland/" in url]
        for rows in mixed:
            ours = dict(routes(app, odessa, method))
            for endpoint, url in routes(app, rows, method):
                if url != ours[endpoint]:
                    theirs.append(url)
        for url in theirs:
            response = director.get(url) if method == "GET" else director.post(url, {"active": "no"})
            assert response.status_code == 404, f"{method} {url}"
            checked += 1
    assert checked > 20
    assert fingerprint(rt) == before
