"""The `user` commands: the console's users (add, list, remove, password)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from callout import auditlog, users
from callout.config import ConfigError
from callout.db import transaction
from callout.teams import UnknownTeam, get_team
from cli.group import Context, cli, fail, pass_context


def _password(stdin: bool, username: str) -> str:
    """Read a new password: one line of standard input, or typed twice at a prompt."""
    if stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            fail("--password-stdin: standard input held no password (one line expected)")
    else:
        if not sys.stdin.isatty():
            fail("no terminal to ask for the password: give it on standard input with --password-stdin")
        password = click.prompt("password", hide_input=True, confirmation_prompt="again")
    try:
        users.check_password(password, username)
    except users.UserError as exc:
        fail(str(exc))
    return password


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


@cli.group("user")
def user_group() -> None:
    """Manage who may log in to the director's console."""


@user_group.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(users.ROLES), help="What the user may do.")
@click.option("--team", "slug", help="The user's team (every role but admin).")
@click.option("--password-stdin", "stdin", is_flag=True, help="Read the password from standard input.")
@pass_context
def user_add(ctx: Context, username: str, role: str, slug: str | None, stdin: bool) -> None:
    """Add a console user (admin: every team; director, dispatch, viewer: their team)."""
    team_config = None
    if slug is not None:
        try:
            team_config = ctx.config.team(slug)
        except ConfigError as exc:
            fail(str(exc))
    elif role != users.Role.ADMIN:
        slugs = ", ".join(t.slug for t in ctx.config.teams) or "none configured"
        fail(f"a {role} user belongs to one team: give --team (teams: {slugs})")
    name = users.normalize(username)
    password = _password(stdin, name)
    now = datetime.now(UTC)
    with transaction(ctx.sessions()) as session:
        try:
            team = get_team(session, team_config) if team_config is not None else None
            user = users.add(session, now, username, role, team, password)
        except (users.UserError, UnknownTeam) as exc:
            fail(str(exc))
        where = f" of {team.slug}" if team is not None else ""
        auditlog.record(
            session, now, auditlog.cli_actor(), "user.add", f"added {user.username} ({role}{where})", team
        )
    click.echo(f"added {user.username}: {role}{where}")


@user_group.command("list")
@pass_context
def user_list(ctx: Context) -> None:
    """List the console users with their role, team and last login."""
    with transaction(ctx.sessions()) as session:
        rows = [
            [
                u.username,
                u.role,
                u.team.slug if u.team else "(every team)",
                _when(u.last_login_at),
                "yes" if u.totp_secret_enc else "no",
            ]
            for u in users.listed(session)
        ]
    if not rows:
        click.echo("no users yet: add the first with `callout user add NAME --role admin`")
        return
    rows.insert(0, ["USER", "ROLE", "TEAM", "LAST LOGIN", "2FA"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@user_group.command("remove")
@click.argument("username")
@pass_context
def user_remove(ctx: Context, username: str) -> None:
    """Remove a console user: they cannot log in any more, and their sessions end."""
    now = datetime.now(UTC)
    with transaction(ctx.sessions()) as session:
        user = users.find(session, username)
        if user is None:
            fail(f"no user named {users.normalize(username)!r}")
        team = user.team
        summary = f"removed {user.username} ({user.role})"
        users.remove(session, user)
        auditlog.record(session, now, auditlog.cli_actor(), "user.remove", summary, team)
    click.echo(summary)


@user_group.command("password")
@click.argument("username")
@click.option("--password-stdin", "stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--reset-totp", is_flag=True, help="Also turn off the user's two-factor codes (a lost phone).")
@pass_context
def user_password(ctx: Context, username: str, stdin: bool, reset_totp: bool) -> None:
    """Set a user's password; their sessions end."""
    now = datetime.now(UTC)
    with transaction(ctx.sessions()) as session:
        user = users.find(session, username)
        if user is None:
            fail(f"no user named {users.normalize(username)!r}")
        password = _password(stdin, user.username)
        try:
            users.set_password(session, now, user, password)
        except users.UserError as exc:
            fail(str(exc))
        if reset_totp:
            users.disable_totp(user)
        what = "password set" + (", two-factor codes turned off" if reset_totp else "")
        auditlog.record(
            session, now, auditlog.cli_actor(), "user.password", f"{user.username}: {what}", user.team
        )
    click.echo(f"{user.username}: {what}")
