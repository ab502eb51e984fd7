"""`callout oncall calendar`: print the feed URLs (each member's own and the team's) or rotate them."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from callout import auditlog, calendar
from callout.env import make_env
from callout.models import Member
from cli.group import Context, pass_context
from cli.roster import TEAM_HELP, _member, _row, _session, _team_configs, oncall


@oncall.command("calendar")
@click.option("--team", "slug", help=TEAM_HELP)
@click.option("--member", "who", help="Only this member's feed (a name or a phone number).")
@click.option("--rotate", is_flag=True, help="Replace the token(s): the old URL stops working.")
@pass_context
def oncall_calendar(ctx: Context, slug: str | None, who: str | None, rotate: bool) -> None:
    """Print the team's feed URL and each active peer's own (or one member's), for phones to subscribe to."""
    slug = slug or click.get_current_context().meta.get("callout.oncall.team")
    (team_config,) = _team_configs(ctx, slug)
    env = make_env(ctx.config)
    now = datetime.now(UTC)
    action = calendar.rotate if rotate else calendar.token_for
    with _session(ctx) as session:
        team = _row(session, team_config)
        feeds: list[tuple[str, Member | None]]
        if who is not None:
            one = _member(session, team, who)
            feeds = [(one.name, one)]
        else:
            peers = [m for m in team.members if m.active and m.role == "peer"]
            feeds = [(f"{team.name} (whole rotation)", None), *((m.name, m) for m in peers)]
        for label, member in feeds:
            click.echo(f"{label}: {calendar.url(env, action(session, env, team, member, now))}")
        if rotate:
            summary = "replaced the calendar feed URLs of " + ", ".join(label for label, _member in feeds)
            auditlog.record(session, now, auditlog.cli_actor(), "calendar.rotate", summary, team)
    if rotate:
        click.echo(f"rotated {len(feeds)} feed{'s' * (len(feeds) != 1)}: the old URLs no longer work")
    if not ctx.config.privacy.data_key:
        click.echo(
            "note: no [privacy] data_key is set, so these links cannot be given again: the next run "
            "prints new ones",
            err=True,
        )
