"""The console's doors: login, CSRF, throttling, sessions that end, cookies, two-factor codes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select

from callout.config import Config
from callout.models import ConsoleUser, LoginFailure
from tests.conftest import PASSWORD, Clock, ConsoleClient, RecordingTransport, make_config, make_user


def test_the_login_page_has_the_contract_fields(console: ConsoleClient) -> None:
    html = console.get("/console/login").get_data(as_text=True)
    for field in ('name="username"', 'name="password"', 'name="csrf_token"'):
        assert field in html
    assert '<label for="username">' in html and '<label for="password">' in html


@pytest.mark.parametrize("path", ["/console/", "/console/odessa/", "/console/users", "/console/odessa/stats"])
def test_every_page_without_a_session_redirects_to_the_login(console: ConsoleClient, path: str) -> None:
    response = console.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login")


def test_a_right_password_opens_the_board_and_a_wrong_one_does_not(console: ConsoleClient, rt: Any) -> None:
    make_user(rt, "lt.nguyen")
    wrong = console.login("lt.nguyen", "not the password")
    assert wrong.status_code == 401
    assert "Wrong user name or password" in wrong.get_data(as_text=True)
    assert console.get("/console/odessa/").status_code == 302
    right = console.login("LT.Nguyen")
    assert right.status_code == 302 and right.headers["Location"] == "/console/"
    assert console.get("/console/").headers["Location"] == "/console/odessa/"
    assert console.get("/console/odessa/").status_code == 200


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(console: ConsoleClient, rt: Any) -> None:
    make_user(rt, "lt.nguyen")
    unknown = console.login("nobody", PASSWORD)
    wrong = console.login("lt.nguyen", "not the password")
    assert unknown.status_code == wrong.status_code == 401
    import re

    def strip(response: Any) -> str:
        html = re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", response.get_data(as_text=True))
        return html.replace("nobody", "NAME").replace("lt.nguyen", "NAME")

    assert strip(unknown) == strip(wrong)


def test_the_login_goes_back_to_the_page_asked_for_but_never_off_the_console(
    console: ConsoleClient, rt: Any
) -> None:
    make_user(rt, "lt.nguyen")
    asked = console.get("/console/odessa/stats").headers["Location"]
    token = console.token(asked)
    fields = {"username": "lt.nguyen", "password": PASSWORD, "csrf_token": token}
    response = console.client.post(asked, data=fields, base_url=console.BASE)
    assert response.headers["Location"] == "/console/odessa/stats"
    console.client.post(
        "/console/logout", data={"csrf_token": console.token("/console/account")}, base_url=console.BASE
    )
    for target in ("//evil.example/console/", "https://evil.example/console/", "/twilio/sms"):
        fields["csrf_token"] = console.token()
        response = console.client.post(
            "/console/login", query_string={"next": target}, data=fields, base_url=console.BASE
        )
        assert response.headers["Location"] == "/console/"
        console.client.post(
            "/console/logout", data={"csrf_token": console.token("/console/account")}, base_url=console.BASE
        )


def test_a_post_without_a_valid_csrf_token_is_400_and_changes_nothing(
    console: ConsoleClient, rt: Any
) -> None:
    make_user(rt, "lt.nguyen")
    assert (
        console.post(
            "/console/login", {"username": "lt.nguyen", "password": PASSWORD}, csrf=False
        ).status_code
        == 400
    )
    forged = {"username": "lt.nguyen", "password": PASSWORD, "csrf_token": "forged"}
    assert console.post("/console/login", forged, csrf=False).status_code == 400
    assert console.login("lt.nguyen").status_code == 302
    fields = {"username": "intruder", "role": "admin", "team": "", "password": "a long password here"}
    response = console.post("/console/users", fields, csrf=False)
    assert response.status_code == 400
    with rt.sessions() as session:
        assert session.scalar(select(ConsoleUser).where(ConsoleUser.username == "intruder")) is None
    for path in ("/console/logout", "/console/odessa/dispatch", "/console/account/password"):
        assert console.post(path, {}, csrf=False).status_code == 400


def test_the_webhooks_and_the_api_need_no_csrf_token(app: Any, twilio: Any, rt: Any) -> None:
    from tests.conftest import add_roster

    add_roster(rt, rivera=("Ofc. Dana Rivera", "peer"))
    assert twilio.sms("+14325559876", "Can someone call me?").status_code == 200
    api = app.test_client().post(
        "/api/v1/pages",
        json={"kind": "page", "note": "Officer at the station"},
        headers={"Authorization": "Bearer dispatch-secret"},
    )
    assert api.status_code == 201
    unsigned = app.test_client().post("/twilio/sms", data={"From": "+14325559876", "To": "+14325550100"})
    assert unsigned.status_code == 403


def test_the_session_cookie_is_httponly_samesite_lax_and_secure_over_https(console: ConsoleClient) -> None:
    cookie = console.get("/console/login").headers["Set-Cookie"]
    assert "callout_console=" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "Path=/console" in cookie


def test_the_cookie_is_not_secure_when_the_public_url_is_http(
    database_url: str, transport: RecordingTransport
) -> None:
    config = make_config(database_url, server={"public_url": "http://127.0.0.1:5000"})
    app = build_app(config, transport)
    try:
        cookie = app.test_client().get("/console/login").headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "Secure" not in cookie
    finally:
        app.extensions["callout"].close()


def build_app(config: Config, transport: RecordingTransport) -> Any:
    """Return an app of its own on config (a gunicorn worker, say), without background threads."""
    import service
    from webhooks import create_app

    return create_app(service.build(config, transport=transport))


def _two_apps(config: Config, transport: RecordingTransport) -> tuple[Any, Any]:
    return (
        build_app(config, transport),
        build_app(config, transport),
    )


@pytest.mark.parametrize("keys", ["data_key", "secret_key", "embedded"])
def test_a_session_opened_by_one_worker_is_good_in_another(
    database_url: str, transport: RecordingTransport, keys: str
) -> None:
    from tests.conftest import team_table

    if keys == "embedded":  # no Twilio account, no data_key: the console transport's defaults
        from callout.config import parse_config

        config = parse_config(
            {
                "server": {"public_url": "https://peer.example.org", "database_url": database_url},
                "teams": [team_table()],
            },
            env={},
        )
    elif keys == "secret_key":
        config = make_config(database_url, console={"secret_key": "a console secret of some length"})
    else:
        config = make_config(database_url)
    first, second = _two_apps(config, transport)
    try:
        make_user(first.extensions["callout"], "lt.nguyen")
        one, two = ConsoleClient(first), ConsoleClient(second)
        assert one.login("lt.nguyen").status_code == 302
        two.client = first.test_client()
        two.client._cookies = one.client._cookies  # the same browser, its next request served by worker two
        two.client = second.test_client()
        for cookie in one.client._cookies.values():
            two.client.set_cookie(
                cookie.key, cookie.value, domain=cookie.domain, path=cookie.path, secure=True
            )
        assert two.get("/console/odessa/").status_code == 200
    finally:
        first.extensions["callout"].close()
        second.extensions["callout"].close()


def test_a_different_secret_does_not_accept_the_cookie(
    database_url: str, transport: RecordingTransport
) -> None:
    first = build_app(make_config(database_url), transport)
    other = make_config(database_url, console={"secret_key": "another console secret entirely"})
    second = build_app(other, transport)
    try:
        make_user(first.extensions["callout"], "lt.nguyen")
        one = ConsoleClient(first)
        one.login("lt.nguyen")
        two = ConsoleClient(second)
        for cookie in one.client._cookies.values():
            two.client.set_cookie(
                cookie.key, cookie.value, domain=cookie.domain, path=cookie.path, secure=True
            )
        assert two.get("/console/odessa/").status_code == 302
    finally:
        first.extensions["callout"].close()
        second.extensions["callout"].close()


def test_wrong_passwords_lock_the_user_name_even_against_the_right_one(
    console: ConsoleClient, rt: Any
) -> None:
    make_user(rt, "lt.nguyen")
    for _ in range(5):
        assert console.login("lt.nguyen", "guess guess guess").status_code == 401
    locked = console.login("lt.nguyen")
    assert locked.status_code == 429
    assert "Too many attempts" in locked.get_data(as_text=True)


def test_the_lock_counts_attempts_made_through_every_process(
    database_url: str, transport: RecordingTransport, rt: Any
) -> None:
    config = make_config(database_url)
    first, second = _two_apps(config, transport)
    try:
        make_user(first.extensions["callout"], "lt.nguyen")
        for attempt in range(5):
            worker = ConsoleClient(first if attempt % 2 else second)
            assert worker.login("lt.nguyen", "guess guess guess").status_code == 401
        assert ConsoleClient(second).login("lt.nguyen").status_code == 429
        assert ConsoleClient(first).login("lt.nguyen").status_code == 429
    finally:
        first.extensions["callout"].close()
        second.extensions["callout"].close()


def test_the_lock_ends_after_the_lockout_and_a_right_login_clears_the_count(
    console: ConsoleClient, rt: Any, clock: Clock
) -> None:
    make_user(rt, "lt.nguyen")
    for _ in range(6):
        console.login("lt.nguyen", "guess guess guess")
    assert console.login("lt.nguyen").status_code == 429
    clock.advance(minutes=16)
    assert console.login("lt.nguyen").status_code == 302
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LoginFailure)) == 0


def test_one_address_is_locked_after_many_wrong_logins_for_many_names(
    console: ConsoleClient, rt: Any
) -> None:
    make_user(rt, "lt.nguyen")
    for n in range(20):
        console.login(f"guess{n}", "guess guess guess")
    assert console.login("lt.nguyen").status_code == 429
    other = ConsoleClient(console.app)
    other.client.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert other.login("lt.nguyen").status_code == 302


def test_failed_logins_are_kept_as_hashes_only(console: ConsoleClient, rt: Any) -> None:
    console.login("lt.nguyen", "guess guess guess")
    with rt.sessions() as session:
        keys = session.scalars(select(LoginFailure.key)).all()
    assert keys and all(len(key) == 64 and "nguyen" not in key and "127.0.0.1" not in key for key in keys)


def test_the_session_ends_after_thirty_minutes_without_a_click(
    console: ConsoleClient, rt: Any, clock: Clock
) -> None:
    make_user(rt, "lt.nguyen")
    console.login("lt.nguyen")
    clock.advance(minutes=29)
    assert console.get("/console/odessa/").status_code == 200
    clock.advance(minutes=29)
    assert console.get("/console/odessa/").status_code == 200  # the click above counted
    for _ in range(4):  # the board's polling is no activity
        clock.advance(minutes=8)
        live = console.get("/console/odessa/board/live", headers={"HX-Request": "true"})
    assert live.headers.get("HX-Redirect") == "/console/login"
    assert console.get("/console/odessa/").status_code == 302


def test_the_session_timeout_is_configurable(database_url: str, transport: RecordingTransport) -> None:
    config = make_config(database_url, console={"session_timeout": "5m"})
    app = build_app(config, transport)
    rt = app.extensions["callout"]
    clock = Clock(rt.clock())
    rt.clock = clock
    try:
        make_user(rt, "lt.nguyen")
        client = ConsoleClient(app)
        client.login("lt.nguyen")
        clock.advance(minutes=6)
        assert client.get("/console/odessa/").status_code == 302
    finally:
        rt.close()


def test_a_new_password_ends_the_other_sessions(console: ConsoleClient, rt: Any) -> None:
    make_user(rt, "lt.nguyen")
    other = ConsoleClient(console.app)
    other.login("lt.nguyen")
    console.login("lt.nguyen")
    response = console.post(
        "/console/account/password", {"current": PASSWORD, "password": "a brand new password"}
    )
    assert response.status_code == 302
    assert console.get("/console/odessa/").status_code == 200
    assert other.get("/console/odessa/").status_code == 302
    assert ConsoleClient(console.app).login("lt.nguyen", "a brand new password").status_code == 302
    assert ConsoleClient(console.app).login("lt.nguyen").status_code == 401


def test_a_removed_user_is_logged_out(console: ConsoleClient, rt: Any) -> None:
    from callout import users

    make_user(rt, "lt.nguyen")
    console.login("lt.nguyen")
    with rt.sessions() as session, session.begin():
        user = users.find(session, "lt.nguyen")
        assert user is not None
        users.remove(session, user)
    assert console.get("/console/odessa/").status_code == 302


def _copy(console: ConsoleClient) -> ConsoleClient:
    """Return another client holding the same cookies (a copied cookie, or the same browser later)."""
    other = ConsoleClient(console.app)
    for cookie in console.client._cookies.values():
        other.client.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path, secure=True)
    return other


def test_a_copied_cookie_stops_working_when_its_user_logs_out(console: ConsoleClient, rt: Any) -> None:
    make_user(rt, "lt.nguyen")
    elsewhere = ConsoleClient(console.app)
    elsewhere.login("lt.nguyen")
    console.login("lt.nguyen")
    copied = _copy(console)
    token = copied.token("/console/account")
    assert console.post("/console/logout", {}).headers["Location"] == "/console/login"
    fields = {"kind": "page", "note": "Officer at the station", "csrf_token": token}
    posted = copied.post("/console/odessa/dispatch", fields, csrf=False)
    assert posted.status_code == 302 and posted.headers["Location"].startswith("/console/login")
    replayed = copied.get("/console/odessa/")
    assert replayed.status_code == 302 and replayed.headers["Location"].startswith("/console/login")
    assert elsewhere.get("/console/odessa/").status_code == 200  # the user's other session goes on


def test_an_idle_session_ends_on_the_servers_clock_whatever_cookie_comes_back(
    console: ConsoleClient, rt: Any, clock: Clock
) -> None:
    from callout.models import ConsoleLogin

    make_user(rt, "lt.nguyen")
    console.login("lt.nguyen")
    copied = _copy(console)
    clock.advance(minutes=31)
    ended = copied.get("/console/odessa/")
    assert ended.status_code == 302 and ended.headers["Location"].startswith("/console/login")
    assert "after a while without activity" in copied.get("/console/login").get_data(as_text=True)
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ConsoleLogin)) == 0
    clock.advance(minutes=-31)  # the cookie's own "last seen" would pass again: the server's record is gone
    assert console.get("/console/odessa/").status_code == 302


def test_a_password_reset_by_an_admin_ends_the_users_sessions(console: ConsoleClient, rt: Any) -> None:
    target = make_user(rt, "desk", "dispatch")
    make_user(rt, "root", "admin", None)
    desk = ConsoleClient(console.app)
    desk.login("desk")
    console.login("root")
    reset = console.post(f"/console/users/{target}/password", {"password": "a brand new password"})
    assert reset.status_code == 302
    assert desk.get("/console/odessa/").status_code == 302
    assert console.get("/console/users").status_code == 200


def test_a_change_of_role_or_team_ends_the_session(console: ConsoleClient, rt: Any) -> None:
    from callout import users

    make_user(rt, "lt.nguyen")
    console.login("lt.nguyen")
    with rt.sessions() as session, session.begin():
        user = users.find(session, "lt.nguyen")
        assert user is not None
        user.role = "viewer"  # no page or command changes a role yet: whatever does must not keep the session
    assert console.get("/console/odessa/").status_code == 302
    console.login("lt.nguyen")
    assert console.get("/console/odessa/").status_code == 200
    with rt.sessions() as session, session.begin():
        user = users.find(session, "lt.nguyen")
        assert user is not None
        user.team_id = None
    assert console.get("/console/").status_code == 302


def test_logging_in_again_ends_the_session_the_browser_had(console: ConsoleClient, rt: Any) -> None:
    make_user(rt, "lt.nguyen")
    make_user(rt, "desk", "dispatch")
    console.login("lt.nguyen")
    before = _copy(console)
    fields = {"username": "desk", "password": PASSWORD, "csrf_token": console.token("/console/account")}
    assert console.client.post("/console/login", data=fields, base_url=console.BASE).status_code == 302
    assert console.get("/console/odessa/dispatch").status_code == 200
    assert before.get("/console/odessa/").status_code == 302


# --- two-factor codes -----------------------------------------------------------------------------


def _enrol(console: ConsoleClient, rt: Any) -> str:
    import re

    html = console.get("/console/account/totp").get_data(as_text=True)
    key = re.search(r'<span class="key">([A-Z2-7 ]+)</span>', html)
    assert key is not None and "<svg" in html
    secret = key.group(1).replace(" ", "")
    code = pyotp.TOTP(secret).at(rt.clock())
    assert console.post("/console/account/totp", {"code": code}).status_code == 302
    return secret


def test_a_user_turns_on_two_factor_codes_and_then_needs_one(
    console: ConsoleClient, rt: Any, clock: Clock
) -> None:
    make_user(rt, "lt.nguyen")
    console.login("lt.nguyen")
    secret = _enrol(console, rt)
    fresh = ConsoleClient(console.app)
    step = fresh.login("lt.nguyen")
    assert step.headers["Location"] == "/console/login/code"
    assert fresh.get("/console/odessa/").status_code == 302  # the password alone is no session
    clock.advance(seconds=60)
    wrong = fresh.post(
        "/console/login/code", {"code": "000000" if pyotp.TOTP(secret).at(clock()) != "000000" else "111111"}
    )
    assert wrong.status_code == 401
    code = pyotp.TOTP(secret).at(clock())
    assert fresh.post("/console/login/code", {"code": code}).status_code == 302
    assert fresh.get("/console/odessa/").status_code == 200
    replay = ConsoleClient(console.app)
    replay.login("lt.nguyen")
    assert replay.post("/console/login/code", {"code": code}).status_code == 401  # a code works once


def test_require_totp_sends_a_director_to_enrol_first(
    database_url: str, transport: RecordingTransport
) -> None:
    config = make_config(database_url, console={"require_totp": True})
    app = build_app(config, transport)
    rt = app.extensions["callout"]
    try:
        make_user(rt, "lt.nguyen", "director")
        make_user(rt, "viewer", "viewer")
        director = ConsoleClient(app)
        director.login("lt.nguyen")
        response = director.get("/console/odessa/")
        assert response.status_code == 302 and response.headers["Location"] == "/console/account/totp"
        _enrol(director, rt)
        assert director.get("/console/odessa/").status_code == 200
        assert director.post("/console/account/totp/off", {}).status_code == 403
        viewer = ConsoleClient(app)
        viewer.login("viewer")
        assert viewer.get("/console/odessa/").status_code == 200
    finally:
        rt.close()


def test_two_factor_secrets_are_stored_encrypted(console: ConsoleClient, rt: Any) -> None:
    make_user(rt, "lt.nguyen")
    console.login("lt.nguyen")
    secret = _enrol(console, rt)
    with rt.sessions() as session:
        stored = session.scalar(select(ConsoleUser.totp_secret_enc))
    assert stored and secret not in stored


def test_the_timeout_default_is_thirty_minutes() -> None:
    assert make_config("sqlite://").console.session_timeout == timedelta(minutes=30)
