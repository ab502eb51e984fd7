"""The anonymous statistics of `callout report`: figures per team and month, and their text, CSV and JSON.

What is counted, for a period of whole days [start, end] in the team's time zone:
- Requests are counted in the month they were opened, by kind and by channel. Their outcome is the one they
  had at the end of the period, so a report on a past period never changes: accepted (accepted_at set, even
  late after exhaustion), declined by all (never accepted, every page declined when it ran out of people:
  recorded on the request, whose pages the purge deletes), unanswered (never accepted, exhausted or closed),
  else still open. Outcomes and time to acceptance cover support requests and dispatch
  pages; a debrief is a call-out of many and is counted by its responders instead.
- Time to acceptance (accepted_at - opened_at): the median is statistics.median (the mean of the two middle
  values when their number is even); the 90th percentile is the nearest-rank one (the smallest observed time
  that at least 90% of times do not exceed).
- Contacts are accepted support requests and dispatch pages closed in the month (counted when closed, so a
  contact that spans a month's end is counted once), by content area; off-duty (OT) first contacts are those
  of them marked OT, by the accepting member's name (program staff, for overtime pay).
- Debriefs are counted in the month they were opened, with their responders (pages answered yes), the distinct
  members who responded, and those who answered that they were unable (pages declined).
Only counts leave this module: no request, code, timestamp or requester detail.

Long: the figures and their text, CSV and JSON renderings sit together so that a new figure shows in each; the
printable HTML page, with its charts, is report_html.py.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from callout import durations
from callout.models import Channel, Page, PageState, Request, RequestKind, Team
from callout.teams import UnknownTeam

KINDS = (RequestKind.SUPPORT, RequestKind.DISPATCH, RequestKind.DEBRIEF)
CHANNELS = (Channel.SMS, Channel.VOICE, Channel.API)
UNSPECIFIED = "unspecified"
# Upper edges (seconds) of the time-to-acceptance histogram; the last bucket is open-ended.
ACCEPTANCE_EDGES = (60, 120, 300, 600, 900, 1800, 3600)
ACCEPTANCE_BUCKETS = ("0-1m", "1-2m", "2-5m", "5-10m", "10-15m", "15-30m", "30-60m", "60m+")

Counts = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Figures:
    """The statistics of one team over one month or the whole period; durations in seconds."""

    requests: int
    by_kind: Counts
    by_channel: Counts
    accepted: int
    declined_by_all: int
    unanswered: int
    open: int
    acceptance_median: float | None
    acceptance_p90: float | None
    acceptance_histogram: Counts
    contacts: int
    contacts_by_area: Counts
    overtime_by_member: Counts
    debriefs: int
    debrief_responders: int
    debrief_distinct_responders: int
    debrief_unable: int


@dataclass(frozen=True)
class MonthFigures:
    """The figures of one calendar month ("YYYY-MM") in the team's zone."""

    month: str
    figures: Figures


@dataclass(frozen=True)
class TeamReport:
    """One team's figures, month by month and in total."""

    slug: str
    name: str
    timezone: str
    months: tuple[MonthFigures, ...]
    total: Figures


@dataclass(frozen=True)
class Report:
    """The statistics of some teams over the days start to end, both included."""

    start: date
    end: date
    teams: tuple[TeamReport, ...]


def build_report(
    session: Session,
    team_slugs: Sequence[str],
    start: date,
    end: date,
    zone: ZoneInfo | None = None,
    *,
    content_areas: Mapping[str, Sequence[str]] | None = None,
) -> Report:
    """Count the statistics of each team over [start, end]; raise UnknownTeam for a slug with no team.

    Days and months are in zone if given, else in each team's own zone. content_areas (by team slug) lists
    a team's areas in order, so that areas nobody used show as 0.
    """
    if start > end:
        raise ValueError(f"the period starts ({start}) after it ends ({end})")
    teams = []
    for slug in team_slugs:
        team = session.scalar(select(Team).where(Team.slug == slug))
        if team is None:
            raise UnknownTeam(f"unknown team {slug!r}")
        areas = (content_areas or {}).get(slug, ())
        teams.append(_team_report(session, team, start, end, zone or ZoneInfo(team.timezone), areas))
    return Report(start=start, end=end, teams=tuple(teams))


def period_version(
    session: Session, team_slug: str, start: date, end: date, zone: ZoneInfo
) -> tuple[Any, ...]:
    """Return what changes whenever the report of [start, end] may: counts and latest times of its requests.

    A cheap query, so that a front end may keep a rendered report until it changes.
    """
    low = datetime.combine(start, time(0), zone).astimezone(UTC)
    high = datetime.combine(end + timedelta(days=1), time(0), zone).astimezone(UTC)
    team_id = select(Team.id).where(Team.slug == team_slug).scalar_subquery()
    row = session.execute(
        select(
            func.count(Request.id),
            func.max(Request.id),
            func.max(Request.accepted_at),
            func.max(Request.closed_at),
            func.max(Request.exhausted_at),
            func.count(Request.content_area),
            func.sum(case((Request.overtime.is_(True), 1), else_=0)),
        ).where(
            Request.team_id == team_id,
            or_(
                and_(Request.opened_at >= low, Request.opened_at < high),
                and_(Request.closed_at >= low, Request.closed_at < high),
            ),
        )
    ).one()
    answered = session.scalar(
        select(func.count(Page.id))
        .join(Request, Page.request_id == Request.id)
        .where(
            Request.team_id == team_id,
            Request.kind == RequestKind.DEBRIEF,
            Page.answered_at.is_not(None),
            Request.opened_at >= low,
            Request.opened_at < high,
        )
    )
    return (*row, answered)


def _team_report(
    session: Session, team: Team, start: date, end: date, zone: ZoneInfo, areas: Sequence[str]
) -> TeamReport:
    """Count one team's figures, month by month."""
    low = datetime.combine(start, time(0), zone).astimezone(UTC)
    high = datetime.combine(end + timedelta(days=1), time(0), zone).astimezone(UTC)
    opened = list(
        session.scalars(
            select(Request)
            .where(
                Request.team_id == team.id,
                Request.opened_at >= low,
                Request.opened_at < high,
                Request.kind.in_(KINDS),  # not a member's COVER or TEST: nobody asked for support
            )
            .options(selectinload(Request.pages))
        )
    )
    closed = list(
        session.scalars(
            select(Request)
            .where(
                Request.team_id == team.id,
                Request.closed_at >= low,
                Request.closed_at < high,
                Request.accepted_at.is_not(None),
                Request.kind != RequestKind.DEBRIEF,
            )
            .options(selectinload(Request.accepted_by))
        )
    )

    def month_of(moment: datetime | None) -> str:
        assert moment is not None
        return moment.astimezone(zone).strftime("%Y-%m")

    months = _months(start, end)
    per_month = [
        MonthFigures(
            month,
            _figures(
                [r for r in opened if month_of(r.opened_at) == month],
                [r for r in closed if month_of(r.closed_at) == month],
                high,
                areas,
            ),
        )
        for month in months
    ]
    return TeamReport(
        slug=team.slug,
        name=team.name,
        timezone=zone.key,
        months=tuple(per_month),
        total=_figures(opened, closed, high, areas),
    )


def _months(start: date, end: date) -> list[str]:
    """List the months ("YYYY-MM") from start's to end's."""
    months = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _before(moment: datetime | None, cutoff: datetime) -> bool:
    """Tell whether moment is set and earlier than cutoff."""
    return moment is not None and moment < cutoff


def _figures(opened: list[Request], closed: list[Request], cutoff: datetime, areas: Sequence[str]) -> Figures:
    """Count the figures of the requests opened and the contacts closed in one bucket, as of cutoff."""
    single = [r for r in opened if r.kind != RequestKind.DEBRIEF]
    outcomes = Counter(_outcome(r, cutoff) for r in single)
    waits = sorted(
        (r.accepted_at - r.opened_at).total_seconds()
        for r in single
        if r.accepted_at is not None and r.accepted_at < cutoff
    )
    debriefs = [r for r in opened if r.kind == RequestKind.DEBRIEF]
    responders = [p for r in debriefs for p in r.pages if _answered(p, PageState.ACCEPTED, cutoff)]
    return Figures(
        requests=len(opened),
        by_kind=_tally((r.kind for r in opened), KINDS),
        by_channel=_tally((r.channel for r in opened), CHANNELS),
        accepted=outcomes["accepted"],
        declined_by_all=outcomes["declined_by_all"],
        unanswered=outcomes["unanswered"],
        open=outcomes["open"],
        acceptance_median=statistics.median(waits) if waits else None,
        acceptance_p90=_nearest_rank(waits, 90) if waits else None,
        acceptance_histogram=_histogram(waits),
        contacts=len(closed),
        contacts_by_area=_tally((r.content_area or UNSPECIFIED for r in closed), areas, sort=True),
        overtime_by_member=_tally(
            (r.accepted_by.name for r in closed if r.overtime and r.accepted_by), (), sort=True
        ),
        debriefs=len(debriefs),
        debrief_responders=len(responders),
        debrief_distinct_responders=len({p.member_id for p in responders}),
        debrief_unable=sum(_answered(p, PageState.DECLINED, cutoff) for r in debriefs for p in r.pages),
    )


def _outcome(request: Request, cutoff: datetime) -> str:
    """Classify a request by how it stood at cutoff: accepted, declined_by_all, unanswered or open."""
    if _before(request.accepted_at, cutoff):
        return "accepted"
    if _before(request.exhausted_at, cutoff):
        return "declined_by_all" if request.declined_by_all else "unanswered"
    if _before(request.closed_at, cutoff):
        return "unanswered"
    return "open"


def _answered(page: Page, state: PageState, cutoff: datetime) -> bool:
    """Tell whether page ended in state before cutoff (or at an unrecorded time)."""
    return page.state == state and (page.answered_at is None or page.answered_at < cutoff)


def _tally(values: Iterable[str], known: Sequence[str], sort: bool = False) -> Counts:
    """Count values: the known ones first, in order and even when 0, then the others (by count if sort)."""
    counts = Counter(values)
    extra = [v for v in counts if v not in known]
    extra.sort(key=(lambda v: (-counts[v], v)) if sort else (lambda v: v))
    return tuple((v, counts[v]) for v in [*known, *extra])


def _nearest_rank(ordered: Sequence[float], percent: int) -> float:
    """Return the nearest-rank percentile of sorted, non-empty values."""
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1]


def _histogram(waits: Iterable[float]) -> Counts:
    """Count times to acceptance in the ACCEPTANCE_BUCKETS."""
    counts = [0] * len(ACCEPTANCE_BUCKETS)
    for wait in waits:
        counts[sum(wait >= edge for edge in ACCEPTANCE_EDGES)] += 1
    return tuple(zip(ACCEPTANCE_BUCKETS, counts, strict=True))


def _keys(columns: Sequence[Figures], counts: Callable[[Figures], Counts]) -> list[str]:
    """List the categories of counts over all columns, in the order of the last (the total)."""
    keys = [key for key, _ in counts(columns[-1])]
    return keys + sorted({key for f in columns for key, _ in counts(f)} - set(keys))


def summary_rows(team: TeamReport) -> list[tuple[str, list[str]]]:
    """Lay out a team's figures as (label, one value per month then the total) rows, for tables."""
    columns = [m.figures for m in team.months] + [team.total]

    def row(label: str, value: Callable[[Figures], object]) -> tuple[str, list[str]]:
        return label, [str(value(f)) for f in columns]

    def breakdown(counts: Callable[[Figures], Counts], prefix: str = "") -> list[tuple[str, list[str]]]:
        tables = [dict(counts(f)) for f in columns]
        return [(f"  {prefix}{key}", [str(t.get(key, 0)) for t in tables]) for key in _keys(columns, counts)]

    return [
        row("Requests", lambda f: f.requests),
        *breakdown(lambda f: f.by_kind),
        *breakdown(lambda f: f.by_channel, "via "),
        row("Accepted", lambda f: f.accepted),
        row("Declined by all", lambda f: f.declined_by_all),
        row("Unanswered", lambda f: f.unanswered),
        row("Still open", lambda f: f.open),
        row("Time to accept, median", lambda f: durations.clock(f.acceptance_median)),
        row("Time to accept, 90th pct", lambda f: durations.clock(f.acceptance_p90)),
        row("Contacts", lambda f: f.contacts),
        *breakdown(lambda f: f.contacts_by_area),
        row("Off-duty (OT) first contacts", lambda f: sum(n for _, n in f.overtime_by_member)),
        *breakdown(lambda f: f.overtime_by_member),
        row("Debriefs", lambda f: f.debriefs),
        row("  responders", lambda f: f.debrief_responders),
        row("  distinct members", lambda f: f.debrief_distinct_responders),
        row("  unable", lambda f: f.debrief_unable),
    ]


def period_label(report: Report) -> str:
    """Describe the report's period."""
    return f"{report.start.isoformat()} to {report.end.isoformat()}"


def render_text(report: Report) -> str:
    """Render the report as plain-text tables, one per team."""
    lines = [f"Callout statistics, {period_label(report)}", ""]
    for team in report.teams:
        lines.append(f"{team.name} ({team.slug}), months in {team.timezone}")
        header = [m.month for m in team.months] + ["Total"]
        rows = summary_rows(team)
        label_width = max(len(label) for label, _ in rows) + 2
        widths = [max(len(h), *(len(values[i]) for _, values in rows)) for i, h in enumerate(header)]
        lines.append(" " * label_width + "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
        for label, values in rows:
            cells = "  ".join(v.rjust(w) for v, w in zip(values, widths, strict=True))
            lines.append((label.ljust(label_width) + cells).rstrip())
        lines.append("")
    if not report.teams:
        lines.append("No teams.")
    return "\n".join(lines).rstrip() + "\n"


def metric_rows(figures: Figures) -> list[tuple[str, str, int | float | None]]:
    """Flatten figures into (metric, category, value) rows; durations in seconds."""
    rows: list[tuple[str, str, int | float | None]] = [("requests", "", figures.requests)]
    rows += [("requests_by_kind", k, n) for k, n in figures.by_kind]
    rows += [("requests_by_channel", k, n) for k, n in figures.by_channel]
    rows += [
        ("accepted", "", figures.accepted),
        ("declined_by_all", "", figures.declined_by_all),
        ("unanswered", "", figures.unanswered),
        ("open", "", figures.open),
        ("acceptance_median_seconds", "", figures.acceptance_median),
        ("acceptance_p90_seconds", "", figures.acceptance_p90),
    ]
    rows += [("acceptance_time", k, n) for k, n in figures.acceptance_histogram]
    rows += [("contacts", "", figures.contacts)]
    rows += [("contacts_by_area", k, n) for k, n in figures.contacts_by_area]
    rows += [("overtime_first_contacts", k, n) for k, n in figures.overtime_by_member]
    rows += [
        ("debriefs", "", figures.debriefs),
        ("debrief_responders", "", figures.debrief_responders),
        ("debrief_distinct_responders", "", figures.debrief_distinct_responders),
        ("debrief_unable", "", figures.debrief_unable),
    ]
    return rows


def render_csv(report: Report) -> str:
    """Render the report as CSV: one row per team, month (or "total") and metric."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["team", "month", "metric", "category", "value"])
    for team in report.teams:
        for label, figures in [*((m.month, m.figures) for m in team.months), ("total", team.total)]:
            for metric, category, value in metric_rows(figures):
                writer.writerow([team.slug, label, metric, category, "" if value is None else value])
    return out.getvalue()


def _figures_dict(figures: Figures) -> dict[str, Any]:
    """Return figures as JSON-ready data, category counts as objects."""
    return {name: dict(value) if name in _COUNTS_FIELDS else value for name, value in vars(figures).items()}


_COUNTS_FIELDS = frozenset(
    {"by_kind", "by_channel", "acceptance_histogram", "contacts_by_area", "overtime_by_member"}
)


def render_json(report: Report) -> str:
    """Render the report as JSON: the period, then per team its months and total."""
    data = {
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "teams": [
            {
                "slug": team.slug,
                "name": team.name,
                "timezone": team.timezone,
                "months": [{"month": m.month, **_figures_dict(m.figures)} for m in team.months],
                "total": _figures_dict(team.total),
            }
            for team in report.teams
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
