"""The benchmark's stack: a database, the fake Twilio server and gunicorn, each a process of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import make_url, text

from callout.config import load_config
from callout.crypto import new_key
from callout.db import make_engine, make_sessionmaker, transaction, upgrade
from callout.roster import import_configured_rosters
from callout.teams import sync_teams
from tests.e2e import Server, free_port, write_config
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_URL = "https://peer.example.org"
DEBRIEF_NOTE = "all hands at station 2"


def member_phone(team: int, index: int) -> str:
    """Return the phone of member index of team number team (valid US numbers, never real ones)."""
    return f"+1432{200 + team:03d}{index:04d}"


def support_number(team: int) -> str:
    """Return the support number of team number team."""
    return f"+1806{200 + team:03d}0100"


def requester_phone(index: int) -> str:
    """Return the phone of the index-th requester (an employee or a family member)."""
    return f"+1915{200 + index // 10_000:03d}{index % 10_000:04d}"


@dataclass(frozen=True)
class Roster:
    """One team's members by role, in rotation order."""

    peers: list[str]
    dispatch: list[str]
    others: list[tuple[str, str]] = field(default_factory=list)  # (phone, role)


def make_roster(team: int, size: int, peers: int | None = None) -> Roster:
    """Return a roster of size members: one dispatcher, one psychologist, one director, the rest peers."""
    count = peers if peers is not None else max(1, size - 3)
    phones = [member_phone(team, i) for i in range(count + 3)]
    return Roster(
        peers=phones[:count],
        dispatch=[phones[count]],
        others=[(phones[count + 1], "psychologist"), (phones[count + 2], "director")],
    )


def write_roster(path: Path, roster: Roster) -> None:
    """Write a roster file in Callout's TOML format."""
    members = [(p, "peer") for p in roster.peers] + [(p, "dispatch") for p in roster.dispatch]
    members += roster.others
    lines: list[str] = []
    for i, (phone, role) in enumerate(members):
        lines += ["[[members]]", f'name = "Member {i:03d}"', f'phone = "{phone}"', f'role = "{role}"', ""]
    path.write_text("\n".join(lines))


class Database:
    """A database made for one benchmark phase: a fresh PostgreSQL database, or a SQLite file."""

    def __init__(self, server_url: str | None, name: str, folder: Path) -> None:
        self.server_url = server_url
        self.name = name
        self.folder = folder

    @property
    def url(self) -> str:
        """Return the SQLAlchemy URL of the phase's database."""
        if self.server_url is None:
            return f"sqlite:///{self.folder / (self.name + '.db')}"
        return make_url(self.server_url).set(database=self.name).render_as_string(hide_password=False)

    def recreate(self) -> None:
        """Drop and create the database (PostgreSQL), or delete the file (SQLite)."""
        if self.server_url is None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.folder / self.name}.db{suffix}").unlink(missing_ok=True)
            return
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)', f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        """Drop the database (PostgreSQL); SQLite files go with the work folder."""
        if self.server_url is not None:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def version(self) -> str:
        """Return the database's name and version, for the table's header."""
        if self.server_url is None:
            import sqlite3

            return f"SQLite {sqlite3.sqlite_version}"
        engine = make_engine(self.server_url)
        try:
            with engine.connect() as connection:
                return f"PostgreSQL {connection.scalar(text('SHOW server_version'))}"
        finally:
            engine.dispose()

    def _admin(self, *statements: str) -> None:
        """Run statements outside a transaction on the PostgreSQL server (CREATE/DROP DATABASE)."""
        engine = make_engine(self.server_url or "", isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                for statement in statements:
                    connection.execute(text(statement))
        finally:
            engine.dispose()


@dataclass
class Setup:
    """What one phase runs: its teams, their escalation settings, and the server's settings."""

    teams: int
    members: int
    escalation: dict[str, Any]
    peers: int | None = None  # peers per team (default: members - 3)
    tick: str | None = None
    senders: int | None = None
    scheduler_process: bool = False  # run the scheduler in a process of its own, not in every worker


class FakeProcess:
    """The fake Twilio server (`python -m tests.fake_twilio`) in its own process."""

    def __init__(self, latency: float, log: Path) -> None:
        self.latency = latency
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen[str] | None = None

    @property
    def base_url(self) -> str:
        """Return the URL the app's api_base_url points at."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process and wait until it serves."""
        command = [sys.executable, "-m", "tests.fake_twilio", "--port", str(self.port)]
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [*command, "--latency", str(self.latency)],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        _wait_until(self._serving, 20, self.process, self.log, "the fake Twilio server")

    def _serving(self) -> bool:
        """Tell whether the fake answers yet."""
        try:
            return requests.get(self.base_url + "/_fake/records", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def messages(self) -> list[dict[str, Any]]:
        """Return every message the fake received (form fields, sid, arrived_at, received_at)."""
        response = requests.get(self.base_url + "/_fake/records", timeout=60)
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    def stop(self) -> None:
        """Stop the process."""
        _terminate(self.process)


class Gunicorn:
    """The real app, `webhooks:create_app()`, served by gunicorn's threaded workers."""

    def __init__(self, config: Path, workers: int, threads: int, log: Path) -> None:
        self.config = config
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the address gunicorn listens on."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> None:
        """Start gunicorn and wait until every worker has loaded the app (its sender threads run)."""
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            f"--workers={self.workers}",
            "--worker-class=gthread",
            f"--threads={self.threads}",
            f"--bind=127.0.0.1:{self.port}",
            "--log-level=warning",
            "webhooks:create_app()",
        ]
        env = {**os.environ, "CALLOUT_CONFIG": str(self.config), "PYTHONUNBUFFERED": "1"}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _wait_until(self._ready, timeout, self.process, self.log, "gunicorn")

    def _ready(self) -> bool:
        """Tell whether every worker has loaded the app and /healthz answers."""
        workers = self.worker_pids()
        # A worker that has loaded the app runs the sender's thread besides its main one.
        if len(workers) < self.workers or any(_status(pid, "Threads") < 2 for pid in workers):
            return False
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def worker_pids(self) -> list[int]:
        """Return the pids of gunicorn's worker processes."""
        return _children(self.process.pid) if self.process is not None else []

    def stop(self) -> None:
        """Stop gunicorn and its workers."""
        _terminate(self.process)


class Stack:
    """One phase's database, fake Twilio and gunicorn, with the config and rosters they share."""

    def __init__(
        self,
        folder: Path,
        database: Database,
        setup: Setup,
        *,
        latency: float,
        workers: int,
        threads: int,
        extra_teams: list[tuple[str, Roster]] | None = None,
    ) -> None:
        self.folder = folder
        self.database = database
        self.setup = setup
        self.fake = FakeProcess(latency, folder / "fake-twilio.log")
        self.config = folder / "config.toml"
        self.rosters: dict[str, Roster] = {}
        self.numbers: dict[str, str] = {}  # team slug -> support number
        self.extra_teams = extra_teams or []
        self.gunicorn = Gunicorn(self.config, workers, threads, folder / "gunicorn.log")
        self.scheduler: Server | None = None

    def start(self) -> None:
        """Create the database, write config and rosters, import them, then start the fake and gunicorn."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.database.recreate()
        self.fake.start()
        self._write_config()
        self._prepare_database()
        self.gunicorn.start()
        if self.setup.scheduler_process:
            self.scheduler = Server(
                self.folder / "scheduler.toml", free_port(), self.folder / "scheduler.log"
            )
            self.scheduler.start()
        self._wait_for_first_scans()

    def _wait_for_first_scans(self, timeout: float = 90) -> None:
        """Wait until the periodic scans have worked every team out once, as on a line that has been running.

        On a new database the first heads-up scan and coverage check work out every team (1.8 s of CPU at 100
        teams, 15 s after the start) and anchor each rotation; the figures measure a line in its steady state.
        """
        teams = self.setup.teams + len(self.extra_teams)
        engine = make_engine(self.database.url)
        deadline = time.monotonic() + timeout
        noted: Sequence[Any] = []
        try:
            while time.monotonic() < deadline:
                with engine.connect() as connection:
                    noted = connection.execute(
                        text("SELECT scan, count(*) FROM scan_notes GROUP BY scan")
                    ).all()
                if len(noted) >= 2 and all(count >= teams for _, count in noted):
                    return
                time.sleep(0.5)
        finally:
            engine.dispose()
        raise RuntimeError(f"the first scans did not note every team within {timeout:g} s: {noted}")

    def app_pids(self) -> list[int]:
        """Return the pids of the processes running the app: gunicorn's workers and any scheduler process."""
        extra = self.scheduler.process if self.scheduler is not None else None
        return self.gunicorn.worker_pids() + ([extra.pid] if extra is not None else [])

    def memory(self) -> dict[int, tuple[int, int]]:
        """Return each app process's (peak RSS, current RSS) in KiB, from /proc/PID/status."""
        return {pid: (_status(pid, "VmHWM"), _status(pid, "VmRSS")) for pid in self.app_pids()}

    def _write_config(self) -> None:
        """Write config.toml and one roster file per team."""
        server: dict[str, Any] = {"public_url": PUBLIC_URL, "database_url": self.database.url}
        if self.setup.tick:
            server["tick"] = self.setup.tick
        if self.setup.senders:
            server["senders"] = self.setup.senders
        teams = [
            (f"team{t:03d}", t, make_roster(t, self.setup.members, self.setup.peers))
            for t in range(self.setup.teams)
        ]
        teams += [(slug, self.setup.teams + i, roster) for i, (slug, roster) in enumerate(self.extra_teams)]
        tables = []
        for slug, number, roster in teams:
            write_roster(self.folder / f"roster-{slug}.toml", roster)
            self.rosters[slug] = roster
            self.numbers[slug] = support_number(number)
            tables.append(
                {
                    "slug": slug,
                    "name": f"Team {number}",
                    "support_number": support_number(number),
                    "timezone": "America/Chicago",
                    "roster": f"roster-{slug}.toml",
                    "escalation": self.setup.escalation,
                }
            )
        sections = {
            "server": server,
            "twilio": {
                "account_sid": ACCOUNT_SID,
                "auth_token": AUTH_TOKEN,
                "api_base_url": self.fake.base_url,
            },
            "privacy": {"data_key": new_key()},
            # The load comes from few numbers per team by design: lift the flood limits out of the way.
            "limits": {"per_number": 1_000_000, "per_team": 1_000_000, "window": "10m"},
        }
        separate = self.setup.scheduler_process
        write_config(self.config, {**sections, "server": {**server, "scheduler": not separate}}, tables)
        if separate:
            write_config(
                self.folder / "scheduler.toml", {**sections, "server": {**server, "scheduler": True}}, tables
            )

    def _prepare_database(self) -> None:
        """Migrate and import the rosters once, as `callout db upgrade` would before a deployment starts.

        Every gunicorn worker also does this on start; on an empty database they would race each other.
        """
        config = load_config(self.config, env={})
        engine = make_engine(config.server.database_url)
        try:
            upgrade(engine)
            with transaction(make_sessionmaker(engine)) as session:
                sync_teams(session, config)
                import_configured_rosters(session, config, datetime.now(UTC))
        finally:
            engine.dispose()

    def stop(self) -> None:
        """Stop the app's processes and the fake; drop the database."""
        if self.scheduler is not None:
            self.scheduler.stop()
        self.gunicorn.stop()
        self.fake.stop()
        self.database.drop()


class CpuMeter:
    """Measure the CPU time each part of the stack uses over a span of the benchmark."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self._start: dict[str, dict[int, float]] = {}
        self._started_at = 0.0

    def _groups(self) -> dict[str, list[int]]:
        """Return the pids of each part of the stack."""
        fake = self.stack.fake.process
        groups = {
            "app processes": self.stack.app_pids(),
            "fake Twilio": [fake.pid] if fake is not None else [],
            "load generator": [os.getpid()],
        }
        if self.stack.database.server_url is not None:
            groups["PostgreSQL"] = postgres_pids()
        return groups

    def _snapshot(self) -> dict[str, dict[int, float]]:
        """Return the CPU seconds used so far by each process of each part."""
        # PostgreSQL's server reaps its backends: counting children keeps the CPU of closed connections.
        return {
            name: {pid: cpu_seconds(pid, children=name == "PostgreSQL") for pid in pids}
            for name, pids in self._groups().items()
        }

    def start(self) -> None:
        """Start the span."""
        self._start = self._snapshot()
        self._started_at = time.monotonic()

    def stop(self) -> tuple[float, dict[str, float]]:
        """End the span; return its length and the CPU seconds each part used (new processes: all theirs)."""
        now = self._snapshot()
        used = {
            name: sum(cpu - self._start.get(name, {}).get(pid, 0.0) for pid, cpu in pids.items())
            for name, pids in now.items()
        }
        return time.monotonic() - self._started_at, used


def _wait_until(
    ready: Callable[[], bool], timeout: float, process: subprocess.Popen[Any], log: Path, what: str
) -> None:
    """Wait until ready() is true; raise with the log's end if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text(errors='replace')[-3000:]}")
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start in {timeout:.0f}s: {log.read_text(errors='replace')[-3000:]}")


def _terminate(process: subprocess.Popen[Any] | None) -> None:
    """Stop a process politely, then by force."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def _children(pid: int) -> list[int]:
    """Return the pids whose parent is pid (from /proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (in parentheses) may hold spaces: the parent pid is the 2nd field after it.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return sorted(children)


def cpu_seconds(pid: int, children: bool = False) -> float:
    """Return a process's CPU time (user + system) so far, with its exited children's; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """Return the pids of PostgreSQL's processes on this machine (server and backends)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "postgres":
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _status(pid: int, key: str) -> int:
    """Return a number from /proc/PID/status (memory figures are in KiB), or 0 once the process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(rf"^{key}:\s+(\d+)", status, re.MULTILINE)
    return int(match.group(1)) if match else 0
