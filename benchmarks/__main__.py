"""Run the benchmark: `python -m benchmarks [--quick] [--output FILE]` prints the table, writes it to FILE."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from benchmarks import calendar_feed, console, cpu, handover, phases
from benchmarks.phases import Options
from benchmarks.report import (
    CALENDAR,
    CONSOLE,
    CPU_TEXT,
    CPU_TIMEOUT,
    DEBRIEF,
    FIRST_PAGE,
    HANDOVER,
    INBOUND,
    LATENESS,
    MEMORY,
    SCALE_MEMBERS,
    SCALE_TEAMS,
    SMALL_DEBRIEF,
    Row,
    machine,
    table,
)
from benchmarks.stack import Database
from callout.config import ServerConfig

QUICK: dict[str, Any] = {
    "rate": 20,
    "seconds": 3,
    "teams": 4,
    "members": 10,
    "open_requests": 40,
    "ack_timeout": 3,
    "debrief_members": 20,
    "small_debrief_members": 10,
    "clients": 16,
}
Phase = Callable[[Path, Options], list[Row]]
PHASES: dict[str, tuple[Phase, tuple[str, ...]]] = {
    "steady": (phases.steady, (INBOUND, FIRST_PAGE)),
    "debrief": (phases.debrief, (SMALL_DEBRIEF, DEBRIEF)),
    "timeouts": (phases.timeouts, (LATENESS, MEMORY)),
    "handover": (handover.handover, (HANDOVER,)),
    "calendar": (calendar_feed.feed, (CALENDAR,)),
    "console": (console.console, (CONSOLE,)),
    "cpu": (cpu.cpu, (CPU_TEXT, CPU_TIMEOUT, SCALE_MEMBERS, SCALE_TEAMS)),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    d = Options()
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument(
        "--rate", type=float, default=d.rate, help="inbound texts per second (default %(default)s)"
    )
    p.add_argument(
        "--seconds", type=float, default=d.seconds, help="length of the steady load (default %(default)s)"
    )
    p.add_argument(
        "--latency", type=float, default=d.latency, help="fake Twilio's latency, s (default %(default)s)"
    )
    p.add_argument("--workers", type=int, default=d.workers, help="gunicorn workers (default %(default)s)")
    p.add_argument("--threads", type=int, default=d.threads, help="threads per worker (default %(default)s)")
    p.add_argument(
        "--clients", type=int, default=d.clients, help="concurrent load clients (default %(default)s)"
    )
    p.add_argument("--teams", type=int, default=d.teams, help="teams (default %(default)s)")
    p.add_argument("--members", type=int, default=d.members, help="members per team (default %(default)s)")
    p.add_argument(
        "--open", type=int, default=d.open_requests, dest="open_requests", help="requests left open"
    )
    p.add_argument("--ack-timeout", type=float, default=d.ack_timeout, help="seconds, for the timeout run")
    p.add_argument("--debrief-members", type=int, default=d.debrief_members, help="peers a debrief pages")
    p.add_argument(
        "--small-debrief-members",
        type=int,
        default=d.small_debrief_members,
        help="peers the small debrief pages (default %(default)s)",
    )
    p.add_argument("--senders", type=int, help="[server] senders (default: the app's default)")
    p.add_argument("--tick", help='[server] tick, such as "0.5s" (default: the app\'s default)')
    p.add_argument(
        "--scheduler-process",
        action="store_true",
        help="run the scheduler in its own process, not in each worker",
    )
    p.add_argument("--postgres", default=d.postgres, help="PostgreSQL server URL (default %(default)s)")
    p.add_argument(
        "--database-name", default=d.database_name, help="database dropped and created for each run"
    )
    p.add_argument("--sqlite", action="store_true", help="use a SQLite file instead of PostgreSQL")
    p.add_argument("--only", action="append", choices=sorted(PHASES), help="run only this phase (repeatable)")
    p.add_argument("--quick", action="store_true", help="a short smoke run of every measurement")
    p.add_argument(
        "--output", type=Path, default=Path("benchmark-results.txt"), help="also write the table here"
    )
    p.add_argument("--keep", action="store_true", help="keep the work folder (configs, logs)")
    return p.parse_args(argv)


def options_from(args: argparse.Namespace) -> Options:
    """Return the run's options; --quick scales the defaults down, explicit flags still win."""
    fields = {name: getattr(args, name) for name in Options.__dataclass_fields__ if hasattr(args, name)}
    options = Options(**fields)
    if args.quick:
        defaults = Options()
        options = replace(
            options, **{k: v for k, v in QUICK.items() if getattr(options, k) == getattr(defaults, k)}
        )
    if args.sqlite:  # SQLite serves one process: the timeouts at 300 open across 30 teams (issue 12)
        defaults = Options()
        scaled: dict[str, Any] = (
            {"workers": 1, "open_requests": 300, "teams": 30} if not args.quick else {"workers": 1}
        )
        options = replace(
            options,
            postgres=None,
            **{k: v for k, v in scaled.items() if getattr(options, k) == getattr(defaults, k)},
        )
    return options


def header(options: Options, database: str) -> list[str]:
    """Return the lines above the table: when, where, and how the app was run."""
    senders = options.senders or ServerConfig.senders
    tick = options.tick or f"{ServerConfig.tick.total_seconds():g}s"
    where = "in its own process" if options.scheduler_process else "in every worker (one leads the timer)"
    return [
        f"Callout benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {machine()}",
        f"app: gunicorn {version('gunicorn')}, {options.workers} gthread workers x {options.threads} "
        f"threads, [server] senders = {senders}, timer at each deadline (looks again every {tick}), "
        f"scheduler {where}; {database}",
        f"fake Twilio latency {options.latency * 1000:.0f} ms per REST call; "
        f"load average before the run {' '.join(_loadavg())}",
    ]


def _loadavg() -> list[str]:
    """Return the 1, 5 and 15 minute load averages (others' work on a shared machine shows here)."""
    try:
        return Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        return ["?"]


def main(argv: list[str] | None = None) -> int:
    """Run the chosen phases, print the table, write it to --output; return 1 if a measurement failed."""
    args = parse_args(argv)
    options = options_from(args)
    work = Path(tempfile.mkdtemp(prefix="callout-bench-"))
    database = Database(options.postgres, options.database_name, work).version()
    lines = header(options, database)
    rows: list[Row] = []
    try:
        for name, (phase, labels) in PHASES.items():
            if args.only and name not in args.only:
                continue
            print(f"running {name} ...", file=sys.stderr, flush=True)
            try:
                rows += phase(work / name, options)
            except Exception as exc:
                traceback.print_exc()
                rows += [
                    Row(label, f"not measured: {type(exc).__name__}: {exc}"[:200], failed=True)
                    for label in labels
                ]
    finally:
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    output = table(lines, rows)
    print(output, end="")
    args.output.write_text(output)
    return 1 if any(row.failed for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
