"""The `report` command: the anonymous statistics of one team or all, as text, CSV, JSON or HTML."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from callout.config import ConfigError
from callout.db import transaction
from callout.report import Report, build_report, render_csv, render_json, render_text
from cli.group import YEARS, Context, cli, fail, pass_context


def render_html(report: Report) -> str:
    """Render the report as one printable HTML page with charts (callout.report_html)."""
    # Imported here, not above: matplotlib takes about half a second to load, and only this format needs it.
    from callout.report_html import render_html as render

    return render(report)


RENDERERS = {"text": render_text, "csv": render_csv, "json": render_json, "html": render_html}


def parse_day(value: str, option: str) -> date:
    """Parse a YYYY-MM-DD date (years 1970 to 9000) given to option; fail with one line if it is not one."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r} is not a date (use YYYY-MM-DD, e.g. 2026-01-31)")
    if day.year not in YEARS:
        fail(f"{option} {value!r} is out of range: use a year from {YEARS[0]} to {YEARS[-1]}")
    return day


@cli.command()
@click.option("--team", "slug", default=None, help="Team slug (default: every configured team).")
@click.option("--from", "start", required=True, metavar="DATE", help="First day, YYYY-MM-DD (team's zone).")
@click.option("--to", "end", required=True, metavar="DATE", help="Last day, YYYY-MM-DD, included.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(RENDERERS)),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write to FILE instead of standard output.",
)
@pass_context
def report(ctx: Context, slug: str | None, start: str, end: str, fmt: str, output: Path | None) -> None:
    """Print the anonymous statistics of a period: counts only, nothing that identifies a requester."""
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    if first > last:
        fail(f"--from {first} is after --to {last}")
    config = ctx.config
    try:
        teams = [config.team(slug)] if slug else list(config.teams)
    except ConfigError as exc:
        fail(str(exc))
    if not teams:
        fail("no teams are configured")
    areas = {team.slug: team.content_areas for team in teams}
    with transaction(ctx.sessions()) as session:
        built = build_report(session, [team.slug for team in teams], first, last, content_areas=areas)
    text = RENDERERS[fmt](built)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    click.echo(f"report written to {output}", err=True)
