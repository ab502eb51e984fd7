"""Roster files: TOML and CSV parsing, every error with its position, and all-or-nothing imports."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callout import rotation
from callout.config import Config
from callout.models import Member, Team
from callout.roster import (
    RosterEntry,
    RosterError,
    import_configured_rosters,
    import_roster,
    load_roster_file,
    parse_csv,
    parse_toml,
)
from tests.conftest import make_config, team_table

ROSTER = """
[[members]]
name = "Ofc. Dana Rivera"
phone = "(432) 555-0101"
role = "peer"
skills = ["Post-Shooting", "grief"]

[[members]]
name = "Sgt. Lee Park"
phone = "+1 432 555 0102"
role = "peer"
active = false

[[members]]
name = "Dr. Ana Cruz"
phone = "432.555.0103"
role = "psychologist"
"""

CSV = """name,phone,role,skills,active
Ofc. Dana Rivera,(432) 555-0101,peer,post-shooting;grief,yes
Sgt. Lee Park,+1 432 555 0102,Peer,,no

Dr. Ana Cruz,432.555.0103,psychologist,debrief|grief,
"""


def entry(name: str, phone: str, role: str = "peer", skills: tuple[str, ...] = ()) -> RosterEntry:
    """Return a checked roster entry."""
    return RosterEntry(name=name, phone=phone, role=role, skills=skills)


def members(session: Session, team: Team) -> list[Member]:
    """Return the team's members in position order."""
    query = select(Member).where(Member.team_id == team.id).order_by(Member.position)
    return list(session.scalars(query))


def primary_name(session: Session, team: Team, at: datetime) -> str | None:
    """Return the name of the scheduled primary at at."""
    primary = rotation.scheduled_primary(session, team, at)
    return primary.name if primary else None


def problems(error: pytest.ExceptionInfo[RosterError]) -> list[str]:
    """Return the problems of a RosterError as text."""
    return [str(problem) for problem in error.value.problems]


# --- parsing ------------------------------------------------------------------------------------


def test_it_reads_a_toml_roster_into_e164_entries() -> None:
    entries = parse_toml(ROSTER)
    assert [(e.name, e.phone, e.role, e.skills, e.active) for e in entries] == [
        ("Ofc. Dana Rivera", "+14325550101", "peer", ("post-shooting", "grief"), True),
        ("Sgt. Lee Park", "+14325550102", "peer", (), False),
        ("Dr. Ana Cruz", "+14325550103", "psychologist", (), True),
    ]
    assert entries[1].position == "members[1] (line 8)"


def test_it_reads_a_csv_roster_with_the_same_columns() -> None:
    entries = parse_csv(CSV)
    assert [(e.name, e.phone, e.role, e.skills, e.active) for e in entries] == [
        ("Ofc. Dana Rivera", "+14325550101", "peer", ("post-shooting", "grief"), True),
        ("Sgt. Lee Park", "+14325550102", "peer", (), False),
        ("Dr. Ana Cruz", "+14325550103", "psychologist", ("debrief", "grief"), True),
    ]
    assert [e.position for e in entries] == ["line 2", "line 3", "line 5"]


def test_it_reports_every_problem_of_a_toml_roster_with_its_position() -> None:
    text = """
[[members]]
phone = "432-555-0101"
role = "peer"

[[members]]
name = "Bad Number"
phone = "not a number"
role = "peer"

[[members]]
name = "Impossible Number"
phone = "+1 432 555"
role = "peer"

[[members]]
name = "Twin"
phone = "(432) 555-0101"
role = "chaplain"
active = "sometimes"
emial = "x@example.org"

[[members]]
name = "Twin Again"
phone = "+14325550101"
role = "peer"
"""
    with pytest.raises(RosterError) as error:
        parse_toml(text)
    assert problems(error) == [
        "members[0] (line 2): missing name",
        "members[1] (line 6): phone: 'not a number' is not a phone number",
        "members[2] (line 11): phone: '+1 432 555' is not a valid phone number",
        "members[3] (line 16): unknown key 'emial' (expected name, phone, role, skills, active)",
        "members[3] (line 16): unknown role 'chaplain' (expected peer, psychologist, director, dispatch)",
        "members[3] (line 16): bad active value: expected true or false, got 'sometimes'",
        "members[3] (line 16): duplicate phone +14325550101 (also members[0] (line 2))",
        "members[4] (line 23): duplicate phone +14325550101 (also members[0] (line 2))",
    ]


def test_it_reports_every_problem_of_a_csv_roster_with_its_line() -> None:
    text = (
        "name,phone,role,active\n"
        ",432-555-0101,peer,\n"
        "X,123,peer,maybe\n"
        "Y,(432) 555-0101,boss,\n"
        "Z,4325550104,peer,yes,extra\n"
    )
    with pytest.raises(RosterError) as error:
        parse_csv(text)
    assert problems(error) == [
        "line 2: missing name",
        "line 3: phone: '123' is not a valid phone number",
        "line 3: bad active value: expected true or false, got 'maybe'",
        "line 4: unknown role 'boss' (expected peer, psychologist, director, dispatch)",
        "line 4: duplicate phone +14325550101 (also line 2)",
        "line 5: more values than columns",
    ]


def test_it_reports_unknown_and_missing_csv_columns() -> None:
    with pytest.raises(RosterError) as error:
        parse_csv("name,telephone,role\nA,4325550101,peer\n")
    assert problems(error) == [
        "line 1: unknown column 'telephone' (expected name, phone, role, skills, active)",
        "line 1: missing column 'phone'",
    ]


def test_it_refuses_an_empty_roster() -> None:
    with pytest.raises(RosterError, match="no members"):
        parse_toml("# nobody yet\n")


def test_it_reports_a_roster_that_is_not_toml() -> None:
    with pytest.raises(RosterError, match="not valid TOML"):
        parse_toml("[[members]\nname = ")


def test_it_picks_the_parser_by_extension(tmp_path: Path) -> None:
    (tmp_path / "r.toml").write_text(ROSTER)
    (tmp_path / "r.CSV").write_text("\ufeff" + CSV)  # spreadsheets write a byte-order mark
    assert load_roster_file(tmp_path / "r.toml") == parse_toml(ROSTER, str(tmp_path / "r.toml"))
    assert [e.phone for e in load_roster_file(tmp_path / "r.CSV")] == [e.phone for e in parse_csv(CSV)]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing.toml", "file: not found"),
        ("roster.xlsx", "unknown roster format '.xlsx'"),
        ("dir.csv", "cannot be read"),
    ],
)
def test_it_reports_a_file_it_cannot_use(tmp_path: Path, name: str, message: str) -> None:
    (tmp_path / "roster.xlsx").write_text("x")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(RosterError, match=message) as error:
        load_roster_file(tmp_path / name)
    assert str(error.value).startswith(str(tmp_path / name))


# --- importing ----------------------------------------------------------------------------------


def test_it_imports_members_in_file_order(session: Session, team: Team, now: datetime) -> None:
    summary = import_roster(session, team, parse_toml(ROSTER), now)
    assert summary.added == ["Ofc. Dana Rivera", "Sgt. Lee Park", "Dr. Ana Cruz"]
    rows = members(session, team)
    assert [(m.name, m.phone, m.role, m.skills, m.active, m.position) for m in rows] == [
        ("Ofc. Dana Rivera", "+14325550101", "peer", ["post-shooting", "grief"], True, 0),
        ("Sgt. Lee Park", "+14325550102", "peer", [], False, 1),
        ("Dr. Ana Cruz", "+14325550103", "psychologist", [], True, 2),
    ]
    assert rotation.scheduled_primary(session, team, now) == rows[0]


def test_it_updates_by_phone_and_deactivates_members_left_out(
    session: Session, team: Team, now: datetime
) -> None:
    import_roster(session, team, parse_toml(ROSTER), now)
    dana = members(session, team)[0]
    summary = import_roster(
        session,
        team,
        [
            entry("Dr. Ana Cruz", "+14325550103", "psychologist"),
            entry("Cpl. Dana Rivera", "+14325550101", skills=("grief",)),
            entry("Ofc. New Peer", "+14325550199"),
        ],
        now + timedelta(days=1),
    )
    assert (summary.added, summary.updated, summary.deactivated, summary.unchanged) == (
        ["Ofc. New Peer"],
        ["Cpl. Dana Rivera"],
        [],  # Sgt. Park was inactive already
        ["Dr. Ana Cruz"],
    )
    rows = members(session, team)
    assert [(m.name, m.position, m.active) for m in rows] == [
        ("Dr. Ana Cruz", 0, True),
        ("Cpl. Dana Rivera", 1, True),
        ("Ofc. New Peer", 2, True),
        ("Sgt. Lee Park", 3, False),
    ]
    assert rows[1].id == dana.id and rows[1].skills == ["grief"]
    # It empties the psychologist's role: forced (issue 10 refuses it otherwise, see below).
    summary = import_roster(session, team, [entry("Ofc. New Peer", "+14325550199")], now, force=True)
    assert summary.deactivated == ["Dr. Ana Cruz", "Cpl. Dana Rivera"]


def test_it_reactivates_a_member_back_in_the_file(session: Session, team: Team, now: datetime) -> None:
    import_roster(session, team, parse_toml(ROSTER), now)
    summary = import_roster(session, team, [entry("Sgt. Lee Park", "+14325550102")], now, force=True)
    assert summary.updated == ["Sgt. Lee Park"]
    assert [m.name for m in members(session, team) if m.active] == ["Sgt. Lee Park"]


def test_it_keeps_who_is_on_call_when_the_file_reorders_the_peers(
    session: Session, team: Team, now: datetime
) -> None:
    crew = [entry(f"Peer {i}", f"+1432555{i + 110:04d}") for i in range(4)]
    import_roster(session, team, crew, now - timedelta(days=2))  # Peer 2 is primary now
    assert primary_name(session, team, now) == "Peer 2"
    import_roster(session, team, list(reversed(crew)), now)
    assert primary_name(session, team, now) == "Peer 2"
    assert primary_name(session, team, now + timedelta(days=1)) == "Peer 1"  # the file's order from now on


def test_it_changes_nothing_when_the_file_has_a_bad_entry(
    session: Session, team: Team, now: datetime, tmp_path: Path
) -> None:
    import_roster(session, team, parse_toml(ROSTER), now)
    session.commit()
    before = [(m.name, m.phone, m.active, m.position) for m in members(session, team)]
    bad = tmp_path / "bad.toml"
    bad.write_text(ROSTER.replace('role = "psychologist"', 'role = "chaplain"').replace("Dana", "Dane"))
    with pytest.raises(RosterError):
        import_roster(session, team, load_roster_file(bad), now)
    with pytest.raises(RosterError, match="duplicate phone"):
        import_roster(session, team, [entry("A", "+14325550101"), entry("B", "+14325550101")], now)
    assert [(m.name, m.phone, m.active, m.position) for m in members(session, team)] == before
    assert not session.new and not session.dirty


def test_it_imports_each_configured_roster(
    session: Session, team: Team, now: datetime, tmp_path: Path
) -> None:
    (tmp_path / "roster-odessa.toml").write_text(ROSTER)
    config: Config = make_config("sqlite://", team_table(roster=str(tmp_path / "roster-odessa.toml")))
    summaries = import_configured_rosters(session, config, now)
    assert summaries["odessa"].added == ["Ofc. Dana Rivera", "Sgt. Lee Park", "Dr. Ana Cruz"]
    assert len(members(session, team)) == 3


def test_a_csv_the_csv_module_cannot_read_is_a_roster_problem_not_a_crash() -> None:
    huge = 'name,phone,role\n"' + "x" * 200_000 + '",(432) 555-0101,peer\n'
    with pytest.raises(RosterError) as raised:
        parse_csv(huge, "huge.csv")
    [problem] = raised.value.problems
    assert problem.position == "file" and "not a readable CSV file" in problem.reason


# --- the diff, the roles a change would empty, and one member at a time -------------------------

TEAM = [
    entry("Ofc. Dana Rivera", "+14325550101"),
    entry("Sgt. Lee Park", "+14325550102"),
    entry("Det. Lee Moss", "+14325550103"),
    entry("Dr. Ana Cruz", "+14325550104", "psychologist"),
    entry("Lt. Ray Ortiz", "+14325550105", "director"),
    entry("Disp. Kim Wu", "+14325550106", "dispatch"),
]


def state(session: Session, team: Team) -> list[tuple[str, str, bool, int]]:
    """Return every member's name, role, active flag and position."""
    return [(m.name, m.role, m.active, m.position) for m in members(session, team)]


def test_a_one_line_file_that_would_empty_roles_is_refused_naming_them_and_changes_nothing(
    session: Session, team: Team, now: datetime
) -> None:
    from callout.roster import EmptiesRole

    import_roster(session, team, TEAM, now)
    session.commit()
    before = state(session, team)
    with pytest.raises(EmptiesRole) as refused:
        import_roster(session, team, [entry("Ofc. Dana Rivera", "+14325550101")], now)
    diff = refused.value.diff
    assert list(diff.emptied) == ["psychologist", "director"]  # a peer stays
    assert diff.refusal() == (
        "it would leave odessa with no active psychologist (Dr. Ana Cruz would be deactivated)"
        " and no active director (Lt. Ray Ortiz would be deactivated)"
    )
    assert diff.deactivated == [
        "Sgt. Lee Park",
        "Det. Lee Moss",
        "Dr. Ana Cruz",
        "Lt. Ray Ortiz",
        "Disp. Kim Wu",
    ]
    assert not diff.applied and state(session, team) == before
    assert not session.new and not session.dirty
    forced = import_roster(session, team, [entry("Ofc. Dana Rivera", "+14325550101")], now, force=True)
    assert forced.applied and [m.name for m in members(session, team) if m.active] == ["Ofc. Dana Rivera"]


def test_a_dry_run_says_what_would_change_by_name_and_changes_nothing(
    session: Session, team: Team, now: datetime
) -> None:
    import_roster(session, team, TEAM, now)
    session.commit()
    before = state(session, team)
    changed = [
        entry("Ofc. Dana Rivera", "+14325550101", skills=("grief",)),
        entry("Sgt. Lee Park", "+14325550102", "director"),
        entry("Det. Lee Moss", "+14325550103"),
        entry("Dr. Ana Cruz", "+14325550104", "psychologist"),
        entry("Lt. Ray Ortiz", "+14325550105", "director"),
        entry("Ofc. New Peer", "+14325550107"),
    ]
    diff = import_roster(session, team, changed, now, dry_run=True)
    assert not diff.applied and state(session, team) == before
    assert diff.lines() == [
        "added: Ofc. New Peer",
        "updated: Ofc. Dana Rivera (skills grief), Sgt. Lee Park (role peer -> director)",
        "deactivated: Disp. Kim Wu",
    ]
    assert str(diff) == "1 added, 2 updated, 1 deactivated, 3 unchanged"
    assert import_roster(session, team, changed, now).lines() == diff.lines()


def test_a_role_change_that_empties_a_role_is_refused_too(
    session: Session, team: Team, now: datetime
) -> None:
    from callout.roster import EmptiesRole

    import_roster(session, team, TEAM, now)
    demoted = [e if e.role != "director" else entry(e.name, e.phone, "peer") for e in TEAM]
    with pytest.raises(EmptiesRole, match=r"no active director \(Lt. Ray Ortiz would become peer\)"):
        import_roster(session, team, demoted, now)


def test_a_first_import_without_every_role_is_taken_and_says_what_is_missing(
    session: Session, team: Team, now: datetime
) -> None:
    diff = import_roster(session, team, TEAM[:3], now)  # peers only: nothing is emptied, nothing was there
    assert diff.applied and diff.emptied == {} and diff.absent == ("psychologist", "director")
    assert diff.notes() == [
        "note: odessa has no active psychologist: nobody to fall back on or alert",
        "note: odessa has no active director: nobody to fall back on or alert",
    ]


def test_the_configured_roster_that_would_empty_a_role_stops_the_import_naming_the_file(
    session: Session, team: Team, now: datetime, tmp_path: Path
) -> None:
    from callout.roster import EmptiesRole

    import_roster(session, team, TEAM, now)
    session.commit()
    path = tmp_path / "roster-odessa.toml"
    path.write_text('[[members]]\nname = "Ofc. Dana Rivera"\nphone = "(432) 555-0101"\nrole = "peer"\n')
    config = make_config("sqlite://", team_table(roster=str(path)))
    before = state(session, team)
    with pytest.raises(EmptiesRole) as refused:
        import_configured_rosters(session, config, now)
    assert refused.value.source == str(path) and "no active psychologist" in str(refused.value)
    assert state(session, team) == before


def test_it_finds_a_member_by_phone_or_by_a_name_only_one_matches(
    session: Session, team: Team, now: datetime
) -> None:
    from callout.roster import AmbiguousMember, UnknownMember, find_member

    import_roster(session, team, TEAM, now)
    assert find_member(session, team, "(432) 555-0104").name == "Dr. Ana Cruz"
    assert find_member(session, team, "sgt. lee park").name == "Sgt. Lee Park"
    assert find_member(session, team, "Ortiz").name == "Lt. Ray Ortiz"
    with pytest.raises(AmbiguousMember) as ambiguous:
        find_member(session, team, "Lee")
    assert [m.name for m in ambiguous.value.candidates] == ["Sgt. Lee Park", "Det. Lee Moss"]
    with pytest.raises(UnknownMember):
        find_member(session, team, "Nobody")


def test_adding_a_member_puts_them_last_with_the_files_checks_and_keeps_the_primary(
    session: Session, team: Team, now: datetime
) -> None:
    from callout.roster import add_member, new_entry

    import_roster(session, team, TEAM, now - timedelta(days=1))  # Sgt. Lee Park is primary now
    assert primary_name(session, team, now) == "Sgt. Lee Park"
    diff = add_member(session, team, new_entry("Ofc. New Peer", "(432) 555-0199", "Peer", ["Grief"]), now)
    assert diff.added == ["Ofc. New Peer"] and diff.applied
    added = members(session, team)[-1]
    assert (added.name, added.phone, added.role, added.skills) == (
        "Ofc. New Peer",
        "+14325550199",
        "peer",
        ["grief"],
    )
    assert primary_name(session, team, now) == "Sgt. Lee Park"
    with pytest.raises(RosterError, match=r"already on the roster as Ofc\. New Peer"):
        add_member(session, team, new_entry("Someone", "432-555-0199", "peer"), now)
    with pytest.raises(RosterError) as bad:
        new_entry("", "555", "chaplain")
    assert len(bad.value.problems) == 3  # the name, the phone and the role, as a file's entry


def test_deactivating_the_last_member_of_a_role_is_refused_unless_forced(
    session: Session, team: Team, now: datetime
) -> None:
    from callout.roster import EmptiesRole, find_member, set_active

    import_roster(session, team, TEAM, now)
    director = find_member(session, team, "Ortiz")
    with pytest.raises(EmptiesRole, match="no active director"):
        set_active(session, team, director, False, now)
    assert director.active
    assert set_active(session, team, director, False, now, force=True).deactivated == ["Lt. Ray Ortiz"]
    assert set_active(session, team, director, True, now).changes == {"Lt. Ray Ortiz": ("active again",)}
    assert set_active(session, team, director, True, now).unchanged == ["Lt. Ray Ortiz"]  # already active


def test_deactivating_or_activating_a_peer_keeps_who_is_on_call_now(
    session: Session, team: Team, now: datetime
) -> None:
    from callout.roster import find_member, set_active

    import_roster(session, team, TEAM, now - timedelta(days=1))  # Sgt. Lee Park is primary now
    set_active(session, team, find_member(session, team, "Rivera"), False, now)
    assert primary_name(session, team, now) == "Sgt. Lee Park"
    set_active(session, team, find_member(session, team, "Rivera"), True, now)
    assert primary_name(session, team, now) == "Sgt. Lee Park"
    set_active(session, team, find_member(session, team, "Sgt. Lee Park"), False, now)
    assert primary_name(session, team, now) == "Det. Lee Moss"  # the next in the old order takes over


def test_edit_member_changes_one_member_with_the_imports_checks(session: Session, team: Team) -> None:
    from callout.roster import EmptiesRole, RosterError, edit_member, new_entry
    from tests.conftest import NOW, make_member

    chen = make_member(session, team, "Chen")
    rivera = make_member(session, team, "Rivera")
    patel = make_member(session, team, "Dr. Patel", role="psychologist")
    diff = edit_member(session, team, chen, new_entry("Sgt. Chen", chen.phone, "peer", ["k9"]), NOW)
    assert diff.applied and diff.changes == {"Sgt. Chen": ("name was Chen", "skills k9")}
    assert chen.name == "Sgt. Chen" and chen.skills == ["k9"]
    with pytest.raises(RosterError, match="already on the roster as Rivera"):
        edit_member(session, team, chen, new_entry("Sgt. Chen", rivera.phone, "peer"), NOW)
    with pytest.raises(EmptiesRole, match="no active psychologist"):
        edit_member(session, team, patel, new_entry("Dr. Patel", patel.phone, "peer"), NOW)
    assert edit_member(
        session, team, patel, new_entry("Dr. Patel", patel.phone, "peer"), NOW, force=True
    ).applied
    unchanged = edit_member(session, team, rivera, new_entry("Rivera", rivera.phone, "peer"), NOW)
    assert not unchanged.applied and unchanged.unchanged == ["Rivera"]


def test_move_member_reorders_the_rotation_and_keeps_todays_primary(session: Session, team: Team) -> None:
    from callout.roster import move_member
    from tests.conftest import NOW, make_member

    a, b, c = (make_member(session, team, name) for name in ("A", "B", "C"))
    rotation.ensure_anchor(session, team, NOW)
    assert rotation.scheduled_primary(session, team, NOW) is a
    move_member(session, team, c, -2, NOW)
    assert [m.name for m in rotation.rotation_peers(session, team)] == ["C", "A", "B"]
    assert rotation.scheduled_primary(session, team, NOW) is a
    assert rotation.scheduled_primary(session, team, NOW + timedelta(days=1)) is b
    assert not move_member(session, team, c, -1, NOW).applied  # already first
