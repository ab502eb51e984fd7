"""Durations as text, one form per reader: config, text messages, statistics, the console's board, sentences.

Every duration Callout writes is written here, so that one reader never sees two forms of it and a form is
picked by its name. Each form is asserted by tests and seen by people: they differ on purpose.
"""

from __future__ import annotations

from datetime import timedelta


def toml(value: timedelta) -> str:
    """Return value as the config file would write it: "90s", "5m", "2h", "3d" or "250ms"."""
    milliseconds = round(value.total_seconds() * 1000)
    if milliseconds == 0:
        return "0s"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if milliseconds % size == 0:
            return f"{milliseconds // size}{unit}"
    return f"{milliseconds}ms"


def short(delta: timedelta) -> str:
    """Return a duration as a text message says it: "90s", "5 min", "2 h"."""
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def clock(seconds: float | None) -> str:
    """Return a measured time as the statistics write it: "45s", "4m 30s" or "1h 05m"; None as "-"."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def board(delta: timedelta) -> str:
    """Return an age or a time left as the console's board shows it: "45s", "12 min", "3 h 05", "2 d 4 h"."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d}"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def words(delta: timedelta) -> str:
    """Return a span as a sentence says it: "2 minutes", "24 hours", "3 days"."""
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0 and (unit != "day" or seconds > 86_400):
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"
