"""The timer's hand-over: two `callout scheduler` processes, the leader killed (SIGKILL) again and again.

Measured from the kill to the moment the other process says it leads (it logs the line at once); each
killed process is started again as a follower before the next kill.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.report import HANDOVER, Row
from benchmarks.stack import Database, Setup, Stack
from tests.e2e import Server, free_port

LEADS = "timer: this process leads"
KILLS = 3


def handover(folder: Path, options: Any) -> list[Row]:
    """Kill the timer's leader KILLS times; return the row of the hand-over times."""
    database = Database(options.postgres, options.database_name + "_handover", folder)
    stack = Stack(
        folder,
        database,
        Setup(1, 5, {"ack_timeout": "5m"}, tick=options.tick),
        latency=options.latency,
        workers=1,
        threads=1,
    )
    folder.mkdir(parents=True, exist_ok=True)
    database.recreate()
    stack.fake.start()
    servers: list[Server] = []
    try:
        stack._write_config()
        stack._prepare_database()
        for _ in range(2):
            servers.append(_scheduler(folder, stack.config, len(servers)))
        times = []
        for _ in range(KILLS):
            leader = _wait_for_leader(servers, exclude=None)
            marks = {id(s): s.log.read_text().count(LEADS) for s in servers}
            killed_at = time.monotonic()
            leader.kill()
            servers.remove(leader)
            while not any(s.log.read_text().count(LEADS) > marks[id(s)] for s in servers):
                if time.monotonic() - killed_at > 30:
                    raise RuntimeError("no process took the lead within 30 s")
                time.sleep(0.005)
            times.append(time.monotonic() - killed_at)
            servers.append(_scheduler(folder, stack.config, len(servers) + len(times)))
    finally:
        for server in servers:
            server.stop()
        stack.fake.stop()
        database.drop()
    where = "an advisory lock" if options.postgres else "a file lock"
    return [
        Row(
            HANDOVER,
            f"median {sorted(times)[len(times) // 2]:.2f} s, max {max(times):.2f} s "
            f"({KILLS} kills of the leader, {where})",
            "< 2 s",
            met=max(times) < 2,
            notes=("from SIGKILL of the leading process to the other one's first look as leader",),
        )
    ]


def _scheduler(folder: Path, config: Path, n: int) -> Server:
    """Start a `callout scheduler` process and return it."""
    server = Server(config, free_port(), folder / f"scheduler-{n}.log", "scheduler")
    server.start()
    return server


def _wait_for_leader(servers: list[Server], exclude: Server | None) -> Server:
    """Return the process that leads the timer now (the one whose log says so last)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        leading = [s for s in servers if s is not exclude and LEADS in s.log.read_text()]
        if leading:
            return leading[0]
        time.sleep(0.05)
    raise RuntimeError("no process leads the timer")
