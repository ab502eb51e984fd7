"""The `roster` and `oncall` commands: import and list rosters, see who is on call, swap shifts.

Over 400 lines because both groups share how their options name a team, a moment and a member.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from callout import assign, auditlog, away, messages, notices, rotation, shifts
from callout.config import ConfigError, TeamConfig
from callout.db import transaction
from callout.env import make_env
from callout.models import Cover, CoverState, Member, Override, Team
from callout.phones import maybe_e164
from callout.roster import EmptiesRole, RosterDiff, RosterError, import_roster, load_roster_file
from callout.teams import UnknownTeam, get_team
from cli.group import YEARS, Context, cli, fail, pass_context

TEAM_HELP = "Team slug (may be left out when one team is configured)."
FIX_OR_FORCE = "Fix the file, or run again with --force."
MAX_ID = 2**63 - 1  # the largest id a database row can have


def _team_configs(ctx: Context, slug: str | None, every: bool = False) -> list[TeamConfig]:
    """Return the team named by --team; without it the only team (or, if every, all of them)."""
    teams = ctx.config.teams
    if slug is not None:
        try:
            return [ctx.config.team(slug)]
        except ConfigError as exc:
            fail(str(exc))
    if not teams:
        fail("no teams are configured: add a [[teams]] entry to the config file")
    if len(teams) > 1 and not every:
        fail(f"several teams are configured ({', '.join(t.slug for t in teams)}): name one with --team")
    return list(teams)


@contextmanager
def _session(ctx: Context) -> Iterator[Session]:
    """Open a transaction on the database (committed when the block succeeds)."""
    with transaction(ctx.sessions()) as session:
        yield session


def _row(session: Session, team_config: TeamConfig) -> Team:
    """Return the team's row, or fail with one line."""
    try:
        return get_team(session, team_config)
    except UnknownTeam as exc:
        fail(str(exc))


def _when(text: str, option: str, team_config: TeamConfig) -> datetime:
    """Parse an ISO-8601 moment from 1970 to 9000; one without a zone is the team's local time."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"{option}: expected an ISO-8601 date and time such as 2026-03-10T14:00, got {text!r}")
    if moment.year not in YEARS:
        fail(f"{option}: {text!r} is out of range: use a year from {YEARS[0]} to {YEARS[-1]}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(team_config.timezone))
    return moment.astimezone(UTC)


def _local(team: Team, moment: datetime) -> str:
    """Format a moment in the team's time zone."""
    return rotation.local_time(team, moment).strftime("%a %Y-%m-%d %H:%M %Z")


def _table(rows: list[list[str]]) -> None:
    """Print rows as left-aligned columns."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _status(team: Team, member: Member, at: datetime) -> str:
    """Say why a member cannot be paged at at (empty when they can)."""
    if not member.active:
        return "inactive"
    if member.opted_out:
        return "opted out of texts"
    period = away.away_period(member, at)
    if period is not None:
        return "away until they text BACK" if period.end is None else f"away until {_local(team, period.end)}"
    return ""


# --- roster -------------------------------------------------------------------------------------


@cli.group("roster")
def roster_group() -> None:
    """Import, list and change team rosters."""


def show_diff(diff: RosterDiff) -> None:
    """Print a roster change by name (indented), and what is worth knowing about empty roles."""
    for line in [*diff.lines(), *diff.notes()]:
        click.echo(f"  {line}")


def refused(what: str, diff: RosterDiff, hint: str) -> NoReturn:
    """Print the change that was refused, then why (naming the role), and exit 1."""
    click.echo(f"{diff.team}: {what} would make {diff}:")
    show_diff(diff)
    fail(f"{what}: refused: {diff.refusal()}; nothing was changed. {hint}", code=1)


def problems(what: Path | str, exc: RosterError) -> NoReturn:
    """Print a roster's problems (each with its position) and exit 1."""
    if [p.position for p in exc.problems] == ["file"]:
        fail(f"{what}: {exc.problems[0].reason}", code=1)
    count = len(exc.problems)
    click.echo(f"callout: {what}: {count} problem{'s' * (count != 1)}; nothing was changed", err=True)
    for problem in exc.problems:
        click.echo(f"  {problem}", err=True)
    sys.exit(1)


@roster_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--team", "slug", help=TEAM_HELP)
@click.option("--dry-run", is_flag=True, help="Print what would change, and change nothing.")
@click.option("--force", is_flag=True, help="Import even if it leaves a role with no active member.")
@pass_context
def roster_import(ctx: Context, file: Path, slug: str | None, dry_run: bool, force: bool) -> None:
    """Load a roster file (.toml or .csv): all or nothing; prints what changes, by name."""
    (team_config,) = _team_configs(ctx, slug)
    try:
        entries = load_roster_file(file)
        with _session(ctx) as session:
            now = datetime.now(UTC)
            team = _row(session, team_config)
            diff = import_roster(session, team, entries, now, force=force, dry_run=dry_run)
            if diff.applied:
                auditlog.record(session, now, auditlog.cli_actor(), "roster.import", diff.summary(), team)
    except EmptiesRole as exc:
        refused(str(file), exc.diff, FIX_OR_FORCE)
    except RosterError as exc:
        problems(file, exc)
    if dry_run:
        click.echo(f"{team_config.slug}: dry run of {file}, nothing was changed: it would make {diff}")
        show_diff(diff)
        if diff.emptied and not force:
            fail(f"{file}: the import would be refused: {diff.refusal()}. {FIX_OR_FORCE}", code=1)
        return
    click.echo(f"{team_config.slug}: imported {file}: {diff}")
    show_diff(diff)


@roster_group.command("list")
@click.option("--team", "slug", help="Team slug (default: every team).")
@pass_context
def roster_list(ctx: Context, slug: str | None) -> None:
    """List each team's members: active first, in rotation order."""
    now = datetime.now(UTC)
    with _session(ctx) as session:
        for team_config in _team_configs(ctx, slug, every=True):
            team = _row(session, team_config)
            members = sorted(team.members, key=lambda m: (not m.active, m.position, m.id))
            click.echo(f"{team.name} ({team.slug}): {sum(m.active for m in members)} active members")
            if not members:
                continue
            rows = [["NAME", "ROLE", "PHONE", "SKILLS", "ACTIVE", "LAST TEST", "AWAY"]]
            for m in members:
                away = _status(team, m, now) if m.active else ""
                tested = _local(team, m.test_confirmed_at) if m.test_confirmed_at else "never"
                active = "yes" if m.active else "no"
                rows.append([m.name, m.role, m.phone, ", ".join(m.skills), active, tested, away])
            _table(rows)


# --- oncall -------------------------------------------------------------------------------------


@cli.group("oncall", invoke_without_command=True)
@click.option("--team", "slug", help="Team slug (default: every team).")
@click.option("--at", "at_text", metavar="ISO-8601", help="The moment to look at (default: now; local time).")
@click.option("--check", is_flag=True, help="List coming shifts with no available peer; exit 1 if any.")
@click.option(
    "--days",
    type=click.IntRange(1, 366),
    default=7,
    show_default=True,
    help="How many days ahead --check looks.",
)
@click.pass_context
def oncall(click_ctx: click.Context, slug: str | None, at_text: str | None, check: bool, days: int) -> None:
    """Show who is on call, in paging order; or check coming shifts for gaps."""
    click_ctx.meta["callout.oncall.team"] = slug
    if click_ctx.invoked_subcommand is not None:
        return
    ctx = click_ctx.find_object(Context)
    assert ctx is not None
    if check and at_text is not None:
        fail("--check looks ahead from now; leave out --at")
    now = datetime.now(UTC)
    teams = _team_configs(ctx, slug, every=True)
    moments = [now if at_text is None else _when(at_text, "--at", team_config) for team_config in teams]
    gaps = 0
    with _session(ctx) as session:
        for team_config, at in zip(teams, moments, strict=True):
            team = _row(session, team_config)
            rotation.ensure_anchor(session, team, now)
            if check:
                gaps += _show_gaps(session, team, team_config, now, days)
            else:
                _show_oncall(session, team, team_config, at)
    if gaps:
        sys.exit(1)


def _show_oncall(session: Session, team: Team, team_config: TeamConfig, at: datetime) -> None:
    """Print the shift, the paging order (with who is skipped and why) and the fallback."""
    start, end = rotation.shift_bounds(team, at)
    click.echo(f"{team.name} ({team.slug}) at {_local(team, at)}")
    click.echo(f"shift: {_local(team, start)} to {_local(team, end)}")
    override = rotation.override_at(session, team, at)
    if override is not None:
        until = _local(team, override.ends_at)
        click.echo(f"override {override.id}: {override.member.name} is primary until {until}")
    order = rotation.paging_order(session, team, at)
    available = [m for m in order if rotation.is_available(m, at)]
    click.echo(f"paging order (the first {team_config.escalation.peers} are paged, then the fallback):")
    if not available:
        click.echo("  no peer is available")
    for number, member in enumerate(available, 1):
        primary = "  (primary)" if number == 1 else ""
        click.echo(f"  {number}. {member.name}  {member.phone}{primary}")
    for member in order:
        if member not in available:
            click.echo(f"  skipped: {member.name}, {_status(team, member, at)}")
    click.echo("fallback:")
    for role in team_config.escalation.fallback:
        names = ", ".join(f"{m.name}  {m.phone}" for m in rotation.fallback_members(session, team, role, at))
        click.echo(f"  {role}: {names or 'nobody'}")
        for member in team.members:
            if member.role == role and member.active and not rotation.is_available(member, at):
                click.echo(f"    skipped: {member.name}, {_status(team, member, at)}")
    _show_changes(session, team, at)


def _show_changes(session: Session, team: Team, at: datetime) -> None:
    """Print what changes the plan from at on: overrides, covers taken and asked, AWAY, with their ends."""
    lines = []
    for override in rotation.list_overrides(session, team, at):
        span = f"{_local(team, override.starts_at)} to {_local(team, override.ends_at)}"
        if override.cover is not None and override.cover.initiator is not None:
            asker = override.cover.initiator.name
            who = f"{override.member.name} for {asker}"
            lines.append(f"cover {override.cover.code} (override {override.id}): {who}, {span}")
        else:
            lines.append(f"override {override.id}: {override.member.name}, {span}")
    for ask in session.scalars(
        select(Cover)
        .where(Cover.team_id == team.id, Cover.state == CoverState.OPEN)
        .order_by(Cover.starts_at)
    ):
        alerted = "; the director was alerted" if ask.alerted_at else ""
        lines.append(
            f"COVER {ask.request.code} asked by {ask.asker.name} for {_local(team, ask.starts_at)} to"
            f" {_local(team, ask.ends_at)}: nobody has taken it yet{alerted}"
        )
    for member in team.members:
        away = shifts.away_of(member)
        if member.active and away is not None and (away.end is None or away.end > at):
            since = f" since {_local(team, away.start)}" if away.start else ""
            until = f"until {_local(team, away.end)}" if away.end else "until they text BACK"
            lines.append(f"away: {member.name} ({member.role}){since}, {until}")
    click.echo("covers, overrides and AWAY:" if lines else "covers, overrides and AWAY: none")
    for line in lines:
        click.echo(f"  {line}")


def _show_gaps(session: Session, team: Team, team_config: TeamConfig, now: datetime, days: int) -> int:
    """Print the coming shifts of team with nobody available in a role; return how many."""
    roles = team_config.escalation.fallback
    gaps = rotation.uncovered(session, team, now, days, roles)
    active = [m for m in team.members if m.active]
    # Dispatch is never paged (it pages): only those a page must reach are asked to confirm a TEST.
    paged = [m for m in active if m.role != "dispatch"]
    untested = [m.name for m in paged if m.test_confirmed_at is None and not m.opted_out]
    opted_out = [m.name for m in active if m.opted_out]
    if opted_out:
        click.echo(f"{team.slug}: opted out of texts (pages can't reach them): {', '.join(opted_out)}")
    if untested:
        click.echo(f"{team.slug}: never confirmed a TEST page (ask them to text TEST): {', '.join(untested)}")
    if not gaps:
        also = f" and someone in every fallback role ({', '.join(roles)})" if roles else ""
        click.echo(f"{team.slug}: every shift in the next {days} days has an available peer{also}")
        return 0
    click.echo(f"{team.slug}: {len(gaps)} coming shift{'s' * (len(gaps) != 1)} without cover:")
    for gap in gaps:
        now_mark = "NOW: " if gap.start <= now else ""
        what = messages.nobody_in(gap.missing)
        click.echo(f"  {now_mark}{_local(team, gap.start)} to {_local(team, gap.end)}: {what}")
    return len(gaps)


def _oncall_team(ctx: Context, slug: str | None) -> TeamConfig:
    """Return the team of an oncall subcommand: its own --team, else the one given to oncall."""
    slug = slug or click.get_current_context().meta.get("callout.oncall.team")
    (team_config,) = _team_configs(ctx, slug)
    return team_config


def _member(session: Session, team: Team, text: str) -> Member:
    """Find an active member by name (any case) or phone number; fail with one line otherwise."""
    phone = maybe_e164(text)
    found = [
        m
        for m in team.members
        if m.active
        and (m.name.casefold() == text.strip().casefold() or (phone is not None and m.phone == phone))
    ]
    if not found:
        fail(f"no active member of {team.slug} is named {text!r}")
    if len(found) > 1:
        fail(f"{len(found)} members of {team.slug} are named {text!r}: give the phone number instead")
    return found[0]


def _telling(ctx: Context, session: Session, team: Team, now: datetime) -> AbstractContextManager[None]:
    """Tell whoever an override makes primary now, or displaces (notices.told_of_changes).

    Without a data_key the running line could not read what this process queues: nobody is told.
    """
    if not ctx.config.privacy.data_key:
        return nullcontext()
    return notices.told_of_changes(session, make_env(ctx.config), team, now)


def _untold(ctx: Context) -> None:
    """Say that nobody was texted about a change, when there is no data_key to queue texts with."""
    if not ctx.config.privacy.data_key:
        click.echo("note: no [privacy] data_key, so nobody was texted about this change", err=True)


@oncall.command("override")
@click.option("--team", "slug", help=TEAM_HELP)
@click.option("--member", "who", required=True, help="Name or phone of the peer taking the shift.")
@click.option(
    "--from", "from_text", required=True, metavar="ISO-8601", help="Start (local time unless zoned)."
)
@click.option("--to", "to_text", required=True, metavar="ISO-8601", help="End (local time unless zoned).")
@pass_context
def oncall_override(ctx: Context, slug: str | None, who: str, from_text: str, to_text: str) -> None:
    """Make a peer primary for a while (a shift swap)."""
    team_config = _oncall_team(ctx, slug)
    start, end = _when(from_text, "--from", team_config), _when(to_text, "--to", team_config)
    with _session(ctx) as session:
        team = _row(session, team_config)
        member = _member(session, team, who)
        now = datetime.now(UTC)
        try:
            with _telling(ctx, session, team, now):
                override = rotation.add_override(session, team, member, start, end, now)
        except rotation.OverrideError as exc:
            fail(f"cannot add that override: {exc}")
        summary = f"override: {assign.describe(team, override)}"
        auditlog.record(session, now, auditlog.cli_actor(), "override.add", summary, team)
        click.echo(
            f"override {override.id}: {member.name} is primary"
            f" from {_local(team, start)} to {_local(team, end)}"
        )
    _untold(ctx)


@oncall.command("overrides")
@click.option("--team", "slug", help="Team slug (default: every team).")
@pass_context
def oncall_overrides(ctx: Context, slug: str | None) -> None:
    """List the overrides that are not over yet."""
    slug = slug or click.get_current_context().meta.get("callout.oncall.team")
    now = datetime.now(UTC)
    with _session(ctx) as session:
        for team_config in _team_configs(ctx, slug, every=True):
            team = _row(session, team_config)
            overrides = rotation.list_overrides(session, team, now)
            click.echo(f"{team.slug}: {len(overrides)} override{'s' * (len(overrides) != 1)}")
            if overrides:
                rows = [["ID", "MEMBER", "FROM", "TO"]]
                rows += [
                    [str(o.id), o.member.name, _local(team, o.starts_at), _local(team, o.ends_at)]
                    for o in overrides
                ]
                _table(rows)


@oncall.command("override-remove")
@click.argument("override_id", metavar="ID", type=int)
@click.option("--team", "slug", help="Team slug (default: any team).")
@pass_context
def oncall_override_remove(ctx: Context, override_id: int, slug: str | None) -> None:
    """Remove an override: the scheduled rotation applies again."""
    slug = slug or click.get_current_context().meta.get("callout.oncall.team")
    if not 1 <= override_id <= MAX_ID:  # the database cannot even look such an id up
        fail(f"no override {override_id}")
    with _session(ctx) as session:
        team = _row(session, _team_configs(ctx, slug)[0]) if slug else None
        found = session.get(Override, override_id) if 1 <= override_id <= MAX_ID else None
        owner = session.get(Team, found.team_id) if found is not None else None
        try:
            if owner is None or (team is not None and owner.id != team.id):
                raise rotation.OverrideError(f"no override {override_id}")
            with _telling(ctx, session, owner, datetime.now(UTC)):
                override = rotation.remove_override(session, override_id, team)
        except rotation.OverrideError as exc:
            fail(str(exc))
        summary = f"override removed: {assign.describe(owner, override)}"
        auditlog.record(session, datetime.now(UTC), auditlog.cli_actor(), "override.remove", summary, owner)
        click.echo(
            f"removed override {override.id} ({override.member.name}, {_local(owner, override.starts_at)})"
        )
    _untold(ctx)
