"""The `print poster` and `print card` commands: the station poster and the member's wallet card, as HTML."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from callout import papers
from callout.config import Config, ConfigError, TeamConfig
from cli.group import Context, cli, fail, pass_context

TEAM_HELP = "Team slug (may be left out when one team is configured)."
OUTPUT_HELP = "Write to FILE (open it in a browser and print: Letter or A4) instead of standard output."


@cli.group("print")
def print_group() -> None:
    """Print the station poster or a member's wallet card (print-ready HTML)."""


@print_group.command("poster")
@click.option("--team", "slug", default=None, help=TEAM_HELP)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help=OUTPUT_HELP)
@pass_context
def print_poster(ctx: Context, slug: str | None, output: Path | None) -> None:
    """The station poster: the number, what stays confidential, what is kept, 911/988, a QR code to text."""
    _write(ctx, slug, output, papers.poster, "poster")


@print_group.command("card")
@click.option("--team", "slug", default=None, help=TEAM_HELP)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help=OUTPUT_HELP)
@pass_context
def print_card(ctx: Context, slug: str | None, output: Path | None) -> None:
    """Members' wallet cards, four to a page: the number, the commands, what a page looks like."""
    _write(ctx, slug, output, papers.card, "cards")


def _write(
    ctx: Context,
    slug: str | None,
    output: Path | None,
    render: Callable[[Config, TeamConfig], str],
    what: str,
) -> None:
    """Render the paper of the team named by --team (or the only one) to output or standard output."""
    config = ctx.config
    if slug is not None:
        try:
            team = config.team(slug)
        except ConfigError as exc:
            fail(str(exc))
    elif len(config.teams) == 1:
        team = config.teams[0]
    elif not config.teams:
        fail("no teams are configured: add a [[teams]] entry to the config file")
    else:
        fail(
            f"several teams are configured ({', '.join(t.slug for t in config.teams)}): name one with --team"
        )
    html = render(config, team)
    if output is None:
        click.echo(html, nl=False)
        return
    try:
        output.write_text(html, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    click.echo(f"{what} for {team.slug} written to {output}", err=True)
