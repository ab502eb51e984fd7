"""The statistics page: the anonymous report of a chosen period, its charts, and its downloads."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, request
from markupsafe import Markup
from sqlalchemy.orm import Session

from callout import report as report_domain
from callout.env import Env
from console.forms import ReportForm
from console.web import bp, page, require, run, team_or_404, team_view, who

DOWNLOADS = {
    "csv": (report_domain.render_csv, "text/csv"),
    "json": (report_domain.render_json, "application/json"),
    "html": (lambda built: _printable(built), "text/html"),
}
LONGEST = timedelta(days=3 * 366)
CACHED = 16  # rendered reports kept per process


class _Rendered:
    """The last reports rendered, by team, period and what they were built from (see period_version)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[Any, ...], tuple[report_domain.Report, Markup]] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> tuple[report_domain.Report, Markup] | None:
        """Return the report kept for key, if any."""
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], value: tuple[report_domain.Report, Markup]) -> None:
        """Keep a report, forgetting the oldest beyond CACHED."""
        with self._lock:
            self._kept[key] = value
            while len(self._kept) > CACHED:
                self._kept.popitem(last=False)


rendered = _Rendered()


def _printable(built: report_domain.Report) -> str:
    """Render the printable HTML report (matplotlib loads here, with the first one)."""
    from callout.report_html import render_html

    return render_html(built)


class BadPeriod(ValueError):
    """A period the report cannot cover; the message says why."""


def period(start_text: str | None, end_text: str | None, today: date) -> tuple[date, date]:
    """Return the period asked for; by default this month so far. Raise BadPeriod for a bad one."""
    try:
        end = date.fromisoformat(end_text) if end_text else today
        start = date.fromisoformat(start_text) if start_text else end.replace(day=1)
    except ValueError:
        raise BadPeriod("Give the days as YYYY-MM-DD, for example 2026-01-31.") from None
    if start > end:
        raise BadPeriod(f"The period starts ({start}) after it ends ({end}).")
    if end - start > LONGEST:
        raise BadPeriod("Choose a period of at most three years.")
    if start.year < 1970 or end.year > 9000:
        raise BadPeriod("Choose days between 1970 and 9000.")
    return start, end


def _report(slug: str, start_text: str | None, end_text: str | None, charts: bool = False) -> tuple[Any, ...]:
    """Build the report of the team in the URL for the period asked for (with its charts, if asked).

    A report is kept, charts and all, until a request of its period changes (matplotlib takes a while).
    """

    def work(session: Session, env: Env, now: datetime) -> tuple[Any, ...]:
        team = team_or_404(session, slug)
        require(who().can_change)
        zone = ZoneInfo(team.timezone)
        today = now.astimezone(zone).date()
        try:
            start, end = period(start_text, end_text, today)
        except BadPeriod as exc:
            return team_view(team), None, str(exc), today, today, None
        configured = env.configured(team)
        areas = configured.content_areas if configured else ()
        key = (
            team.slug,
            start,
            end,
            areas,
            report_domain.period_version(session, team.slug, start, end, zone),
        )
        kept = rendered.get(key)
        if kept is not None:
            return team_view(team), kept[0], None, start, end, kept[1]
        built = report_domain.build_report(session, [team.slug], start, end, content_areas={team.slug: areas})
        section = None
        if charts:
            # Here, not at the top: matplotlib loads with the first report, not in every worker at start.
            from callout.report_html import team_section

            section = Markup(team_section(built.teams[0], "s"))
            rendered.put(key, (built, section))
        return team_view(team), built, None, start, end, section

    return run(work)


@bp.get("/<slug>/stats")
def stats(slug: str) -> Any:
    """Show the statistics of a period, with charts and the downloads."""
    form = ReportForm(request.args)
    team, _built, error, start, end, section = _report(
        slug, request.args.get("start"), request.args.get("end"), charts=True
    )
    form.start.data, form.end.data = start.isoformat(), end.isoformat()
    return page(
        "stats.html",
        400 if error else 200,
        team=team,
        form=form,
        error=error,
        report_html=section,
        start=start,
        end=end,
        section="stats",
    )


@bp.get("/<slug>/stats/report.<fmt>")
def stats_download(slug: str, fmt: str) -> Response:
    """Download the report of a period as CSV, JSON or a printable HTML page."""
    if fmt not in DOWNLOADS:
        abort(404)
    team, built, error, start, end, _section = _report(
        slug, request.args.get("start"), request.args.get("end")
    )
    if built is None:
        abort(400, error)
    render, mimetype = DOWNLOADS[fmt]
    name = f"callout-{team.slug}-{start.isoformat()}-to-{end.isoformat()}.{fmt}"
    response = Response(render(built), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
