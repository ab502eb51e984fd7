"""Roster files (TOML or CSV): parsed and checked as a whole, then imported all or nothing."""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callout.config import Config
from callout.db import exclusive
from callout.models import ROLES, Member, Team
from callout.phones import InvalidPhone, to_e164
from callout.rotation import roster_change
from callout.teams import get_team

KEYS = ("name", "phone", "role", "skills", "active")
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a roster file: where ("members[3] (line 14)", "line 5") and why."""

    position: str
    reason: str

    def __str__(self) -> str:
        return f"{self.position}: {self.reason}"


class RosterError(Exception):
    """A roster that cannot be imported; carries every problem found."""

    def __init__(self, problems: Sequence[Problem], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        return "\n".join(f"{prefix}{problem}" for problem in self.problems)


@dataclass(frozen=True)
class RosterEntry:
    """One checked member of a roster file; phone is E.164."""

    name: str
    phone: str
    role: str
    skills: tuple[str, ...] = ()
    active: bool = True
    position: str = ""


@dataclass(frozen=True)
class ImportSummary:
    """The names of the members an import added, updated, deactivated or left as they were."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        counts = (len(self.added), len(self.updated), len(self.deactivated), len(self.unchanged))
        return "{} added, {} updated, {} deactivated, {} unchanged".format(*counts)


@dataclass
class _Checked:
    """One raw member after checking: where it is, its E.164 phone ("" if none), the entry or problems."""

    position: str
    phone: str
    entry: RosterEntry | None
    problems: list[Problem]


# --- parsing ------------------------------------------------------------------------------------


def _skills(value: object, separated: bool) -> tuple[str, ...]:
    """Return skill tags, lowercased and without repeats; raise ValueError for anything else."""
    if separated and isinstance(value, str):
        value = re.split(r"[;|]", value)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"expected a list of strings, got {value!r}")
    tags = [item.strip().lower() for item in value]
    return tuple(dict.fromkeys(tag for tag in tags if tag))


def _active(value: object) -> bool:
    """Return an active flag from true/false (or yes/no, 1/0 in CSV); raise ValueError otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "" or text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"expected true or false, got {value!r}")


def _entry(raw: Mapping[str, Any], position: str, csv_text: bool) -> _Checked:
    """Check one raw member: the entry (None if bad), its E.164 phone if it has one, every problem."""
    problems = [
        Problem(position, f"unknown key {key!r} (expected {', '.join(KEYS)})")
        for key in raw
        if key not in KEYS
    ]
    name = raw.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        problems.append(Problem(position, "missing name"))
    elif not isinstance(name, str):
        problems.append(Problem(position, f"name: expected text, got {name!r}"))
    phone = raw.get("phone")
    e164 = ""
    if isinstance(phone, int) and not isinstance(phone, bool):
        phone = str(phone)
    if not isinstance(phone, str) or not phone.strip():
        problems.append(Problem(position, "missing phone"))
    else:
        try:
            e164 = to_e164(phone)
        except InvalidPhone as exc:
            problems.append(Problem(position, f"phone: {exc}"))
    role = raw.get("role")
    role_text = role.strip().lower() if isinstance(role, str) else role
    if not role_text:
        problems.append(Problem(position, f"missing role ({', '.join(ROLES)})"))
    elif role_text not in ROLES:
        problems.append(Problem(position, f"unknown role {role!r} (expected {', '.join(ROLES)})"))
    skills: tuple[str, ...] = ()
    active = True
    try:
        skills = _skills(raw.get("skills") or [], separated=csv_text)
    except ValueError as exc:
        problems.append(Problem(position, f"bad skills: {exc}"))
    try:
        active = _active(raw.get("active", True))
    except ValueError as exc:
        problems.append(Problem(position, f"bad active value: {exc}"))
    if problems:
        return _Checked(position, e164, None, problems)
    assert isinstance(name, str) and isinstance(role_text, str)
    return _Checked(position, e164, RosterEntry(name.strip(), e164, role_text, skills, active, position), [])


def _check_whole(entries: Sequence[RosterEntry]) -> list[Problem]:
    """Return what is wrong with entries made elsewhere: none at all, unknown roles, duplicate phones."""
    if not entries:
        return [Problem("roster", "no members (an empty roster would deactivate everyone)")]
    checked = [_Checked(e.position or e.name, e.phone, e, []) for e in entries]
    problems = [
        Problem(c.position, f"unknown role {e.role!r}")
        for c, e in zip(checked, entries, strict=True)
        if e.role not in ROLES
    ]
    return problems + [p for c in _mark_duplicates(checked) for p in c.problems]


def _mark_duplicates(checked: list[_Checked]) -> list[_Checked]:
    """Add a problem to each entry whose phone an earlier one has; return checked."""
    first: dict[str, str] = {}
    for item in checked:
        if item.phone and item.phone in first:
            item.problems.append(
                Problem(item.position, f"duplicate phone {item.phone} (also {first[item.phone]})")
            )
        first.setdefault(item.phone, item.position)
    return checked


def _finish(checked: list[_Checked], source: str | None, extra: Sequence[Problem] = ()) -> list[RosterEntry]:
    """Return the entries; raise RosterError with every problem, in file order, if there is any."""
    problems = [*extra, *(p for item in _mark_duplicates(checked) for p in item.problems)]
    if not checked and not problems:
        problems.append(Problem("roster", "no members (an empty roster would deactivate everyone)"))
    if problems:
        raise RosterError(problems, source)
    return [item.entry for item in checked if item.entry is not None]


def parse_toml(text: str, source: str | None = None) -> list[RosterEntry]:
    """Parse a TOML roster ([[members]] tables); raise RosterError listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RosterError([Problem("roster", f"not valid TOML: {exc}")], source) from None
    problems = [
        Problem("roster", f"unknown key {key!r} (expected [[members]])") for key in data if key != "members"
    ]
    members = data.get("members", [])
    if not isinstance(members, list) or not all(isinstance(item, dict) for item in members):
        raise RosterError([*problems, Problem("members", "expected [[members]] tables")], source)
    lines = [n for n, line in enumerate(text.splitlines(), 1) if re.match(r"^\s*\[\[\s*members\s*\]\]", line)]
    positions = [
        f"members[{i}]" + (f" (line {lines[i]})" if len(lines) == len(members) else "")
        for i in range(len(members))
    ]
    checked = [_entry(item, positions[i], csv_text=False) for i, item in enumerate(members)]
    return _finish(checked, source, problems)


def parse_csv(text: str, source: str | None = None) -> list[RosterEntry]:
    """Parse a CSV roster (a header row naming the columns); raise RosterError listing every problem."""
    try:
        return _parse_csv(text, source)
    except csv.Error as exc:  # e.g. a field over the csv module's size limit: no roster a spreadsheet wrote
        raise RosterError([Problem("file", f"not a readable CSV file: {exc}")], source) from None


def _parse_csv(text: str, source: str | None) -> list[RosterEntry]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    problems = [
        Problem("line 1", f"unknown column {name!r} (expected {', '.join(KEYS)})")
        for name in header
        if name not in KEYS
    ]
    problems += [
        Problem("line 1", f"missing column {name!r}")
        for name in ("name", "phone", "role")
        if name not in header
    ]
    problems += [
        Problem("line 1", f"column {name!r} appears twice") for name in set(header) if header.count(name) > 1
    ]
    if problems:
        raise RosterError(problems, source)
    reader.fieldnames = header
    checked: list[_Checked] = []
    for row in reader:
        position = f"line {reader.line_num}"
        if None in row:
            checked.append(_Checked(position, "", None, [Problem(position, "more values than columns")]))
            continue
        values = {key: value for key, value in row.items() if value is not None}
        if not any(value.strip() for value in values.values()):
            continue  # a blank line
        if "active" in values and not values["active"].strip():
            del values["active"]
        checked.append(_entry(values, position, csv_text=True))
    return _finish(checked, source)


def load_roster_file(path: Path) -> list[RosterEntry]:
    """Read and check a .toml or .csv roster; raise RosterError saying what is wrong."""
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".csv"):
        raise RosterError(
            [Problem("file", f"unknown roster format {suffix or '(none)'!r}: use .toml or .csv")], source
        )
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheets often start CSV with a BOM
    except FileNotFoundError:
        raise RosterError([Problem("file", "not found")], source) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise RosterError([Problem("file", f"cannot be read: {reason}")], source) from None
    return parse_toml(text, source) if suffix == ".toml" else parse_csv(text, source)


# --- importing ----------------------------------------------------------------------------------


def import_roster(
    session: Session, team: Team, entries: Sequence[RosterEntry], now: datetime
) -> ImportSummary:
    """Make team's roster match entries (by phone); raise RosterError before changing anything.

    Members left out become inactive (their history stays); positions follow the entries' order;
    who is on call now does not change. The caller commits.
    """
    problems = _check_whole(entries)
    if problems:
        raise RosterError(problems)
    exclusive(session)  # workers importing the configured roster at start, or an admin at the same time
    summary = ImportSummary()
    existing = {
        m.phone: m
        for m in session.scalars(
            select(Member).where(Member.team_id == team.id).order_by(Member.position, Member.id)
        )
    }
    with roster_change(session, team, now):
        for position, entry in enumerate(entries):
            member = existing.pop(entry.phone, None)
            if member is None:
                session.add(
                    Member(
                        team=team,
                        name=entry.name,
                        phone=entry.phone,
                        role=entry.role,
                        skills=list(entry.skills),
                        active=entry.active,
                        position=position,
                    )
                )
                summary.added.append(entry.name)
                continue
            changed = (member.name, member.role, list(member.skills or []), member.active) != (
                entry.name,
                entry.role,
                list(entry.skills),
                entry.active,
            )
            member.name, member.role, member.skills, member.active = (
                entry.name,
                entry.role,
                list(entry.skills),
                entry.active,
            )
            member.position = position
            (summary.updated if changed else summary.unchanged).append(entry.name)
        for position, member in enumerate(existing.values(), start=len(entries)):
            member.position = position
            if member.active:
                member.active = False
                summary.deactivated.append(member.name)
    return summary


def import_configured_rosters(session: Session, config: Config, now: datetime) -> dict[str, ImportSummary]:
    """Import each configured team's roster file; check every file before importing any."""
    rosters = {t.slug: (t, load_roster_file(t.roster)) for t in config.teams if t.roster is not None}
    return {
        slug: import_roster(session, get_team(session, team_config), entries, now)
        for slug, (team_config, entries) in rosters.items()
    }
