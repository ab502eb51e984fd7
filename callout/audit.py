"""The privacy check: look through the database and the logs for what Callout promises never to keep.

Two promises are checked, as an outsider would: no phone number in clear anywhere but the roster (members)
and the teams' own support numbers, and no contact details left on a request past its erasure time. Every
table of the database is read, not only those this version knows, and every value that holds text; what
reads as a phone number is what phonenumbers' matcher finds (at its VALID leniency: a run of digits inside
a word, such as in ciphertext or a hex digest, is not a number). Findings are reported masked, never in clear.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import phonenumbers
from sqlalchemy import ColumnElement, MetaData, func, or_, select
from sqlalchemy.orm import Session

from callout import durations
from callout.models import (
    Member,
    Outbox,
    Page,
    ProviderRecord,
    Request,
    RequestKind,
    RequestStatus,
    Team,
    VoiceHunt,
)
from callout.phones import mask

ROSTER_TABLES = frozenset({"members"})  # where members' numbers belong
PURGE_GRACE = timedelta(minutes=2)  # the purge runs every 15 s: a request due a moment ago is not a finding
CALL_GRACE = timedelta(hours=1, minutes=2)  # a caller's number is forgotten an hour into a call Twilio left


@dataclass(frozen=True)
class Number:
    """A phone number found in clear: where, and the number masked."""

    where: str
    masked: str
    on_roster: bool


@dataclass(frozen=True)
class Unpurged:
    """A request past its erasure time that still holds contact details: its code, when, and what."""

    code: str
    kind: str
    due: datetime | None
    holds: tuple[str, ...]


@dataclass
class DatabaseScan:
    """What the check read in the database, and what it found."""

    tables: int = 0
    values: int = 0
    numbers: list[Number] = field(default_factory=list)
    unpurged: list[Unpurged] = field(default_factory=list)
    purged: int = 0
    waiting: int = 0  # requests still open, or ended but not yet at their erasure time


@dataclass
class LogScan:
    """What the check read in one log file, and the numbers it found there."""

    path: Path
    lines: int = 0
    numbers: list[Number] = field(default_factory=list)


def numbers_in(text: str, region: str = "US") -> Iterator[str]:
    """Yield every phone number phonenumbers finds in text, as E.164."""
    for found in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        yield phonenumbers.format_number(found.number, phonenumbers.PhoneNumberFormat.E164)


def _as_text(value: object) -> str | None:
    """Return what a stored value says as text (JSON as JSON, bytes decoded), or None if it holds none."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return None


def _known(session: Session) -> tuple[set[str], set[str]]:
    """Return the numbers that belong where they are: the teams' support numbers and the roster's."""
    support = set(session.scalars(select(Team.support_number)))
    roster = set(session.scalars(select(Member.phone)))
    return support, roster


def scan_database(session: Session, now: datetime) -> DatabaseScan:
    """Read every table but the roster for numbers in clear, and every request for overdue erasure."""
    scan = DatabaseScan()
    support, roster = _known(session)
    tables = MetaData()
    tables.reflect(bind=session.connection())
    for table in sorted(tables.tables.values(), key=lambda t: t.name):
        if table.name in ROSTER_TABLES:
            continue
        scan.tables += 1
        keys = list(table.primary_key.columns)
        for row in session.execute(select(table)).mappings():
            for column, value in row.items():
                text = _as_text(value)
                if text is None:
                    continue
                scan.values += 1
                for number in numbers_in(text):
                    if number in support:
                        continue  # printed on every poster: public, not a finding
                    key = ", ".join(f"{k.name} {row[k.name]}" for k in keys) or "a row"
                    scan.numbers.append(
                        Number(f"{table.name}.{column} ({key})", mask(number), number in roster)
                    )
    scan.unpurged = list(_unpurged(session, now))
    scan.purged = _count(session, Request.purged_at.is_not(None))
    scan.waiting = _count(session, Request.purged_at.is_(None)) - sum(
        1 for u in scan.unpurged if not u.code.startswith("call ")
    )
    return scan


def _count(session: Session, where: ColumnElement[bool]) -> int:
    """Return how many requests match where."""
    return int(session.scalar(select(func.count()).select_from(Request).where(where)) or 0)


def _unpurged(session: Session, now: datetime) -> Iterator[Unpurged]:
    """Yield each request past its erasure time (or ended without one) still holding contact details."""
    overdue = now - PURGE_GRACE
    holding = or_(
        Request.contact_enc.is_not(None), Request.contact_key.is_not(None), Request.note_enc.is_not(None)
    )
    ended_without_time = (
        Request.status.in_((RequestStatus.CLOSED, RequestStatus.EXHAUSTED))
        & Request.purge_at.is_(None)
        & holding
    )
    past_time = Request.purge_at <= overdue
    for request in session.scalars(
        select(Request).where(or_(ended_without_time, past_time)).order_by(Request.id)
    ):
        holds = _holdings(session, request)
        if holds:
            yield Unpurged(request.code, request.kind, request.purge_at, tuple(holds))
    for hunt in session.scalars(
        select(VoiceHunt).where(VoiceHunt.caller_enc.is_not(None), VoiceHunt.created_at < now - CALL_GRACE)
    ):
        yield Unpurged(f"call {hunt.id}", "voice", hunt.created_at + CALL_GRACE, ("the caller's number",))


def _holdings(session: Session, request: Request) -> list[str]:
    """Return what a request that should be erased still holds, in words."""
    holds = []
    if request.contact_enc is not None:
        holds.append("the contact number (encrypted)")
    if request.contact_key is not None:
        holds.append("the keyed hash that finds the contact")
    if request.note_enc is not None:
        holds.append("the dispatcher's note (encrypted)")
    messages = session.scalars(select(Outbox.id).where(Outbox.request_id == request.id)).all()
    if messages:
        holds.append(f"{len(messages)} message(s) about it")
    if (
        request.kind != RequestKind.DEBRIEF
        and session.scalars(select(Page.id).where(Page.request_id == request.id)).first()
    ):
        holds.append("who was paged for it")
    if session.scalars(select(ProviderRecord.id).where(ProviderRecord.request_id == request.id)).first():
        holds.append("Twilio's ids of its messages (encrypted)")
    if session.scalars(select(VoiceHunt.id).where(VoiceHunt.request_id == request.id)).first():
        holds.append("its call's record")
    return holds


def _lines(path: Path) -> Iterator[str]:
    """Yield the lines of a log file (gzip too), undecodable bytes replaced."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as lines:
        yield from lines


def scan_log(path: Path, support: Iterable[str], roster: Iterable[str]) -> LogScan:
    """Read one log file for phone numbers in clear (the teams' support numbers excepted)."""
    scan = LogScan(path)
    public, members = set(support), set(roster)
    for number_of_line, line in enumerate(_lines(path), 1):
        scan.lines = number_of_line
        for number in numbers_in(line):
            if number not in public:
                scan.numbers.append(Number(f"line {number_of_line}", mask(number), number in members))
    return scan


def known_numbers(session: Session) -> tuple[set[str], set[str]]:
    """Return (the teams' support numbers, the roster's numbers), to tell findings apart in the logs."""
    return _known(session)


def findings(database: DatabaseScan, logs: Sequence[LogScan]) -> int:
    """Return how many things the check found."""
    return len(database.numbers) + len(database.unpurged) + sum(len(log.numbers) for log in logs)


def verdict(
    database: DatabaseScan, logs: Sequence[LogScan], *, where: str, now: datetime, purge_after: timedelta
) -> list[str]:
    """Return the check's report, line by line: what was checked, what was found, and the verdict."""
    lines = [f"Callout privacy check, {now:%Y-%m-%d %H:%M} UTC", "", "What was checked:"]
    lines.append(
        f"- The database ({where}): every table but the roster, {database.tables} tables, "
        f"{database.values:,} stored values that hold text, each read in full for anything that reads as a "
        "phone number. The roster (members) is left out: members' numbers are meant to be there; the "
        "teams' own support numbers are public and not counted."
    )
    lines.append(
        "- Every request's erasure: its contact details must be gone within"
        f" {durations.words(PURGE_GRACE)} of its erasure time ({durations.words(purge_after)} after it"
        " ended)."
    )
    lines += [f"- The log file {log.path}: {log.lines:,} line{'s' * (log.lines != 1)}." for log in logs]
    lines += ["", "What was found:"]
    lines += _listed("Phone numbers in clear in the database", database.numbers)
    if database.unpurged:
        lines.append(
            f"- Requests past their erasure time still holding contact details: {len(database.unpurged)}"
        )
        for late in database.unpurged:
            due = (
                f"to be erased by {late.due:%Y-%m-%d %H:%M} UTC" if late.due else "ended with no erasure time"
            )
            lines.append(f"    {late.code} ({late.kind}, {due}): {', '.join(late.holds)}")
    else:
        lines.append(
            "- Requests past their erasure time still holding contact details: none "
            f"({database.purged:,} erased, {database.waiting:,} still open or not yet due)."
        )
    for log in logs:
        lines += _listed(f"Phone numbers in {log.path}", log.numbers)
    found = findings(database, logs)
    lines.append("")
    if not found:
        lines.append(
            "Verdict: PASS. Nothing that reads as a phone number is kept in clear outside the roster, "
            "and every request past its erasure time has been erased."
        )
    else:
        lines.append(f"Verdict: FAIL, {found} finding(s) above.")
        if any(not n.on_roster for n in [*database.numbers, *(n for log in logs for n in log.numbers)]):
            lines.append(
                "A number that is not on the roster may be a requester's: find where it came from (the "
                "place is given above), erase it, and report it as a bug."
            )
        if database.unpurged:
            lines.append(
                "Requests past their erasure time: the scheduler erases them every 15 s while Callout runs "
                "(is it running?); `callout privacy purge` erases them now."
            )
    lines += [
        "",
        "Not checked here: Twilio's own copies (docs/twilio.md says which settings keep them short-lived), "
        "backups and PostgreSQL's old row versions and WAL archives (ciphertext, unreadable once the key is "
        "changed), and the peers' phones.",
    ]
    return lines


def _listed(title: str, numbers: Sequence[Number]) -> list[str]:
    """Return a finding's lines: none, or each number masked, where it was and whether it is a member's."""
    if not numbers:
        return [f"- {title}: none."]
    lines = [f"- {title}: {len(numbers)}"]
    for number in numbers:
        whose = "a member's number" if number.on_roster else "not on the roster"
        lines.append(f"    {number.where}: {number.masked} ({whose})")
    return lines
