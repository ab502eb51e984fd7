"""What every console view shares: the blueprint, the runtime, the logged-in user and the team in the URL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import Session

from callout import board as board_domain
from callout import users
from callout.env import Env
from callout.models import Team
from callout.runtime import Runtime
from callout.signing import SecretBox

T = TypeVar("T")
HTMX = "htmx-2.0.8.min.js"

bp = Blueprint(
    "console", __name__, url_prefix="/console", template_folder="templates", static_folder="static"
)


@dataclass(frozen=True)
class ConsoleState:
    """What the console keeps for the app's life: the box that seals TOTP secrets."""

    box: SecretBox


@dataclass(frozen=True)
class TeamView:
    """A team as pages show it (no database object outlives its transaction)."""

    id: int
    slug: str
    name: str
    timezone: str


def team_view(team: Team) -> TeamView:
    """Return what pages show of a team."""
    return TeamView(team.id, team.slug, team.name, team.timezone)


def runtime() -> Runtime:
    """Return the Runtime of the app handling this request."""
    found: Runtime = current_app.extensions["callout"]
    return found


def state() -> ConsoleState:
    """Return the console's state."""
    found: ConsoleState = current_app.extensions["callout.console"]
    return found


def run(work: Callable[[Session, Env, datetime], T]) -> T:
    """Run work(session, env, now) in one transaction."""
    return runtime().run(work)


def now() -> datetime:
    """Return the runtime's clock."""
    return runtime().clock()


def who() -> users.Principal:
    """Return the logged-in user (views run only with one: the blueprint's hook sees to it)."""
    found: users.Principal = current_user.who
    return found


def team_or_404(session: Session, slug: str) -> Team:
    """Return the team of the URL if the user may look at it; 404 otherwise, as for a team that is not."""
    team = users.visible_team(session, who(), slug)
    if team is None:
        abort(404)
    return team


def require(allowed: bool) -> None:
    """Stop with 403 unless the user's role allows what the request asks."""
    if not allowed:
        abort(403)


def page(template: str, status: int = 200, /, **context: Any) -> tuple[str, int]:
    """Render a console page."""
    return render_template(template, **context), status


def local(moment: datetime | None, zone: str, fmt: str = "%a %d %b %H:%M") -> str:
    """Return a moment in a team's zone ("Tue 10 Mar 07:00"), or a dash."""
    if moment is None:
        return "–"
    return moment.astimezone(ZoneInfo(zone)).strftime(fmt)


@bp.app_template_filter("age")
def age_filter(moment: datetime) -> str:
    """Return how long ago moment was."""
    return board_domain.age(now(), moment)


@bp.app_template_filter("left")
def left_filter(moment: datetime | None) -> str:
    """Return how long until moment."""
    return board_domain.remaining(now(), moment) or "–"


@bp.app_template_global("local")
def local_global(moment: datetime | None, zone: str, fmt: str = "%a %d %b %H:%M") -> str:
    """Format a moment in a team's zone, for templates."""
    return local(moment, zone, fmt)


@bp.app_template_global("parse_iso")
def parse_iso(text: str | None) -> datetime | None:
    """Read back an ISO 8601 time of the dispatch API's answers ("2026-03-10T15:00:00Z")."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


@bp.app_template_global("home_team")
def home_team() -> TeamView | None:
    """Return the team whose pages the navigation links to on a page of no team (the account, the users)."""
    me = who()
    teams = run(lambda session, env, now: [team_view(t) for t in users.visible_teams(session, me)[:1]])
    return teams[0] if teams else None


@dataclass(frozen=True)
class Section:
    """A page of the console's navigation that a later part adds (the calendar, the roster)."""

    key: str
    label: str
    endpoint: str
    change: bool  # only for users who change things (admin, director)


EXTRA_SECTIONS = (
    Section("calendar", "Calendar", "console.calendar", change=False),
    Section("roster", "Roster", "console.roster_page", change=True),
)


@bp.app_template_global("console_sections")
def console_sections(me: users.Principal, slug: str) -> list[dict[str, str]]:
    """Return the extra sections this user may open, among those the app has."""
    shown = []
    for extra in EXTRA_SECTIONS:
        if extra.endpoint not in current_app.view_functions or me.role is users.Role.DISPATCH:
            continue
        if extra.change and not me.can_change:
            continue
        shown.append({"key": extra.key, "label": extra.label, "url": url_for(extra.endpoint, slug=slug)})
    return shown


@bp.app_context_processor
def globals_() -> dict[str, Any]:
    """Give every template the htmx file's name and the logged-in user (None on the login pages)."""
    me = current_user.who if current_user and current_user.is_authenticated else None
    return {"htmx": HTMX, "me": me}


@bp.after_request
def headers(response: Response) -> Response:
    """Keep console pages out of caches and frames; allow only our own scripts."""
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
        " frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    return response
