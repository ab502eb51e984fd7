"""The calendar: a month of shifts per team in its zone, with overrides, covers, AWAY and gaps."""

from __future__ import annotations

import calendar as months
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from callout import assign, auditlog, notices, rotation, shifts
from callout.env import Env
from callout.models import Team
from console.forms import ActionForm, OverrideForm
from console.web import TeamView, bp, page, require, run, team_or_404, team_view, who

WHY = {
    shifts.Why.ROTATION: "rotation",
    shifts.Why.OVERRIDE: "override",
    shifts.Why.COVER: "cover",
    shifts.Why.STAND_IN: "stand-in",
    shifts.Why.GAP: "gap",
}


@dataclass(frozen=True)
class Part:
    """A stretch of a shift as a day shows it."""

    start: str  # local "07:00"
    end: str
    primary: str | None
    why: str
    instead_of: str | None


@dataclass(frozen=True)
class Day:
    """One day of the month grid: the shift that starts on it."""

    day: date
    in_month: bool
    today: bool
    primary: str | None
    why: str
    parts: tuple[Part, ...]
    away: tuple[str, ...]
    hours: float  # the shift's real length: 23 or 25 on DST change days
    gap: bool
    past: bool


@dataclass(frozen=True)
class OverrideRow:
    """An override (or taken COVER) in the month."""

    id: int
    member: str
    start: datetime
    end: datetime
    cover: bool
    over: bool


@dataclass(frozen=True)
class Month:
    """The month the calendar shows."""

    team: TeamView
    year: int
    month: int
    weeks: tuple[tuple[Day, ...], ...]
    overrides: tuple[OverrideRow, ...]
    peers: tuple[tuple[int, str], ...]
    handoff: str
    today: date


def _month_asked(text: str | None, today: date) -> tuple[int, int]:
    """Return the (year, month) of "YYYY-MM", or this month for none; 400 for anything else."""
    if not text:
        return today.year, today.month
    try:
        year, month = (int(part) for part in text.split("-"))
        date(year, month, 1)
    except ValueError:
        abort(400, "Give the month as YYYY-MM, for example 2026-03.")
    if not 1970 <= year <= 9000:
        abort(400, "Choose a month between 1970 and 9000.")
    return year, month


def _part(stretch: shifts.Stretch) -> Part:
    return Part(
        stretch.start.strftime("%H:%M"),
        stretch.end.strftime("%H:%M"),
        stretch.primary.name if stretch.primary else None,
        WHY[stretch.why],
        stretch.instead_of.name if stretch.instead_of else None,
    )


def month_view(session: Session, now: datetime, team: Team, year: int, month: int) -> Month:
    """Lay the team's shifts of a month out as weeks (Monday first), from the shifts domain function."""
    zone = ZoneInfo(team.timezone)
    today = rotation.shift_of(team, now)
    grid = months.Calendar(firstweekday=0).monthdatescalendar(year, month)
    first, last = grid[0][0], grid[-1][-1]
    start = datetime.combine(first, time(12), zone).astimezone(UTC)  # inside the first day's shift
    end = rotation.shift_start(team, last + timedelta(days=1))
    by_day = {shift.day: shift for shift in shifts.team_shifts(session, team, start, end, now)}
    weeks = []
    for week in grid:
        days = []
        for day in week:
            shift = by_day.get(day)
            if shift is None:  # cannot happen: every day starts a shift
                continue
            parts = tuple(_part(s) for s in shift.stretches)
            days.append(
                Day(
                    day=day,
                    in_month=day.month == month,
                    today=day == today,
                    primary=parts[0].primary,
                    why=parts[0].why,
                    parts=parts,
                    away=tuple(sorted({a.member.name for a in shift.away})),
                    hours=shift.length.total_seconds() / 3600,
                    gap=bool(shift.gaps),
                    past=shift.end.astimezone(UTC) <= now,
                )
            )
        weeks.append(tuple(days))
    month_start = rotation.shift_start(team, date(year, month, 1))
    next_month = date(year + month // 12, month % 12 + 1, 1)
    month_end = rotation.shift_start(team, next_month)
    rows = tuple(
        OverrideRow(o.id, o.member.name, o.starts_at, o.ends_at, o.cover_id is not None, o.ends_at <= now)
        for o in rotation.list_overrides(session, team)
        if o.starts_at < month_end and o.ends_at > month_start
    )
    peers = tuple((p.id, p.name) for p in rotation.rotation_peers(session, team))
    return Month(team_view(team), year, month, tuple(weeks), rows, peers, team.handoff, today)


def _actor() -> auditlog.Actor:
    return auditlog.Actor(who().username, "console")


@bp.get("/<slug>/calendar")
def calendar(slug: str) -> Any:
    """Show a month of the team's shifts: who is primary each day, overrides, covers, AWAY, gaps."""
    me = who()

    def work(session: Session, env: Env, now: datetime) -> Month:
        team = team_or_404(session, slug)
        require(me.sees_support)  # dispatch sees who is on call on its own page
        today = rotation.local_time(team, now).date()
        year, month = _month_asked(request.args.get("month"), today)
        return month_view(session, now, team, year, month)

    shown = run(work)
    prev = date(shown.year, shown.month, 1) - timedelta(days=1)
    nxt = date(shown.year + shown.month // 12, shown.month % 12 + 1, 1)
    form = OverrideForm()
    first = request.args.get("day") or ""
    form.first.data = form.last.data = first
    return page(
        "calendar.html",
        team=shown.team,
        cal=shown,
        title=f"{months.month_name[shown.month]} {shown.year}",
        prev=f"{prev.year:04d}-{prev.month:02d}",
        next=f"{nxt.year:04d}-{nxt.month:02d}",
        form=form,
        action=ActionForm(),
        error=None,
        section="calendar",
    )


@bp.post("/<slug>/calendar/overrides")
def calendar_assign(slug: str) -> Any:
    """Make a peer primary for a day or a range of days (an override)."""
    me = who()
    form = OverrideForm()

    def work(session: Session, env: Env, now: datetime) -> tuple[str, str | None]:
        team = team_or_404(session, slug)
        require(me.can_change)
        try:
            first, last = date.fromisoformat(form.first.data or ""), date.fromisoformat(form.last.data or "")
        except ValueError:
            return "Give the first and last days as YYYY-MM-DD.", None
        month = f"{first.year:04d}-{first.month:02d}"
        if not form.validate() or not (form.member.data or "").isdigit():
            return "Choose a peer, and the first and last days.", month
        try:
            with notices.told_of_changes(
                session, env, team, now
            ):  # whoever it makes primary now, or displaces
                override = assign.assign_days(
                    session, now, _actor(), team, int(form.member.data), first, last
                )
        except rotation.OverrideError as exc:
            return f"Cannot assign that: {exc}.", month
        flash(f"Assigned: {assign.describe(team, override)}.", "ok")
        return "", month

    error, month = run(work)
    if error:
        flash(error, "error")
    return redirect(url_for("console.calendar", slug=slug, month=month), 303)


@bp.post("/<slug>/calendar/overrides/<id:override_id>/remove")
def calendar_remove(slug: str, override_id: int) -> BaseResponse:
    """Remove an override: the rotation applies again for those days."""
    me = who()

    def work(session: Session, env: Env, now: datetime) -> str:
        team = team_or_404(session, slug)
        require(me.can_change)
        try:
            with notices.told_of_changes(session, env, team, now):
                override = assign.remove(session, now, _actor(), team, override_id)
        except rotation.OverrideError:
            abort(404)
        flash(f"Removed: {assign.describe(team, override)}. The rotation applies again.", "ok")
        start = rotation.local_time(team, override.starts_at)
        return f"{start.year:04d}-{start.month:02d}"

    month = run(work)
    return redirect(url_for("console.calendar", slug=slug, month=month), 303)
