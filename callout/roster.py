"""Roster files (TOML or CSV): parsed and checked as a whole, then imported all or nothing.

Also one member added, edited, (de)activated or moved. Long because the file and the one-member changes share
the entry, the problems and the checks (a role left with no active member is refused unless forced); the
parsing (up to load_roster_file) would be the module of its own to split off if it grows.
"""

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
from callout.phones import InvalidPhone, maybe_e164, to_e164
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


CHECKED_ROLES = ("peer", "psychologist", "director")  # a team needs an active member of each (SPEC)


@dataclass
class RosterDiff:
    """What a roster change does, by name: who is added, updated (and what changed), deactivated.

    emptied names the roles (peer, psychologist, director) that have an active member now and would have
    none after the change: such a change is refused unless forced. absent names those that have none
    before or after (a team still being set up, say): worth a word, not a refusal. applied tells whether
    the change was made (False for a dry run or a refusal).
    """

    team: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    changes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    emptied: dict[str, list[str]] = field(default_factory=dict)  # role -> how each of its members goes
    absent: tuple[str, ...] = ()
    applied: bool = False

    @property
    def changed(self) -> bool:
        """Tell whether the change adds, updates or deactivates anyone."""
        return bool(self.added or self.updated or self.deactivated)

    def __str__(self) -> str:
        counts = (len(self.added), len(self.updated), len(self.deactivated), len(self.unchanged))
        return "{} added, {} updated, {} deactivated, {} unchanged".format(*counts)

    def lines(self) -> list[str]:
        """Return the diff by name, one line per kind of change ("added: A, B"), for people to read."""
        updated = [f"{name} ({', '.join(self.changes[name])})" for name in self.updated]
        kinds = (("added", self.added), ("updated", updated), ("deactivated", self.deactivated))
        return [f"{label}: {', '.join(names)}" for label, names in kinds if names]

    def summary(self) -> str:
        """Return the diff in one line (for a log or an audit entry): counts, then names."""
        return "; ".join([f"{self.team}: {self}", *self.lines()])

    def refusal(self) -> str:
        """Say which roles the change would leave with no active member, and whose going empties them."""
        parts = [f"no active {role} ({', '.join(going)})" for role, going in self.emptied.items()]
        return f"it would leave {self.team} with " + " and ".join(parts)

    def notes(self) -> list[str]:
        """Return what is worth saying about roles already empty (not a reason to refuse)."""
        return [
            f"note: {self.team} has no active {role}"
            + (": nobody is paged in rotation" if role == "peer" else ": nobody to fall back on or alert")
            for role in self.absent
        ]


ImportSummary = RosterDiff  # the name the first round gave it


class EmptiesRole(RosterError):
    """A roster change that would leave a role with no active member; carries the diff it would make."""

    def __init__(self, diff: RosterDiff, source: str | None = None) -> None:
        self.diff = diff
        super().__init__([Problem("roster", diff.refusal())], source)


class UnknownMember(LookupError):
    """Nobody on the team matches a name or phone."""


class AmbiguousMember(LookupError):
    """Several members match a name; carries them, to list."""

    def __init__(self, message: str, candidates: Sequence[Member]) -> None:
        super().__init__(message)
        self.candidates = list(candidates)


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


def _members(session: Session, team: Team) -> list[Member]:
    """Return every member of the team (active or not) in rotation order."""
    return list(
        session.scalars(select(Member).where(Member.team_id == team.id).order_by(Member.position, Member.id))
    )


_After = dict[str, tuple[str, bool]]  # phone -> (role, active) once the change is made


def _roles_check(diff: RosterDiff, before: Sequence[Member], after: _After) -> None:
    """Fill diff.emptied and diff.absent from the members before and each number's (role, active) after."""
    for role in CHECKED_ROLES:
        had = [m for m in before if m.active and m.role == role]
        has = [phone for phone, (r, active) in after.items() if active and r == role]
        if had and not has:
            diff.emptied[role] = [_going(m, after.get(m.phone, (m.role, False))) for m in had]
        elif not had and not has:
            diff.absent += (role,)


def _going(member: Member, after: tuple[str, bool]) -> str:
    """Say how a member leaves their role: "Lt. Ray Ortiz would be deactivated" or "... would become peer"."""
    role, active = after
    return f"{member.name} would be deactivated" if not active else f"{member.name} would become {role}"


def _fields(member: Member, entry: RosterEntry) -> tuple[str, ...]:
    """Return what an entry changes about a member: name, role, skills, active."""
    changed = []
    if member.name != entry.name:
        changed.append(f"name was {member.name}")
    if member.role != entry.role:
        changed.append(f"role {member.role} -> {entry.role}")
    if list(member.skills or []) != list(entry.skills):
        changed.append("skills " + (", ".join(entry.skills) or "none"))
    if member.active != entry.active:
        changed.append("active again" if entry.active else "marked inactive")
    return tuple(changed)


def plan_import(session: Session, team: Team, entries: Sequence[RosterEntry]) -> RosterDiff:
    """Return what importing entries would change, changing nothing; raise RosterError for bad entries."""
    problems = _check_whole(entries)
    if problems:
        raise RosterError(problems)
    before = _members(session, team)
    existing = {m.phone: m for m in before}
    diff = RosterDiff(team.slug)
    for entry in entries:
        member = existing.pop(entry.phone, None)
        if member is None:
            diff.added.append(entry.name)
            continue
        changed = _fields(member, entry)
        if changed:
            diff.updated.append(entry.name)
            diff.changes[entry.name] = changed
            if member.active and not entry.active:
                diff.deactivated.append(entry.name)
        else:
            diff.unchanged.append(entry.name)
    diff.deactivated += [m.name for m in existing.values() if m.active]
    diff.updated = [name for name in diff.updated if name not in diff.deactivated]
    _roles_check(diff, before, {e.phone: (e.role, e.active) for e in entries})
    return diff


def import_roster(
    session: Session,
    team: Team,
    entries: Sequence[RosterEntry],
    now: datetime,
    *,
    force: bool = False,
    dry_run: bool = False,
) -> RosterDiff:
    """Make team's roster match entries (by phone), or with dry_run only say what that would change.

    Raises RosterError for bad entries, and EmptiesRole (unless force, or for a dry run: its diff says
    so) when the import would leave a role that has an active member with none, before changing
    anything. Members left out become inactive (their history stays); positions follow the entries'
    order; who is on call now does not change. The caller commits.
    """
    if not dry_run:
        exclusive(session)  # workers importing the configured roster at start, or an admin at the same time
    diff = plan_import(session, team, entries)
    if dry_run:
        return diff
    if diff.emptied and not force:
        raise EmptiesRole(diff)
    existing = {m.phone: m for m in _members(session, team)}
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
                continue
            member.name, member.role, member.skills, member.active = (
                entry.name,
                entry.role,
                list(entry.skills),
                entry.active,
            )
            member.position = position
        for position, member in enumerate(existing.values(), start=len(entries)):
            member.position = position
            member.active = False
    diff.applied = True
    return diff


def import_configured_rosters(session: Session, config: Config, now: datetime) -> dict[str, RosterDiff]:
    """Import each configured team's roster file; check every file, and every diff, before importing any.

    A file that would leave a role with no active member (EmptiesRole) stops the start: there is no
    --force at start, and a team left without its director or its peers must not come up that way.
    """
    exclusive(session)  # workers starting together import one after the other, each seeing the last one's
    rosters = {t.slug: (t, load_roster_file(t.roster)) for t in config.teams if t.roster is not None}
    for team_config, entries in rosters.values():
        assert team_config.roster is not None
        try:
            plan = plan_import(session, get_team(session, team_config), entries)
        except RosterError as exc:
            raise RosterError(exc.problems, str(team_config.roster)) from None
        if plan.emptied:
            raise EmptiesRole(plan, str(team_config.roster))
    return {
        slug: import_roster(session, get_team(session, team_config), entries, now)
        for slug, (team_config, entries) in rosters.items()
    }


# --- one member at a time -----------------------------------------------------------------------


def new_entry(name: str, phone: str, role: str, skills: Sequence[str] = ()) -> RosterEntry:
    """Check one member given on the command line (or a form) as a roster file's entry is checked.

    Raises RosterError with every problem.
    """
    checked = _entry({"name": name, "phone": phone, "role": role, "skills": list(skills)}, "member", False)
    if checked.entry is None:
        raise RosterError(checked.problems)
    return checked.entry


def find_member(session: Session, team: Team, who: str) -> Member:
    """Find a member of team (active or not) by phone, or by a name only one member's name matches.

    A name matches exactly (any case), or else as a part of one name ("Park" for "Sgt. Lee Park").
    Raises UnknownMember, or AmbiguousMember with the candidates.
    """
    members = _members(session, team)
    phone = maybe_e164(who)
    if phone is not None:
        found = [m for m in members if m.phone == phone]
        if found:
            return found[0]
    wanted = " ".join(who.split()).casefold()
    if not wanted:
        raise UnknownMember("give a name or a phone number")
    exact = [m for m in members if m.name.casefold() == wanted]
    found = exact or [m for m in members if wanted in m.name.casefold()]
    if not found:
        raise UnknownMember(f"nobody on {team.slug}'s roster is named {who.strip()!r} or has that number")
    if len(found) > 1:
        raise AmbiguousMember(
            f"{len(found)} members of {team.slug} match {who.strip()!r}: give the phone number", found
        )
    return found[0]


def add_member(session: Session, team: Team, entry: RosterEntry, now: datetime) -> RosterDiff:
    """Add one member at the end of the rotation; raise RosterError if the number is already on the team."""
    exclusive(session)
    members = _members(session, team)
    taken = next((m for m in members if m.phone == entry.phone), None)
    if taken is not None:
        how = "" if taken.active else " (inactive: use roster activate)"
        raise RosterError([Problem("phone", f"{entry.phone} is already on the roster as {taken.name}{how}")])
    diff = RosterDiff(team.slug, added=[entry.name])
    after = {m.phone: (m.role, m.active) for m in members} | {entry.phone: (entry.role, True)}
    _roles_check(diff, members, after)
    with roster_change(session, team, now):
        position = max((m.position for m in members), default=-1) + 1
        session.add(
            Member(
                team=team,
                name=entry.name,
                phone=entry.phone,
                role=entry.role,
                skills=list(entry.skills),
                active=True,
                position=position,
            )
        )
    diff.applied = True
    return diff


def set_active(
    session: Session, team: Team, member: Member, active: bool, now: datetime, *, force: bool = False
) -> RosterDiff:
    """Activate or deactivate one member, keeping who is on call now; the caller commits.

    Raises EmptiesRole (unless force) when deactivating the team's last active member of a role.
    A member already in that state changes nothing (the diff says so: all unchanged).
    """
    exclusive(session)
    members = _members(session, team)
    diff = RosterDiff(team.slug)
    if member.active == active:
        diff.unchanged.append(member.name)
        return diff
    if active:
        diff.updated.append(member.name)
        diff.changes[member.name] = ("active again",)
    else:
        diff.deactivated.append(member.name)
    after = {m.phone: (m.role, active if m.id == member.id else m.active) for m in members}
    _roles_check(diff, members, after)
    if diff.emptied and not force:
        raise EmptiesRole(diff)
    with roster_change(session, team, now):
        member.active = active
    diff.applied = True
    return diff


def edit_member(
    session: Session, team: Team, member: Member, entry: RosterEntry, now: datetime, *, force: bool = False
) -> RosterDiff:
    """Change one member's name, phone, role or skills, with the import's checks; the caller commits.

    entry comes from new_entry (checked as a roster file's entry). Raises RosterError when the phone is
    another member's, EmptiesRole (unless force) when a role change leaves a role with no active member.
    """
    exclusive(session)
    members = _members(session, team)
    taken = next((m for m in members if m.phone == entry.phone and m.id != member.id), None)
    if taken is not None:
        raise RosterError([Problem("phone", f"{entry.phone} is already on the roster as {taken.name}")])
    wanted = RosterEntry(entry.name, entry.phone, entry.role, entry.skills, member.active)
    changed = _fields(member, wanted) + (("phone changed",) if member.phone != entry.phone else ())
    diff = RosterDiff(team.slug)
    if not changed:
        diff.unchanged.append(member.name)
        return diff
    diff.updated.append(entry.name)
    diff.changes[entry.name] = changed
    after = {m.phone: (m.role, m.active) for m in members if m.id != member.id}
    after[entry.phone] = (entry.role, member.active)
    _roles_check(diff, members, after)
    if diff.emptied and not force:
        raise EmptiesRole(diff)
    with roster_change(session, team, now):
        member.name, member.phone, member.role, member.skills = (
            entry.name,
            entry.phone,
            entry.role,
            list(entry.skills),
        )
    diff.applied = True
    return diff


def move_member(session: Session, team: Team, member: Member, steps: int, now: datetime) -> RosterDiff:
    """Move a member steps places up (negative) or down the rotation order, keeping who is on call now."""
    exclusive(session)
    members = _members(session, team)
    index = next(i for i, m in enumerate(members) if m.id == member.id)
    target = max(0, min(len(members) - 1, index + steps))
    diff = RosterDiff(team.slug)
    if target == index:
        diff.unchanged.append(member.name)
        return diff
    members.insert(target, members.pop(index))
    with roster_change(session, team, now):
        for position, each in enumerate(members):
            each.position = position
    diff.updated.append(member.name)
    diff.changes[member.name] = (f"moved to place {target + 1} of {len(members)}",)
    diff.applied = True
    return diff


def members_of(session: Session, team: Team) -> list[Member]:
    """Return every member of the team, active or not, in rotation order."""
    return _members(session, team)


def member_of(session: Session, team: Team, member_id: int) -> Member | None:
    """Return the member of team with this id, or None (another team's member is none of its)."""
    member = session.get(Member, member_id)
    return member if member is not None and member.team_id == team.id else None
