"""Logging in and out: passwords, two-factor codes, throttling, inactivity, the checks on every request."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Response, flash, g, redirect, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from callout import logins, throttle, users
from callout.env import Env
from callout.models import ConsoleUser
from console.forms import CodeForm, LoginForm
from console.web import bp, page, run, runtime, state

log = logging.getLogger(__name__)

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "console.login"
login_manager.login_message = "Log in to see the console."
login_manager.session_protection = None  # sessions live in the database instead (callout.logins)

PENDING_FOR = 300  # seconds between a right password and its two-factor code
# Endpoints that need no session; the live partials poll and must not keep a session alive.
OPEN = {"console.login", "console.login_code", "console.static"}
LIVE = {"console.board_live", "console.dispatch_live"}
ENROL = {"console.account", "console.totp_start", "console.totp_enable", "console.logout", "console.static"}


class Login(UserMixin):  # type: ignore[misc]
    """The logged-in user as Flask-Login holds it: who they are, and the token of their session."""

    def __init__(self, who: users.Principal, token: str) -> None:
        self.who = who
        self.token = token

    def get_id(self) -> str:
        """Return what the cookie keeps: the session's token (the database holds its hash and its state)."""
        return self.token


@login_manager.user_loader  # type: ignore[untyped-decorator]
def load_user(token: str) -> Login | None:
    """Return the user of the session the cookie names, if it still runs in the database.

    The request counts as activity unless it is a live partial's poll; a session idle too long (on the
    server's clock) ends here, and the guard says so.
    """
    idle_for = runtime().config.console.session_timeout
    activity = request.endpoint not in LIVE

    def work(s: Session, env: Env, now: datetime) -> tuple[users.Principal | None, bool]:
        resumed = logins.resume(s, now, token, idle_for, activity=activity)
        return (users.principal(resumed.user) if resumed.user else None), resumed.idle

    who, idle = run(work)
    if who is None:
        g.console_idle = idle
        return None
    return Login(who, token)


@login_manager.unauthorized_handler  # type: ignore[untyped-decorator]
def unauthorized() -> BaseResponse:
    """Send a visitor without a session to the login page (an htmx poll: the whole page goes there)."""
    target = url_for("console.login", next=_next_target(request.full_path))
    if request.headers.get("HX-Request"):
        response = Response("", 200)
        response.headers["HX-Redirect"] = url_for("console.login")
        return response
    return redirect(target)


def _next_target(target: str | None) -> str | None:
    """Return target if it is a console path of this site (no open redirect), else None."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/") or "\\" in target:
        return None
    return target.rstrip("?")


def client_address() -> str:
    """Return the client's address: the peer, or the one the configured reverse proxies name."""
    hops = runtime().config.console.proxies
    if hops:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.remote_addr or "unknown"


@bp.before_request
def guard() -> BaseResponse | None:
    """Check CSRF on every POST, then the session: running (in the database), two-factor when required."""
    if request.method == "POST":
        csrf.protect()  # raises CSRFError: 400
    if request.endpoint in OPEN:
        return None
    if not current_user.is_authenticated:
        if "_user_id" in session:  # a session that has ended: logged out, idle, a new password...
            session.clear()
        if g.get("console_idle"):
            flash("Your session ended after a while without activity. Log in again.", "info")
        result: BaseResponse = login_manager.unauthorized()
        return result
    who = current_user.who
    if (
        users.totp_required(who.role, runtime().config.console.require_totp)
        and not who.totp
        and request.endpoint not in ENROL
    ):
        flash("Your role needs a two-factor code: set one up to go on.", "info")
        return redirect(url_for("console.totp_start"))
    return None


def _end_session() -> None:
    """End the session in the database (a copy of the cookie is worth nothing after), forget the rest."""
    token = current_user.token if current_user.is_authenticated else None
    if token is not None:
        run(lambda s, env, now: logins.end(s, token))
    logout_user()
    session.clear()


@bp.errorhandler(400)
def bad_request(exc: Exception) -> tuple[str, int]:
    """Answer a POST without a valid CSRF token (nothing changes), or a request that makes no sense."""
    if isinstance(exc, CSRFError):
        message = "This form was too old or not from this console. Go back, reload the page and try again."
        return page("error.html", 400, title="Form expired", message=message)
    description = getattr(exc, "description", None) or "That request makes no sense here."
    return page("error.html", 400, title="Not possible", message=description)


@bp.errorhandler(403)
def forbidden(exc: Exception) -> tuple[str, int]:
    """Answer a change the user's role does not allow."""
    return page("error.html", 403, title="Not allowed", message="Your role cannot make this change.")


@bp.errorhandler(404)
def not_found(exc: Exception) -> tuple[str, int]:
    """Answer a page that does not exist, or is another team's."""
    return page(
        "error.html", 404, title="Not found", message="There is nothing here, or it is not yours to see."
    )


def _start(user: users.Principal, token: str) -> None:
    """Give this browser the session token opened for user (a session it had before ends)."""
    _end_session()
    login_user(Login(user, token))


def _open(s: Session, now: datetime, user: ConsoleUser, idle_for: timedelta) -> tuple[users.Principal, str]:
    """Record user's login and open their session; forget the sessions that ended idle meanwhile."""
    users.logged_in(user, now)
    logins.forget_idle(s, now, idle_for)
    return users.principal(user), logins.start(s, now, user)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the login form; check the password (throttled), then the two-factor code if the user has one."""
    form = LoginForm()
    target = _next_target(request.args.get("next"))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(target or url_for("console.home"))
    if not form.validate_on_submit():
        return page("login.html", 200 if request.method == "GET" else 400, form=form, error=None)
    settings = runtime().config.console
    username, password = form.username.data or "", form.password.data or ""
    attempt = run(lambda s, env, now: throttle.record(s, now, username, client_address()))

    def work(s: Session, env: Env, now: datetime) -> tuple[str, users.Principal | None, str]:
        throttle.forget_old(s, now, settings.lockout)
        if throttle.blocked(s, now, settings, attempt):
            return "blocked", None, ""
        user = users.authenticate(s, username, password)
        if user is None:
            return "wrong", None, ""
        if user.totp_secret_enc is not None:
            throttle.forgive(s, attempt, user=False)
            return "code", users.principal(user), ""
        throttle.forgive(s, attempt, user=True)
        return "in", *_open(s, now, user, settings.session_timeout)

    outcome, user, token = run(work)
    if outcome == "blocked":
        log.warning("console: login refused, too many attempts")
        minutes = max(1, round(settings.lockout.total_seconds() / 60))
        error = f"Too many attempts. Wait {minutes} minutes, then try again."
        return page("login.html", 429, form=form, error=error)
    if user is None:
        log.info("console: wrong user name or password")
        return page("login.html", 401, form=form, error="Wrong user name or password.")
    clock = runtime().clock()
    if outcome == "code":
        session.clear()
        session["pending"] = {"id": user.id, "version": user.version, "at": clock.timestamp(), "next": target}
        return redirect(url_for("console.login_code"))
    _start(user, token)
    log.info("console: %s logged in", user.username)
    return redirect(target or url_for("console.home"))


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> Any:
    """Ask for the two-factor code after a right password (throttled like the password)."""
    pending = session.get("pending")
    clock = runtime().clock()
    if not isinstance(pending, dict) or clock.timestamp() - float(pending.get("at", 0)) > PENDING_FOR:
        session.pop("pending", None)
        flash("Log in again: the code must follow the password within five minutes.", "info")
        return redirect(url_for("console.login"))
    form = CodeForm()
    if not form.validate_on_submit():
        return page("login_code.html", 200 if request.method == "GET" else 400, form=form, error=None)
    settings = runtime().config.console
    box = state().box

    def work(s: Session, env: Env, now: datetime) -> tuple[str, users.Principal | None, str]:
        user = users.get(s, int(pending["id"]))
        if user is None or user.session_version != pending["version"]:
            return "gone", None, ""
        attempt = throttle.record(s, now, user.username, client_address())
        if throttle.blocked(s, now, settings, attempt):
            return "blocked", None, ""
        if not users.check_totp(user, box, form.code.data or "", now):
            return "wrong", None, ""
        throttle.forgive(s, attempt, user=True)
        return "in", *_open(s, now, user, settings.session_timeout)

    outcome, user, token = run(work)
    if outcome == "gone":
        session.clear()
        return redirect(url_for("console.login"))
    if outcome == "blocked":
        return page("login_code.html", 429, form=form, error="Too many attempts. Wait, then log in again.")
    if user is None:
        return page("login_code.html", 401, form=form, error="That code is not right (or was used already).")
    target = pending.get("next")
    _start(user, token)
    log.info("console: %s logged in with a two-factor code", user.username)
    return redirect(_next_target(target) or url_for("console.home"))


@bp.post("/logout")
def logout() -> BaseResponse:
    """End the session, in the database too: the cookie, or any copy of it, no longer opens a page."""
    _end_session()
    flash("You are logged out.", "info")
    return redirect(url_for("console.login"))
