"""AWAY and BACK: who is off the on-call list, from when and until when.

A member is away from away_since (None: not recorded) until away_until. An AWAY without a length is stored
with away_until in year 9999 (`UNTIL_BACK`): it ends when they text BACK. Read the period through this
module (`is_away`, `away_period`), as paging, `callout oncall` and the calendar feeds do: it says "until
BACK" as no end at all, never as a date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from callout.models import Member

UNTIL_BACK = datetime(9999, 1, 1, tzinfo=UTC)  # away_until of an AWAY without a length
AWAY_ROLES = ("peer", "psychologist", "director")
MIN_AWAY = timedelta(minutes=1)
MAX_AWAY = timedelta(days=365)

_MINUTE, _HOUR, _DAY = 60, 3600, 86400
_UNITS = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), _MINUTE),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), _HOUR),
    **dict.fromkeys(("d", "day", "days"), _DAY),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 7 * _DAY),
}
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+|\S")


class UnreadableLength(ValueError):
    """An AWAY length that cannot be read (or is out of range); the message says what is wrong."""

    def __init__(self, reason: str, bare_number: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.bare_number = bare_number  # "2" in "AWAY 2": a number without its unit


@dataclass(frozen=True)
class AwayPeriod:
    """When a member's AWAY began (None: not recorded) and ends (None: when they text BACK)."""

    start: datetime | None
    end: datetime | None


def parse_length(text: str) -> timedelta:
    """Read an AWAY length: "90m", "6h", "3d", "2w", "2 weeks", "1 day 12h", "a week", "for 2 days".

    Raises UnreadableLength for anything else, a bare number included: "AWAY 2" could be hours, days
    or weeks, and a guess would keep someone on call, or off it, who meant otherwise.
    """
    tokens = _TOKEN.findall(text.strip().lower().rstrip(".!"))
    if tokens[:1] == ["for"]:  # "AWAY for a week" says no more than "AWAY a week"
        tokens = tokens[1:]
    quoted = text.strip() if len(text.strip()) <= 24 else text.strip()[:21] + "..."
    total = 0.0
    number: float | None = None
    shown: str | None = None
    for token in tokens:
        if token in (",", "and") and number is None:
            continue
        value = _number(token)
        if value is not None and number is None:
            number, shown = value, token if token[0].isdigit() else f"{value:g}"  # "two": say "2h"
        elif token in _UNITS and number is not None:
            total += number * _UNITS[token]
            number = None
        else:
            raise UnreadableLength(f'can\'t read "{quoted}" as a length')
    if number is not None:
        raise UnreadableLength(f'"{quoted}" has no unit', bare_number=shown)
    if not tokens:
        raise UnreadableLength("no length given")
    if not MIN_AWAY.total_seconds() <= total <= MAX_AWAY.total_seconds():
        raise UnreadableLength(f'"{quoted}" is out of range')
    return timedelta(seconds=round(total))


def _number(token: str) -> float | None:
    """Return the value of a number token ("2", "1.5", "two"), or None if it is not one."""
    if token in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[token])
    try:
        return float(token) if token[0].isdigit() else None
    except ValueError:
        return None


class Absence(Protocol):
    """What is_away reads of a member: an ORM Member, or an in-memory copy of one."""

    @property
    def away_since(self) -> datetime | None: ...
    @property
    def away_until(self) -> datetime | None: ...


def is_away(member: Absence, at: datetime) -> bool:
    """Tell whether member is away at at (from away_since, until away_until or BACK)."""
    since, until = member.away_since, member.away_until
    return until is not None and at < until and (since is None or since <= at)


def end_of(until: datetime | None) -> datetime | None:
    """Return the end of an AWAY stored as away_until: None for one that lasts until BACK."""
    return None if until is None or until.year >= UNTIL_BACK.year else until


def away_period(member: Member, at: datetime) -> AwayPeriod | None:
    """Return the AWAY member is in at at (its start and end), or None if they are not away then."""
    if not is_away(member, at):
        return None
    return AwayPeriod(member.away_since, end_of(member.away_until))


def go_away(member: Member, now: datetime, length: timedelta | None) -> AwayPeriod:
    """Take member off the on-call list now, for length (None: until BACK); the caller commits.

    An AWAY sent while away changes only the end: the period still began when the first one did.
    """
    if member.away_since is None or not is_away(member, now):
        member.away_since = now
    member.away_until = now + length if length is not None else UNTIL_BACK
    return AwayPeriod(member.away_since, end_of(member.away_until))


def come_back(member: Member, now: datetime) -> bool:
    """Put member back on the on-call list; return whether they were away."""
    was_away = is_away(member, now)
    member.away_since = None
    member.away_until = None
    return was_away
