"""The benchmark's table: one row per measurement, with its target, under a header naming the machine."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# The rows every run prints, in order (the smoke test checks each label is there).
INBOUND = "inbound webhook latency"
FIRST_PAGE = "webhook to first page"
SMALL_DEBRIEF = "small debrief: every page sent"
DEBRIEF = "debrief: every page sent"
LATENESS = "timeout lateness"
MEMORY = "peak memory per process"
CALENDAR = "calendar feed, 50 members"
CONSOLE = "console page render"
HANDOVER = "timer hand-over"
CPU_TEXT = "app CPU per new text"
CPU_TIMEOUT = "app CPU per timeout firing"
SCALE_MEMBERS = "scale: members 5/50/500"
SCALE_TEAMS = "scale: teams 1/10/100"
LABELS = (
    INBOUND,
    FIRST_PAGE,
    SMALL_DEBRIEF,
    DEBRIEF,
    LATENESS,
    MEMORY,
    HANDOVER,
    CALENDAR,
    CONSOLE,
    CPU_TEXT,
    CPU_TIMEOUT,
    SCALE_MEMBERS,
    SCALE_TEAMS,
)


@dataclass(frozen=True)
class Row:
    """One measurement: its figures, its target, and whether the figures meet it (None: no target)."""

    label: str
    result: str
    target: str = "-"
    met: bool | None = None
    failed: bool = False  # the measurement itself could not be made
    notes: tuple[str, ...] = ()  # what explains the figures, printed under the table


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0-100) of values by the nearest-rank method; nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    """Format seconds as milliseconds."""
    return f"{seconds * 1000:.1f} ms"


def machine() -> str:
    """Describe the machine: CPUs and their model, memory, OS, Python."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "? GiB"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    except OSError:
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cpus} CPUs ({model}), {memory} RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def table(header: Sequence[str], rows: Sequence[Row]) -> str:
    """Render the header lines and the rows as a plain-text table."""
    titles = ("measurement", "result", "target", "met")
    cells = [(r.label, r.result, r.target, _verdict(r)) for r in rows]
    widths = [max(len(t), *(len(c[i]) for c in cells)) for i, t in enumerate(titles)]
    line = "  ".join("-" * w for w in widths)
    out = [*header, "", "  ".join(t.ljust(w) for t, w in zip(titles, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip() for cell in cells]
    notes = [f"- {r.label}: {note}" for r in rows for note in r.notes]
    if notes:
        out += ["", "notes:", *notes]
    return "\n".join(out) + "\n"


def _verdict(row: Row) -> str:
    """Return the met column: yes, NO, FAILED or - (no target)."""
    if row.failed:
        return "FAILED"
    if row.met is None:
        return "-"
    return "yes" if row.met else "NO"
