"""The users page: who may log in to the console (an admin: everyone; a director: their team)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from callout import auditlog, users
from callout.env import Env
from callout.models import ConsoleUser, Team
from console.forms import ActionForm, PasswordForm, UserForm
from console.web import TeamView, bp, page, require, run, team_view, who


@dataclass(frozen=True)
class UserRow:
    """A user as the page lists them."""

    id: int
    username: str
    role: str
    team: str | None
    zone: str  # the team's time zone, for the last login (UTC for an admin of every team)
    last_login_at: datetime | None
    totp: bool
    created_at: datetime


def actor() -> auditlog.Actor:
    """Return the logged-in user as the audit log names them."""
    return auditlog.Actor(who().username, "console")


def _rows(session: Session, me: users.Principal) -> list[UserRow]:
    listed = users.listed(session, None if me.is_admin else me.team_id)
    return [
        UserRow(
            u.id,
            u.username,
            u.role,
            u.team.name if u.team else None,
            u.team.timezone if u.team else "UTC",
            u.last_login_at,
            u.totp_secret_enc is not None,
            u.created_at,
        )
        for u in listed
    ]


def _form(session: Session, me: users.Principal) -> tuple[UserForm, list[TeamView]]:
    teams = [team_view(t) for t in users.visible_teams(session, me)]
    form = UserForm()
    form.roles = [(r, r) for r in users.assignable_roles(me)]
    form.teams = ([("", "Every team (admin)")] if me.is_admin else []) + [(t.slug, t.name) for t in teams]
    return form, teams


def _page(status: int = 200, error: str | None = None, form: UserForm | None = None) -> Any:
    me = who()

    def work(session: Session, env: Env, now: datetime) -> tuple[list[UserRow], UserForm, list[TeamView]]:
        new_form, teams = _form(session, me)
        if request.method == "GET" and teams:  # the new user's team, until chosen: the first, not every team
            new_form.team.data = teams[0].slug
        return _rows(session, me), form or new_form, teams

    rows, shown_form, teams = run(work)
    return page(
        "users.html",
        status,
        rows=rows,
        form=shown_form,
        action=ActionForm(),
        password_form=PasswordForm(),
        teams=teams,
        team=teams[0] if teams and not me.is_admin else None,
        error=error,
        section="users",
    )


@bp.get("/users")
def users_page() -> Any:
    """List the users this user manages, with the forms to add, remove and reset."""
    require(who().can_change)
    return _page()


@bp.post("/users")
def user_add() -> Any:
    """Add a user (a director: to their own team, never an admin)."""
    me = who()
    require(me.can_change)

    def work(session: Session, env: Env, now: datetime) -> str | None:
        form, _teams = _form(session, me)
        if not form.validate():
            return "Fill in the user name, the role and a password."
        role = form.role.data or ""
        if role not in users.assignable_roles(me):
            abort(403)
        team: Team | None = None
        if form.team.data:
            team = users.visible_team(session, me, form.team.data)
            if team is None:
                abort(404)
        if not me.is_admin:
            team = users.visible_team(session, me, form.team.data or "")
            if team is None:
                abort(403)
        try:
            user = users.add(session, now, form.username.data or "", role, team, form.password.data or "")
        except users.UserError as exc:
            return str(exc)[:1].upper() + str(exc)[1:] + "."
        where = f" of {team.slug}" if team else ""
        auditlog.record(session, now, actor(), "user.add", f"added {user.username} ({role}{where})", team)
        return None

    error = run(work)
    if error is not None:
        return _page(400, error)
    flash("User added. Give them their password in person, not by text or email.", "ok")
    return redirect(url_for("console.users_page"))


def _managed(session: Session, user_id: int) -> ConsoleUser:
    """Return the user in the URL if this user manages them; 404 otherwise."""
    user = users.manageable(session, who(), user_id)
    if user is None:
        abort(404)
    return user


@bp.post("/users/<id:user_id>/remove")
def user_remove(user_id: int) -> BaseResponse:
    """Remove a user (not oneself: another admin or director must)."""
    me = who()
    require(me.can_change)

    def work(session: Session, env: Env, now: datetime) -> None:
        user = _managed(session, user_id)
        if user.id == me.id:
            abort(400, "You cannot remove yourself.")
        summary = f"removed {user.username} ({user.role})"
        team = user.team
        users.remove(session, user)
        auditlog.record(session, now, actor(), "user.remove", summary, team)

    run(work)
    flash("User removed: they can no longer log in.", "ok")
    return redirect(url_for("console.users_page"))


@bp.post("/users/<id:user_id>/password")
def user_password(user_id: int) -> Any:
    """Set another user's password; their sessions end."""
    me = who()
    require(me.can_change)
    form = PasswordForm()

    def work(session: Session, env: Env, now: datetime) -> str | None:
        user = _managed(session, user_id)
        try:
            users.set_password(session, now, user, form.password.data or "")
        except users.UserError as exc:
            return str(exc)
        auditlog.record(session, now, actor(), "user.password", f"{user.username}: password reset", user.team)
        return None

    error = run(work)
    if error is not None:
        return _page(400, error[:1].upper() + error[1:] + ".")
    flash("Password reset. Their sessions ended; give them the new password in person.", "ok")
    return redirect(url_for("console.users_page"))
