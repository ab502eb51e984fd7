"""The calendar feed at 50 members: GET /calendar/<token>.ics through the app, rendered, cached and 304."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

from sqlalchemy import select

from benchmarks.report import CALENDAR, Row, ms, percentile
from benchmarks.stack import Database
from callout import calendar, rotation
from callout.config import parse_config
from callout.crypto import new_key
from callout.models import Member, Team
from callout.transport import Transport

MEMBERS = 50
TARGET = 0.020  # issue 13: cheap, < 20 ms at 50 members
NOW = datetime(2026, 3, 10, 15, tzinfo=UTC)


class _Silent(Transport):
    """A transport that sends nothing (the feed sends nothing anyway)."""

    def send_sms(self, sms: Any) -> str:
        return "SM0"

    def place_call(self, call: Any) -> str:
        return "CA0"

    def delete_records(self, sids: list[str]) -> list[str]:
        return []


def feed(folder: Path, options: Any) -> list[Row]:
    """Measure the team's feed (90 days, one event a shift) and a member's own, on a 50-member team."""
    import service
    from webhooks import create_app

    folder.mkdir(parents=True, exist_ok=True)
    database = Database(options.postgres, options.database_name + "_calendar", folder)
    database.recreate()
    config = parse_config(
        {
            "server": {"database_url": database.url, "public_url": "https://peer.example.org"},
            "privacy": {"data_key": new_key()},
            "teams": [{"slug": "odessa", "name": "Odessa", "support_number": "+14325550100"}],
        },
        env={},
    )
    rt = service.build(config, transport=_Silent())
    try:
        rt.clock = lambda: NOW
        tokens = rt.run(_roster)
        client = create_app(rt).test_client()
        rows = [_measure(client, tokens[0], "team feed"), _measure(client, tokens[1], "a member's feed")]
    finally:
        rt.close()
        database.drop()
    team_row, member_row = rows
    worst = max(team_row[1], member_row[1])
    notes = (
        f"{MEMBERS} members, 6 overrides, 2 away; 90 days ahead ({team_row[3]} and {member_row[3]} bytes). "
        "A phone's usual poll carries If-None-Match and gets a 304; a changed feed is rendered once "
        "(the cold figure) and then served from memory by its fingerprint.",
    )
    result = "; ".join(
        f"{label}: {cold} cold, {warm} p50, 304 {unchanged} p50"
        for label, warm, _, _, cold, unchanged in (
            (team_row[0], ms(team_row[1]), team_row[2], team_row[3], ms(team_row[4]), ms(team_row[5])),
            (
                member_row[0],
                ms(member_row[1]),
                member_row[2],
                member_row[3],
                ms(member_row[4]),
                ms(member_row[5]),
            ),
        )
    )
    return [Row(CALENDAR, result, "< 20 ms", worst < TARGET, notes=notes)]


def _roster(session: Any, env: Any, now: datetime) -> tuple[str, str]:
    """Add 50 peers, a few overrides and AWAYs; return the team's and one member's token."""
    team = session.scalar(select(Team).where(Team.slug == "odessa"))
    members = []
    for i in range(MEMBERS):
        member = Member(team=team, name=f"Peer {i:02d}", phone=f"+1432555{1000 + i}", role="peer", position=i)
        session.add(member)
        members.append(member)
    session.flush()
    rotation.ensure_anchor(session, team, now)
    for week in range(6):
        start = now + timedelta(days=3 + 7 * week)
        rotation.add_override(session, team, members[week * 3], start, start + timedelta(hours=12), now)
    for member in members[:2]:
        member.away_since, member.away_until = now, now + timedelta(days=10)
    return calendar.token_for(session, env, team, None, now), calendar.token_for(
        session, env, team, members[1], now
    )


def _measure(client: Any, token: str, label: str) -> tuple[str, float, float, int, float, float]:
    """Return (label, p50 warm, p90 warm, bytes, cold, p50 of 304) of GETs of one feed."""
    url = f"/calendar/{token}.ics"
    started = time.perf_counter()
    first = client.get(url)
    cold = time.perf_counter() - started
    assert first.status_code == 200, first.status_code
    warm, unchanged = [], []
    for _ in range(30):
        started = time.perf_counter()
        assert client.get(url).status_code == 200
        warm.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
        unchanged.append(time.perf_counter() - started)
    return label, median(warm), percentile(warm, 90), len(first.get_data()), cold, median(unchanged)
