"""`callout roster add`, `deactivate` and `activate`: one member at a time, with the import's checks."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from sqlalchemy.orm import Session

from callout import auditlog
from callout.models import Member, Team
from callout.roster import (
    AmbiguousMember,
    EmptiesRole,
    RosterError,
    UnknownMember,
    add_member,
    find_member,
    new_entry,
    set_active,
)
from cli.group import Context, fail, pass_context
from cli.roster import TEAM_HELP, _row, _session, _team_configs, problems, roster_group


def _who(session: Session, team: Team, who: str) -> Member:
    """Find the member WHO names (a phone, or a name only one member's matches); fail with one line."""
    try:
        return find_member(session, team, who)
    except AmbiguousMember as exc:
        click.echo(f"callout: {exc}", err=True)
        for member in exc.candidates:
            state = "" if member.active else ", inactive"
            click.echo(f"  {member.name}  {member.phone}  ({member.role}{state})", err=True)
        sys.exit(2)
    except UnknownMember as exc:
        fail(str(exc))


@roster_group.command("add")
@click.option("--team", "slug", help=TEAM_HELP)
@click.option("--name", required=True, help="The member's name, as pages and tallies show it.")
@click.option("--phone", required=True, help="Their mobile number (any format; US by default).")
@click.option("--role", required=True, help="peer, psychologist, director or dispatch.")
@click.option("--skill", "skills", multiple=True, help="A skill tag (repeat for several).")
@pass_context
def roster_add(
    ctx: Context, slug: str | None, name: str, phone: str, role: str, skills: tuple[str, ...]
) -> None:
    """Add one member at the end of the rotation (checked as a roster file's entry is)."""
    (team_config,) = _team_configs(ctx, slug)
    try:
        entry = new_entry(name, phone, role, skills)
        with _session(ctx) as session:
            team, now = _row(session, team_config), datetime.now(UTC)
            diff = add_member(session, team, entry, now)
            auditlog.record(session, now, auditlog.cli_actor(), "roster.add", diff.summary(), team)
    except RosterError as exc:
        problems("roster add", exc)
    click.echo(f"{team_config.slug}: added {entry.name} ({entry.role}, {entry.phone})")
    for line in diff.notes():
        click.echo(f"  {line}")


def _set_active(ctx: Context, slug: str | None, who: str, active: bool, force: bool = False) -> None:
    """Activate or deactivate the member WHO names, and say what changed."""
    (team_config,) = _team_configs(ctx, slug)
    word = "activated" if active else "deactivated"
    try:
        with _session(ctx) as session:
            team = _row(session, team_config)
            member = _who(session, team, who)
            now = datetime.now(UTC)
            diff = set_active(session, team, member, active, now, force=force)
            if diff.applied:
                action = "roster.activate" if active else "roster.deactivate"
                auditlog.record(session, now, auditlog.cli_actor(), action, diff.summary(), team)
    except EmptiesRole as exc:
        hint = "Add or activate another first, or run again with --force."
        fail(f"roster deactivate {who!r}: refused: {exc.diff.refusal()}; nothing was changed. {hint}", code=1)
    if not diff.applied:
        click.echo(f"{team_config.slug}: {member.name} was already {'active' if active else 'inactive'}")
        return
    click.echo(f"{team_config.slug}: {word} {member.name} ({member.role})")
    for line in diff.notes():
        click.echo(f"  {line}")


@roster_group.command("deactivate")
@click.argument("who")
@click.option("--team", "slug", help=TEAM_HELP)
@click.option("--force", is_flag=True, help="Deactivate even the last active member of a role.")
@pass_context
def roster_deactivate(ctx: Context, who: str, slug: str | None, force: bool) -> None:
    """Take one member (WHO: a phone, or a name) off the roster; their history stays."""
    _set_active(ctx, slug, who, False, force)


@roster_group.command("activate")
@click.argument("who")
@click.option("--team", "slug", help=TEAM_HELP)
@pass_context
def roster_activate(ctx: Context, who: str, slug: str | None) -> None:
    """Put one inactive member (WHO: a phone, or a name) back on the roster, in their old place."""
    _set_active(ctx, slug, who, True)
