"""App CPU per unit of work, in one process: a new inbound text, a WHO, a timeout firing, by roster size.

The real app (`service.build`, the Flask app, the sender) on a database of its own, driven in-process: signed
webhooks through Flask's test client, the timer's job called by hand with a moved clock, the sender draining
into a transport that only counts. The figures are this process's CPU time (all threads) per unit; on
PostgreSQL the server's own CPU is not in them. The signatures are computed before the clock starts.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

import schedules
from benchmarks.report import CPU_TEXT, CPU_TIMEOUT, SCALE_MEMBERS, SCALE_TEAMS, Row
from benchmarks.stack import Database, member_phone, requester_phone, support_number
from callout.config import parse_config
from callout.crypto import new_key
from callout.db import make_engine, make_sessionmaker, transaction, upgrade
from callout.models import Member, Team
from callout.teams import sync_teams
from callout.transport import Call, Sms

AUTH_TOKEN = "bench-auth-token"
PUBLIC_URL = "https://peer.example.org"
START = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


class CountingTransport:
    """A transport that hands nothing anywhere: it counts, and answers with a fresh sid."""

    def __init__(self) -> None:
        self._sids = itertools.count(1)

    def send_sms(self, sms: Sms) -> str:
        """Count an SMS."""
        return f"SM{next(self._sids):032x}"

    def place_call(self, call: Call) -> str:
        """Count a call."""
        return f"CA{next(self._sids):032x}"

    def delete_records(self, sids: list[str]) -> list[str]:
        """Pretend to delete."""
        return []


class Clock:
    """The run's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class Figures:
    """CPU milliseconds per unit of work at one roster size."""

    teams: int
    members: int
    new_text: float  # webhook of a new requester's text, its pages handed over included
    webhook: float  # the webhook alone
    who: float  # a member's WHO
    timeout: float  # one timeout firing, its page handed over included


def _config(url: str, teams: int) -> Any:
    """Return the run's configuration: teams numbered from 0, escalation that never calls."""
    tables = [
        {
            "slug": f"team{t:03d}",
            "name": f"Team {t}",
            "support_number": support_number(t),
            "timezone": "America/Chicago",
            "escalation": {"ack_timeout": "5m", "peers": 3, "call_after": "0", "fallback_timeout": "10m"},
        }
        for t in range(teams)
    ]
    return parse_config(
        {
            "server": {"public_url": PUBLIC_URL, "database_url": url},
            "twilio": {"account_sid": "AC" + "1" * 32, "auth_token": AUTH_TOKEN, "api_base_url": "http://x"},
            "privacy": {"data_key": new_key()},
            "limits": {"per_number": 1_000_000, "per_team": 1_000_000, "window": "10m"},
            "teams": tables,
        },
        env={},
    )


def _populate(url: str, config: Any, members: int) -> None:
    """Migrate, sync the teams and insert members per team (peers, then psychologist, director, dispatch)."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        with transaction(make_sessionmaker(engine)) as session:
            sync_teams(session, config)
            rows = []
            for team in session.scalars(select(Team).order_by(Team.slug)):
                t = int(team.slug[4:])
                peers = max(1, members - 3)
                roles = ["peer"] * peers + ["psychologist", "director", "dispatch"]
                rows += [
                    {
                        "team_id": team.id,
                        "name": f"Member {t}-{i}",
                        "phone": member_phone(t, i),
                        "role": role,
                        "skills": [],
                        "active": True,
                        "position": i,
                        "opted_out": False,
                    }
                    for i, role in enumerate(roles)
                ]
            session.execute(insert(Member), rows)
    finally:
        engine.dispose()


@contextmanager
def _cpu() -> Iterator[list[float]]:
    """Measure this process's CPU seconds (every thread) spent in the block."""
    out: list[float] = []
    start = time.process_time()
    yield out
    out.append(time.process_time() - start)


def _batches(items: list[Any], size: int = 20) -> Iterator[list[Any]]:
    """Yield items in batches: each batch's figure is taken alone, and the median of them reported."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def measure(folder: Path, server_url: str | None, name: str, teams: int, members: int, n: int) -> Figures:
    """Build the app on a fresh database with teams x members and measure n units of each kind."""
    import service
    from tests.conftest import sign
    from webhooks import create_app

    folder.mkdir(parents=True, exist_ok=True)
    database = Database(server_url, name, folder)
    database.recreate()
    try:
        config = _config(database.url, teams)
        _populate(database.url, config, members)
        clock = Clock()
        rt = service.build(config, transport=CountingTransport(), clock=clock)
        try:
            rt.sender.start()  # as in the service: pages are handed over as their transaction commits
            client = create_app(rt).test_client()
            sids = itertools.count(1)

            def signed(sender: str, to: str, body: str) -> Callable[[], Any]:
                params = {"From": sender, "To": to, "Body": body, "MessageSid": f"SM{next(sids):032d}"}
                headers = {"X-Twilio-Signature": sign(PUBLIC_URL + "/twilio/sms", params, AUTH_TOKEN)}
                return lambda: client.post("/twilio/sms", data=params, headers=headers)

            def run(posts: list[Callable[[], Any]]) -> float:
                with _cpu() as spent:
                    for post in posts:
                        assert post().status_code == 200
                return spent[0]

            def drain() -> float:
                with _cpu() as spent:
                    while rt.sender.drain(wait=True):
                        pass
                    rt.sender.settle()  # and the pages the transactions handed over themselves
                return spent[0]

            # Warm up: the first text of a process pays for imports and caches.
            run([signed(requester_phone(90_000 + t), support_number(t), "warm up") for t in range(teams)])
            drain()
            opened = [signed(requester_phone(i), support_number(i % teams), "hello") for i in range(n)]
            webhooks, sendings = [], []
            for batch in _batches(opened):
                webhooks.append(run(batch) / len(batch))
                sendings.append(drain() / len(batch))
            whos = [signed(member_phone(i % teams, 0), support_number(i % teams), "WHO") for i in range(n)]
            who = statistics.median(run(batch) / len(batch) for batch in _batches(whos))
            drain()
            clock.now += timedelta(minutes=5, seconds=1)
            firings = []
            while True:  # as the timer fires them: ten at a time, each group committed, its pages handed over
                with _cpu() as spent:
                    due = schedules.fire_steps(rt) or 0
                    drain()
                if not due:
                    break
                firings.append(spent[0] / due)
            timeout = statistics.median(firings)
            webhook, sending = statistics.median(webhooks), statistics.median(sendings)
        finally:
            rt.close()
    finally:
        database.drop()
    return Figures(
        teams,
        members,
        new_text=(webhook + sending) * 1000,
        webhook=webhook * 1000,
        who=who * 1000,
        timeout=timeout * 1000,
    )


SIZES = ((1, 5), (1, 50), (1, 500), (10, 50), (100, 50))  # (teams, members per team)


def cpu(folder: Path, options: Any) -> list[Row]:
    """Measure app CPU per unit of work at each roster size; return the targets' rows and the scale table."""
    n = max(10, min(200, options.open_requests // 5))
    figures = {
        (teams, members): measure(
            folder / f"{teams}x{members}", options.postgres, options.database_name + "_cpu", teams, members, n
        )
        for teams, members in SIZES
    }
    at50 = figures[(1, 50)]
    note = (
        f"{n} units of each kind per size, the median of batches (20 texts, 10 timeouts), in one process "
        "(Flask's test client, the timer's job called by hand, a transport that only counts); this "
        "process's CPU only: the database server's is not in it"
    )
    rows = [
        Row(
            CPU_TEXT,
            f"{at50.new_text:.1f} ms at 50 members (the webhook {at50.webhook:.1f} ms, handing its page "
            f"and acknowledgement over {at50.new_text - at50.webhook:.1f} ms)",
            "<= 8 ms",
            met=at50.new_text <= 8,
            notes=(note,),
        ),
        Row(
            CPU_TIMEOUT,
            f"{at50.timeout:.1f} ms at 50 members, its page handed over",
            "<= 5 ms",
            met=at50.timeout <= 5,
        ),
    ]
    by_members = [figures[(1, m)] for m in (5, 50, 500)]
    flat = all(
        getattr(by_members[2], kind) <= 1.5 * getattr(by_members[0], kind)
        for kind in ("new_text", "who", "timeout")
    )
    rows.append(
        Row(
            SCALE_MEMBERS,
            "; ".join(
                f"{kind} {'/'.join(f'{getattr(f, attr):.1f}' for f in by_members)} ms"
                for kind, attr in (("new text", "new_text"), ("WHO", "who"), ("timeout", "timeout"))
            )
            + " (1 team)",
            "500 <= 1.5x of 5",
            met=flat,
        )
    )
    by_teams = [figures[(t, 50)] for t in (1, 10, 100)]
    rows.append(
        Row(
            SCALE_TEAMS,
            "; ".join(
                f"{kind} {'/'.join(f'{getattr(f, attr):.1f}' for f in by_teams)} ms"
                for kind, attr in (("new text", "new_text"), ("WHO", "who"), ("timeout", "timeout"))
            )
            + " (50 members each)",
        )
    )
    return rows
