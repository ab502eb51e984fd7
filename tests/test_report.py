"""The anonymous statistics: figures, month split, formats, confidentiality and the `report` command."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from callout import durations
from callout.config import load_config
from callout.db import make_engine, make_sessionmaker, transaction, upgrade
from callout.models import Member, Page, Request, Team
from callout.report import (
    Figures,
    Report,
    build_report,
    render_csv,
    render_json,
    render_text,
)
from callout.report_html import render_html
from callout.teams import UnknownTeam, sync_teams
from cli import cli
from tests.conftest import make_member

REQUESTER = "+14325559876"  # a requester's number: it must never show in a report
FEB, MAR = "2026-02", "2026-03"
_codes = iter(f"Q{n:03d}" for n in range(1000))


def at(text: str) -> datetime:
    """Return an aware UTC datetime from "YYYY-MM-DD HH:MM" (UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def make_request(
    session: Session,
    team: Team,
    opened: str,
    kind: str = "support",
    channel: str = "sms",
    *,
    accepted_after: int | None = None,
    by: Member | None = None,
    exhausted_after: int | None = None,
    closed_after: int | None = None,
    area: str | None = None,
    overtime: bool = False,
    pages: tuple[tuple[Member, str], ...] = (),
) -> Request:
    """Add a request opened at `opened` (UTC) with the given outcome; offsets in seconds after opening."""
    opened_at = at(opened)

    def later(seconds: int | None) -> datetime | None:
        return None if seconds is None else opened_at + timedelta(seconds=seconds)

    status = "open"
    if exhausted_after is not None:
        status = "exhausted"
    if accepted_after is not None:
        status = "accepted"
    if closed_after is not None:
        status = "closed"
    code = next(_codes)
    request = Request(
        team=team,
        code=code,
        kind=kind,
        channel=channel,
        status=status,
        contact_enc=f"enc:{REQUESTER}",
        contact_key=f"kkkk{code}".ljust(64, "k"),  # unique: one open request per sender
        note_enc="enc:my partner left, cannot sleep",
        opened_at=opened_at,
        accepted_at=later(accepted_after),
        accepted_by_id=by.id if by else None,
        exhausted_at=later(exhausted_after),
        declined_by_all=exhausted_after is not None
        and bool(pages)
        and all(s == "declined" for _, s in pages),
        closed_at=later(closed_after),
        closed_reason="done" if closed_after is not None else None,
        content_area=area,
        overtime=overtime,
    )
    session.add(request)
    session.flush()
    for step, (member, state) in enumerate(pages):
        answered = None if state in ("pending", "timeout") else opened_at + timedelta(seconds=30)
        tier = "debrief" if kind == "debrief" else "peer"
        session.add(
            Page(
                request=request,
                member_id=member.id,
                step=0 if kind == "debrief" else step,
                tier=tier,
                paged_at=opened_at,
                state=state,
                answered_at=answered,
            )
        )
    session.flush()
    return request


@pytest.fixture
def data(session: Session, team: Team) -> list[Request]:
    """Add February and March 2026 of the odessa team (America/Chicago), plus requests just outside."""
    dana = make_member(session, team, "Ofc. Dana Rivera")
    lee = make_member(session, team, "Sgt. Lee Okafor")
    psych = make_member(session, team, "Dr. Sam Ito", role="psychologist")
    rows = [
        # Opened 2026-01-31 local, outside the period; its contact closes 2026-02-01 local (February).
        make_request(session, team, "2026-02-01 05:00", accepted_after=60, by=lee, closed_after=3600,
                     area="work"),
        # February.
        make_request(session, team, "2026-02-10 15:00", accepted_after=60, by=dana, closed_after=3600,
                     area="family", overtime=True, pages=((dana, "accepted"),)),
        make_request(session, team, "2026-02-20 15:00", "support", "voice", accepted_after=180, by=lee,
                     closed_after=7200, overtime=True, pages=((dana, "timeout"), (lee, "accepted"))),
        make_request(session, team, "2026-02-21 15:00", "debrief", "api", pages=((dana, "accepted"),)),
        # 2026-03-01 05:30 UTC is still 2026-02-28 in Odessa: February.
        make_request(session, team, "2026-03-01 05:30", "dispatch", "api", exhausted_after=900,
                     pages=((dana, "declined"), (lee, "declined"))),
        # March (06:30 UTC is 00:30 local).
        make_request(session, team, "2026-03-01 06:30", exhausted_after=900,
                     pages=((dana, "timeout"), (lee, "declined"))),
        make_request(session, team, "2026-03-05 15:00", accepted_after=600, by=dana, closed_after=3600,
                     area="family", overtime=True, pages=((dana, "accepted"),)),
        make_request(session, team, "2026-03-10 15:00", "support", "voice", accepted_after=1500, by=lee,
                     exhausted_after=900, pages=((dana, "timeout"), (lee, "timeout"))),
        make_request(session, team, "2026-03-12 15:00", "debrief", "api",
                     pages=((dana, "accepted"), (lee, "accepted"), (psych, "declined"))),
        make_request(session, team, "2026-03-20 15:00", pages=((dana, "pending"),)),
        # Opened 2026-03-31 22:00 local, accepted after the period's end: still open at its end.
        make_request(session, team, "2026-04-01 03:00", accepted_after=10800, by=dana),
        # Outside the period: April.
        make_request(session, team, "2026-04-02 15:00", accepted_after=30, by=dana, closed_after=60,
                     area="grief"),
    ]  # fmt: skip
    session.commit()
    return rows


@pytest.fixture
def report(session: Session, data: list[Request]) -> Report:
    """Build the report of February and March 2026."""
    return build_report(session, ["odessa"], date(2026, 2, 1), date(2026, 3, 31))


def months(report: Report) -> dict[str, Figures]:
    """Return the odessa team's figures by month, and "total"."""
    team = report.teams[0]
    return {**{m.month: m.figures for m in team.months}, "total": team.total}


def test_it_counts_requests_by_kind_and_channel_per_month_in_the_team_zone(report: Report) -> None:
    by = months(report)
    assert list(by) == [FEB, MAR, "total"]
    assert (by[FEB].requests, by[MAR].requests, by["total"].requests) == (4, 6, 10)
    assert dict(by[FEB].by_kind) == {"support": 2, "dispatch": 1, "debrief": 1}
    assert dict(by[MAR].by_kind) == {"support": 5, "dispatch": 0, "debrief": 1}
    assert dict(by["total"].by_kind) == {"support": 7, "dispatch": 1, "debrief": 2}
    assert dict(by[FEB].by_channel) == {"sms": 1, "voice": 1, "api": 2}
    assert dict(by["total"].by_channel) == {"sms": 5, "voice": 2, "api": 3}


def test_it_classifies_outcomes_as_they_stood_at_the_end_of_the_period(report: Report) -> None:
    by = months(report)
    outcome = [(f.accepted, f.declined_by_all, f.unanswered, f.open) for f in by.values()]
    assert outcome == [(2, 1, 0, 0), (2, 0, 1, 2), (4, 1, 1, 2)]


def test_it_counts_a_late_acceptance_as_accepted_only_once_it_happened(session: Session, data: Any) -> None:
    april = build_report(session, ["odessa"], date(2026, 3, 1), date(2026, 4, 1)).teams[0].total
    march = build_report(session, ["odessa"], date(2026, 3, 1), date(2026, 3, 31)).teams[0].total
    assert (march.accepted, march.open) == (2, 2)
    assert (april.accepted, april.open) == (3, 1)


def test_it_gives_the_median_and_nearest_rank_90th_percentile_of_time_to_acceptance(report: Report) -> None:
    by = months(report)
    assert (by[FEB].acceptance_median, by[FEB].acceptance_p90) == (120, 180)
    assert (by[MAR].acceptance_median, by[MAR].acceptance_p90) == (1050, 1500)
    assert (by["total"].acceptance_median, by["total"].acceptance_p90) == (390, 1500)
    assert dict(by["total"].acceptance_histogram) == {
        "0-1m": 0, "1-2m": 1, "2-5m": 1, "5-10m": 0, "10-15m": 1, "15-30m": 1, "30-60m": 0, "60m+": 0,
    }  # fmt: skip


def test_it_leaves_time_to_acceptance_empty_when_nothing_was_accepted(session: Session, team: Team) -> None:
    make_request(session, team, "2026-02-10 15:00")
    total = build_report(session, ["odessa"], date(2026, 2, 1), date(2026, 2, 28)).teams[0].total
    assert (total.acceptance_median, total.acceptance_p90, total.open) == (None, None, 1)


def test_it_counts_contacts_by_content_area_in_the_month_they_closed(report: Report) -> None:
    by = months(report)
    assert dict(by[FEB].contacts_by_area) == {"family": 1, "unspecified": 1, "work": 1}
    assert dict(by[MAR].contacts_by_area) == {"family": 1}
    assert (by[FEB].contacts, by[MAR].contacts, by["total"].contacts) == (3, 1, 4)
    assert by["total"].contacts_by_area == (("family", 2), ("unspecified", 1), ("work", 1))


def test_it_lists_every_configured_content_area_in_order(session: Session, data: Any) -> None:
    areas = {"odessa": ("work", "family", "grief")}
    built = build_report(session, ["odessa"], date(2026, 2, 1), date(2026, 3, 31), content_areas=areas)
    assert built.teams[0].total.contacts_by_area == (
        ("work", 1),
        ("family", 2),
        ("grief", 0),
        ("unspecified", 1),
    )


def test_it_counts_off_duty_first_contacts_by_the_accepting_member(report: Report) -> None:
    by = months(report)
    assert dict(by[FEB].overtime_by_member) == {"Ofc. Dana Rivera": 1, "Sgt. Lee Okafor": 1}
    assert dict(by[MAR].overtime_by_member) == {"Ofc. Dana Rivera": 1}
    assert by["total"].overtime_by_member == (("Ofc. Dana Rivera", 2), ("Sgt. Lee Okafor", 1))


def test_it_counts_debriefs_and_their_responders(report: Report) -> None:
    debriefs = [
        (f.debriefs, f.debrief_responders, f.debrief_distinct_responders, f.debrief_unable)
        for f in months(report).values()
    ]
    assert debriefs == [(1, 1, 1, 0), (1, 2, 2, 1), (2, 3, 2, 1)]


def test_it_keeps_other_teams_out(session: Session, data: Any) -> None:
    other = Team(
        slug="midland", name="Midland", support_number="+14325550199", timezone="UTC", handoff="07:00"
    )
    session.add(other)
    session.flush()
    make_request(session, other, "2026-02-10 15:00")
    assert (
        build_report(session, ["odessa"], date(2026, 2, 1), date(2026, 3, 31)).teams[0].total.requests == 10
    )
    both = build_report(session, ["odessa", "midland"], date(2026, 2, 1), date(2026, 3, 31))
    assert [(t.slug, t.timezone, t.total.requests) for t in both.teams] == [
        ("odessa", "America/Chicago", 10),
        ("midland", "UTC", 1),
    ]


def test_it_refuses_an_unknown_team_or_a_backwards_period(session: Session, team: Team) -> None:
    with pytest.raises(UnknownTeam):
        build_report(session, ["nowhere"], date(2026, 2, 1), date(2026, 3, 31))
    with pytest.raises(ValueError):
        build_report(session, ["odessa"], date(2026, 3, 1), date(2026, 2, 1))


def test_it_formats_durations_for_people() -> None:
    assert [durations.clock(s) for s in (None, 45, 270, 3900)] == ["-", "45s", "4m 30s", "1h 05m"]


def test_it_renders_text_tables_with_months_and_total(report: Report) -> None:
    text = render_text(report)
    assert "Callout statistics, 2026-02-01 to 2026-03-31" in text
    assert "Odessa PD Peer Support (odessa), months in America/Chicago" in text
    lines = text.splitlines()
    assert lines[3].split() == [FEB, MAR, "Total"]
    assert "Requests 4 6 10" in [" ".join(line.split()) for line in lines]
    assert "Time to accept, median 2m 00s 17m 30s 6m 30s" in [" ".join(line.split()) for line in lines]
    assert "  Ofc. Dana Rivera" in text
    assert "Time to accept, 90th pct" in text


def test_it_renders_csv_with_one_row_per_team_month_and_metric(report: Report) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert set(rows[0]) == {"team", "month", "metric", "category", "value"}
    value = {(r["month"], r["metric"], r["category"]): r["value"] for r in rows}
    assert len(value) == len(rows)
    assert {r["month"] for r in rows} == {FEB, MAR, "total"}
    assert value[(FEB, "requests", "")] == "4"
    assert value[("total", "requests_by_kind", "debrief")] == "2"
    assert value[(MAR, "requests_by_channel", "sms")] == "4"
    assert value[("total", "declined_by_all", "")] == "1"
    assert value[("total", "acceptance_median_seconds", "")] == "390.0"
    assert value[("total", "acceptance_p90_seconds", "")] == "1500.0"
    assert value[("total", "contacts_by_area", "unspecified")] == "1"
    assert value[("total", "overtime_first_contacts", "Ofc. Dana Rivera")] == "2"
    assert value[("total", "debrief_distinct_responders", "")] == "2"


def test_it_renders_json_with_months_and_total(report: Report) -> None:
    data = json.loads(render_json(report))
    assert (data["start"], data["end"]) == ("2026-02-01", "2026-03-31")
    [team] = data["teams"]
    assert [m["month"] for m in team["months"]] == [FEB, MAR]
    assert team["months"][0]["by_kind"] == {"support": 2, "dispatch": 1, "debrief": 1}
    assert team["total"]["overtime_by_member"] == {"Ofc. Dana Rivera": 2, "Sgt. Lee Okafor": 1}
    assert team["total"]["acceptance_p90"] == 1500
    assert team["total"]["unanswered"] == 1


class Page_(HTMLParser):
    """Collect an HTML page's tags, attributes and text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record a start tag and its attributes."""
        self.tags.append(tag)
        self.attributes += attrs

    def handle_data(self, data: str) -> None:
        """Record text."""
        self.text.append(data)


def parse(html: str) -> Page_:
    """Parse an HTML page."""
    page = Page_()
    page.feed(html)
    page.close()
    return page


def test_it_renders_one_self_contained_printable_html_page(report: Report) -> None:
    html = render_html(report)
    page = parse(html)
    assert html.startswith("<!DOCTYPE html>")
    assert page.tags.count("table") == 1
    assert page.tags.count("svg") >= 3
    assert "title" in page.tags and "style" in page.tags
    assert "script" not in page.tags
    assert "http://" not in html and "https://" not in html
    assert not [value for name, value in page.attributes if name == "src"]
    text = " ".join(page.text)
    assert "Odessa PD Peer Support" in text
    assert "2026-02-01 to 2026-03-31" in text
    assert "Ofc. Dana Rivera" in text


def test_it_renders_the_same_html_every_time(report: Report) -> None:
    assert render_html(report) == render_html(report)


def test_it_gives_every_chart_element_an_id_unique_in_the_page(report: Report) -> None:
    ids = [value for name, value in parse(render_html(report)).attributes if name == "id"]
    assert ids and len(ids) == len(set(ids))


def test_it_escapes_names_in_html(session: Session, team: Team, data: Any) -> None:
    team.name = "Odessa <b>PD</b> & Co"
    session.flush()
    html = render_html(build_report(session, ["odessa"], date(2026, 2, 1), date(2026, 3, 31)))
    assert "<b>PD</b>" not in html
    assert "Odessa &lt;b&gt;PD&lt;/b&gt; &amp; Co" in html


def test_it_draws_charts_for_an_empty_period(session: Session, team: Team) -> None:
    built = build_report(session, ["odessa"], date(2025, 12, 1), date(2026, 1, 31))
    assert built.teams[0].total.requests == 0
    assert parse(render_html(built)).tags.count("svg") == 3
    assert "Requests" in render_text(built)


def test_it_never_shows_a_requester_or_a_request_in_any_format(report: Report, data: list[Request]) -> None:
    secrets = [REQUESTER, "4325559876", "cannot sleep", "kkkk"]
    secrets += [r.code for r in data]
    secrets += [r.opened_at.date().isoformat() for r in data]  # no request's day either
    secrets += [r.opened_at.isoformat() for r in data]
    for render in (render_text, render_csv, render_json, render_html):
        output = render(report)
        shown = [secret for secret in secrets if secret in output and secret not in ("2026-02-01",)]
        assert shown == [], render.__name__


def test_it_keeps_member_phone_numbers_out(session: Session, team: Team, report: Report) -> None:
    phones = [member.phone for member in team.members]
    assert phones
    for render in (render_text, render_csv, render_json, render_html):
        output = render(report)
        assert not [phone for phone in phones if phone in output or phone[2:] in output]


# --- the command line -------------------------------------------------------------------------------------


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """Write a config with one team and a SQLite database that holds one month of requests."""
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[server]
database_url = "sqlite:///{tmp_path / "report.db"}"

[[teams]]
slug = "odessa"
name = "Odessa PD Peer Support"
support_number = "+14325550100"
timezone = "America/Chicago"
""",
        encoding="utf-8",
    )
    config = load_config(path, env={})
    engine = make_engine(config.server.database_url)
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as session:
        team = sync_teams(session, config)["odessa"]
        dana = make_member(session, team, "Ofc. Dana Rivera")
        make_request(session, team, "2026-02-10 15:00", accepted_after=90, by=dana, closed_after=600,
                     area="grief", overtime=True, pages=((dana, "accepted"),))  # fmt: skip
        make_request(session, team, "2026-02-11 15:00", exhausted_after=900, pages=((dana, "declined"),))
    engine.dispose()
    return path


def run(config_file: Path, *args: str) -> Any:
    """Run `callout --config FILE report ARGS`."""
    return CliRunner().invoke(cli, ["--config", str(config_file), "report", *args])


def test_it_prints_the_report_of_every_team_as_text_by_default(config_file: Path) -> None:
    result = run(config_file, "--from", "2026-02-01", "--to", "2026-02-28")
    assert result.exit_code == 0, result.output
    assert "Odessa PD Peer Support (odessa)" in result.stdout
    assert "Declined by all" in result.stdout


def test_it_prints_json_for_one_team(config_file: Path) -> None:
    result = run(
        config_file, "--team", "odessa", "--from", "2026-02-01", "--to", "2026-02-28", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    total = json.loads(result.stdout)["teams"][0]["total"]
    assert (total["requests"], total["accepted"], total["declined_by_all"]) == (2, 1, 1)
    assert total["contacts_by_area"]["grief"] == 1
    assert total["contacts_by_area"]["work"] == 0  # the configured areas, even unused
    assert total["overtime_by_member"] == {"Ofc. Dana Rivera": 1}


def test_it_writes_csv_and_html_to_a_file(config_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.csv"
    result = run(
        config_file, "--from", "2026-02-01", "--to", "2026-02-28", "--format", "csv", "--output", str(out)
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert {"team": "odessa", "month": "total", "metric": "requests", "category": "", "value": "2"} in rows
    page = tmp_path / "report.html"
    result = run(
        config_file, "--from", "2026-02-01", "--to", "2026-02-28", "--format", "html", "--output", str(page)
    )
    assert result.exit_code == 0, result.output
    assert parse(page.read_text(encoding="utf-8")).tags.count("svg") == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "2026-02-30", "--to", "2026-03-31"), "--from '2026-02-30' is not a date"),
        (("--from", "2026-02-01", "--to", "March"), "--to 'March' is not a date"),
        (("--from", "2026-03-01", "--to", "2026-02-01"), "--from 2026-03-01 is after --to 2026-02-01"),
        (("--team", "midland", "--from", "2026-02-01", "--to", "2026-02-28"), "unknown team 'midland'"),
    ],
)
def test_it_refuses_bad_arguments_with_one_line(
    config_file: Path, args: tuple[str, ...], message: str
) -> None:
    result = run(config_file, *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
