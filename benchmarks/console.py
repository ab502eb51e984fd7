"""The console's pages, rendered in-process at 50 members and 1,000 past requests: the target is < 100 ms.

The app is the real one (`service.build` then `webhooks.create_app`) on a database of its own, with a
director logged in through the login form; each page is requested through Flask's test client (the whole
request: session, queries, template), a few times after one warm-up, and the median is reported.
"""

from __future__ import annotations

import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.phases import Options
from benchmarks.report import CONSOLE, Row
from benchmarks.stack import Database
from callout.models import Channel, PageState, RequestKind, RequestStatus

MEMBERS = 50
PAST = 1000
OPEN = 12
AUDITED = 500  # audit entries (the page shows the newest 100)
RUNS = 7
TARGET = 0.100
PASSWORD = "benchmark password"


def console(folder: Path, options: Options) -> list[Row]:
    """Measure each console page's render time; return the console row."""
    folder.mkdir(parents=True, exist_ok=True)
    database = Database(options.postgres, f"{options.database_name}_console", folder)
    database.recreate()
    try:
        return [_measure(database.url)]
    finally:
        database.drop()


def _config(url: str) -> Any:
    from callout.config import parse_config
    from callout.crypto import new_key

    team = {
        "slug": "odessa",
        "name": "Odessa PD Peer Support",
        "support_number": "+14325550100",
        "timezone": "America/Chicago",
    }
    return parse_config(
        {
            "server": {"public_url": "http://127.0.0.1", "database_url": url, "scheduler": False},
            "privacy": {"data_key": new_key()},
            "teams": [team],
        },
        env={},
    )


def _fill(rt: Any) -> None:
    """Add 50 members, 1,000 past requests (closed, accepted, exhausted, debriefs) and a few open ones."""
    from sqlalchemy import select

    from callout import auditlog, escalation, users
    from callout.models import Member, Page, Request, Team

    now = rt.clock()
    with rt.sessions() as session, session.begin():
        team = session.scalar(select(Team))
        members = []
        for n in range(MEMBERS):
            role = (
                "peer"
                if n < MEMBERS - 4
                else ("psychologist", "director", "dispatch", "dispatch")[n - MEMBERS + 4]
            )
            skills = ["post-shooting"] if n % 7 == 0 else []
            members.append(
                Member(
                    team=team,
                    name=f"Member {n:02d}",
                    phone=f"+1432555{1000 + n:04d}",
                    role=role,
                    position=n,
                    skills=skills,
                )
            )
        session.add_all(members)
        session.flush()
        areas = ("work", "family", "grief", "health", "other")
        for n in range(PAST):
            opened = now - timedelta(hours=7 * n + 5)
            kind = "debrief" if n % 50 == 0 else ("dispatch" if n % 9 == 0 else "support")
            accepted = n % 6 != 0
            request = Request(
                team=team,
                code=f"P{n:03d}"[-4:],
                kind=kind,
                channel=("sms", "voice", "api")[n % 3],
                status=RequestStatus.CLOSED if accepted else "exhausted",
                opened_at=opened,
                step=2,
                accepted_at=opened + timedelta(seconds=40 + n % 600) if accepted else None,
                accepted_by=members[n % 40] if accepted else None,
                exhausted_at=None if accepted else opened + timedelta(minutes=30),
                closed_at=opened + timedelta(hours=2) if accepted else None,
                content_area=areas[n % 5] if accepted else None,
                overtime=n % 4 == 0,
                purged_at=opened + timedelta(days=1),
            )
            session.add(request)
            if kind == RequestKind.DEBRIEF:
                session.flush()
                for m in members[:30]:
                    session.add(
                        Page(
                            request=request,
                            member=m,
                            step=1,
                            tier="debrief",
                            paged_at=opened,
                            state=PageState.ACCEPTED if m.id % 3 else "declined",
                            answered_at=opened,
                        )
                    )
        users.add(session, now, "director", "director", team, PASSWORD)
        for n in range(AUDITED):
            actor = auditlog.Actor("director", "console" if n % 2 else "cli")
            summary = f"edited Member {n % MEMBERS:02d}: skills post-shooting"
            auditlog.record(session, now - timedelta(hours=n), actor, "roster.edit", summary, team)
    env = rt.env
    with rt.sessions() as session, session.begin():
        team = session.scalar(select(Team))
        for n in range(OPEN):
            kind = (RequestKind.SUPPORT, RequestKind.SUPPORT, RequestKind.DISPATCH)[n % 3]
            escalation.open_request(
                session,
                env,
                now,
                team,
                kind=kind,
                channel=Channel.SMS,
                contact=f"+1432556{1000 + n:04d}",
                note="note" if kind == RequestKind.DISPATCH else None,
            )


def _login(client: Any) -> None:
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    response = client.post(
        "/console/login", data={"username": "director", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert response.status_code == 302, response.status_code


def _measure(url: str) -> Row:
    import service
    from webhooks import create_app

    rt = service.build(_config(url))
    try:
        _fill(rt)
        app = create_app(rt)
        client = app.test_client()
        _login(client)
        with rt.sessions() as session:
            from sqlalchemy import select

            from callout.models import Member, Request

            code = session.scalar(
                select(Request.code).where(
                    Request.kind == RequestKind.DISPATCH, Request.status == RequestStatus.OPEN
                )
            )
            member_id = session.scalar(select(Member.id).order_by(Member.position).limit(1))
        today = datetime.now(UTC).date()
        year_ago = f"{today.year - 1}-{today.month:02d}-01"
        pages = {
            "board": "/console/odessa/",
            "board live": "/console/odessa/board/live",
            "dispatch": "/console/odessa/dispatch",
            "page status": f"/console/odessa/dispatch/{code}",
            "calendar": "/console/odessa/calendar",
            "roster": "/console/odessa/roster",
            "member": f"/console/odessa/roster/members/{member_id}",
            "statistics (year)": f"/console/odessa/stats?start={year_ago}&end={today}",
            "report CSV": f"/console/odessa/stats/report.csv?start={year_ago}&end={today}",
            "audit": "/console/odessa/audit",
            "users": "/console/users",
            "account": "/console/account",
        }
        medians: dict[str, float] = {}
        first: dict[str, float] = {}
        for name, path in pages.items():
            started = time.perf_counter()
            assert client.get(path).status_code == 200, path  # warm-up (templates, first matplotlib use)
            first[name] = time.perf_counter() - started
            times = []
            for _ in range(RUNS):
                started = time.perf_counter()
                response = client.get(path)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, path
            medians[name] = statistics.median(times)
    finally:
        rt.close()
    slowest = max(medians, key=lambda name: medians[name])
    figures = ", ".join(f"{name} {seconds * 1000:.0f}" for name, seconds in medians.items())
    return Row(
        CONSOLE,
        f"slowest {slowest} {medians[slowest] * 1000:.0f} ms (median of {RUNS}; ms: {figures})",
        "each < 100 ms",
        met=all(seconds < TARGET for seconds in medians.values()),
        notes=(
            f"console pages: {MEMBERS} members, {PAST} past requests, {OPEN} open, {AUDITED} audit entries;"
            " a director logged in;"
            " in-process through Flask's test client, one warm-up each",
            "console pages: the first view of a period's statistics builds the report and draws its charts"
            f" ({first['statistics (year)'] * 1000:.0f} ms here, matplotlib loading included);"
            " it is then kept until a request of the period changes",
        ),
    )
