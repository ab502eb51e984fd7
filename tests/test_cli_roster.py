"""The roster and oncall commands, through click's runner against a config file and a database."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
import time_machine
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callout.away import UNTIL_BACK
from callout.models import Member, Override
from cli import cli
from tests.conftest import NOW

ROSTER = """
[[members]]
name = "Ofc. Dana Rivera"
phone = "(432) 555-0101"
role = "peer"
skills = ["post-shooting"]

[[members]]
name = "Sgt. Lee Park"
phone = "(432) 555-0102"
role = "peer"

[[members]]
name = "Det. Kim Moss"
phone = "(432) 555-0103"
role = "peer"

[[members]]
name = "Dr. Ana Cruz"
phone = "(432) 555-0104"
role = "psychologist"

[[members]]
name = "Lt. Ray Ortiz"
phone = "(432) 555-0105"
role = "director"
"""

TEAM = """
[[teams]]
slug = "{slug}"
name = "{slug} peer support"
support_number = "+1432555{number}"
timezone = "America/Chicago"
handoff = "07:00"
"""


class Run(Protocol):
    """Runs `callout --config CONFIG ARGS` at the test clock."""

    def __call__(self, *args: str, config_path: Path = ...) -> Result: ...


def write_config(tmp_path: Path, database_url: str, slugs: tuple[str, ...] = ("odessa",)) -> Path:
    """Write a config file with these teams and return its path."""
    teams = "".join(TEAM.format(slug=slug, number=f"{100 + i:04d}") for i, slug in enumerate(slugs))
    path = tmp_path / "config.toml"
    path.write_text(f'[server]\ndatabase_url = "{database_url}"\n{teams}')
    return path


@pytest.fixture
def run(tmp_path: Path, database_url: str) -> Iterator[Run]:
    """Return a function that runs `callout --config ... ARGS` at the test clock."""
    config = write_config(tmp_path, database_url)
    (tmp_path / "roster.toml").write_text(ROSTER)

    def invoke(*args: str, config_path: Path = config) -> Result:
        return CliRunner().invoke(cli, ["--config", str(config_path), *args])

    with time_machine.travel(NOW, tick=False):
        yield invoke


def ok(result: Result) -> str:
    """Assert the command succeeded and return its output."""
    assert result.exit_code == 0, result.output
    return result.output


def failed(result: Result, code: int = 2) -> str:
    """Assert the command failed cleanly with code and return its error output."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, Exception)
    return result.stderr


def names(sessions: sessionmaker[Session], active: bool = True) -> list[str]:
    """Return the names of members in position order."""
    with sessions() as session:
        query = select(Member).where(Member.active.is_(active)).order_by(Member.position)
        return [m.name for m in session.scalars(query)]


def test_it_imports_a_roster_and_prints_a_summary(
    run: Run, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    output = ok(run("roster", "import", str(tmp_path / "roster.toml"), "--team", "odessa"))
    assert "odessa: imported" in output and "5 added, 0 updated, 0 deactivated" in output
    assert names(sessions) == [
        "Ofc. Dana Rivera",
        "Sgt. Lee Park",
        "Det. Kim Moss",
        "Dr. Ana Cruz",
        "Lt. Ray Ortiz",
    ]


def test_it_reports_every_problem_and_changes_nothing(
    run: Run, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    bad = tmp_path / "bad.csv"
    bad.write_text("name,phone,role\nNew Peer,(432) 555-0199,peer\n,(432) 555-0198,peer\nX,12,cop\n")
    errors = failed(run("roster", "import", str(bad)), code=1)
    assert "3 problems; nothing was changed" in errors
    assert "line 3: missing name" in errors
    assert "line 4: phone: '12' is not a valid phone number" in errors
    assert "line 4: unknown role 'cop'" in errors
    assert "New Peer" not in names(sessions)
    assert len(names(sessions)) == 5


def test_it_reports_a_missing_roster_file(run: Run, tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert failed(run("roster", "import", str(missing)), code=1).strip() == f"callout: {missing}: not found"


def test_it_names_the_teams_when_the_team_is_unknown(run: Run, tmp_path: Path) -> None:
    errors = failed(run("roster", "import", str(tmp_path / "roster.toml"), "--team", "midland"))
    assert errors.strip() == "callout: unknown team 'midland' (teams: odessa)"


def test_it_asks_for_a_team_when_several_are_configured(run: Run, tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url, ("odessa", "midland"))
    errors = failed(run("roster", "import", str(tmp_path / "roster.toml"), config_path=config))
    assert "several teams are configured (odessa, midland): name one with --team" in errors
    ok(run("roster", "import", str(tmp_path / "roster.toml"), "--team", "midland", config_path=config))
    assert "midland peer support (midland): 5 active members" in ok(run("roster", "list", config_path=config))


def test_it_lists_the_roster(run: Run, tmp_path: Path, sessions: sessionmaker[Session]) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    with sessions.begin() as session:
        lee = session.scalars(select(Member).where(Member.name == "Sgt. Lee Park")).one()
        lee.away_until = NOW.replace(hour=20)
    output = ok(run("roster", "list"))
    assert "NAME" in output and "SKILLS" in output and "AWAY" in output
    lines = output.splitlines()
    dana = next(line for line in lines if "Dana" in line)
    assert "peer" in dana and "+14325550101" in dana and "post-shooting" in dana and "yes" in dana
    assert "away until Tue 2026-03-10 15:00 CDT" in next(line for line in lines if "Lee" in line)


def test_it_shows_who_is_on_call_in_paging_order(run: Run, tmp_path: Path) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    output = ok(run("oncall"))
    assert "shift: Tue 2026-03-10 07:00 CDT to Wed 2026-03-11 07:00 CDT" in output
    assert (
        output.index("1. Ofc. Dana Rivera") < output.index("2. Sgt. Lee Park") < output.index("3. Det. Kim")
    )
    assert "psychologist: Dr. Ana Cruz" in output and "director: Lt. Ray Ortiz" in output
    tomorrow = ok(run("oncall", "--at", "2026-03-11T07:00"))
    assert tomorrow.index("1. Sgt. Lee Park") < tomorrow.index("2. Det. Kim") < tomorrow.index("3. Ofc. Dana")
    assert "1. Sgt. Lee Park" in ok(run("oncall", "--at", "2026-03-11T12:00:00Z"))


def test_it_shows_an_away_until_back_as_such_and_the_away_fallback_as_skipped(
    run: Run, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    with sessions.begin() as session:
        for name in ("Sgt. Lee Park", "Dr. Ana Cruz"):
            member = session.scalars(select(Member).where(Member.name == name)).one()
            member.away_since, member.away_until = NOW, UNTIL_BACK  # AWAY without a length
    output = ok(run("oncall"))
    assert "skipped: Sgt. Lee Park, away until they text BACK" in output
    assert "psychologist: nobody" in output and "skipped: Dr. Ana Cruz, away until they text BACK" in output
    listing = ok(run("roster", "list"))
    assert "away until they text BACK" in next(line for line in listing.splitlines() if "Lee" in line)
    assert "9998" not in output + listing and "9999" not in output + listing
    gaps = run("oncall", "--check", "--days", "1")
    assert gaps.exit_code == 1
    assert (
        "NOW: Tue 2026-03-10 07:00 CDT to Wed 2026-03-11 07:00 CDT: no psychologist available" in gaps.output
    )


def test_it_rejects_a_bad_moment_in_one_line(run: Run) -> None:
    errors = failed(run("oncall", "--at", "tomorrow"))
    assert errors.strip() == (
        "callout: --at: expected an ISO-8601 date and time such as 2026-03-10T14:00, got 'tomorrow'"
    )


def test_it_checks_coming_shifts_for_gaps(run: Run, tmp_path: Path, sessions: sessionmaker[Session]) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    assert "every shift in the next 3 days has an available peer" in ok(
        run("oncall", "--check", "--days", "3")
    )
    with sessions.begin() as session:
        for member in session.scalars(select(Member).where(Member.role == "peer")):
            member.away_until = NOW.replace(day=11, hour=20)  # Wed 15:00 CDT
    result = run("oncall", "--check", "--days", "3")
    assert result.exit_code == 1
    assert "odessa: 2 coming shifts without cover" in result.output
    assert "Wed 2026-03-11 07:00 CDT to Thu 2026-03-12 07:00 CDT: no peer available" in result.output


def test_it_adds_lists_and_removes_overrides(
    run: Run, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    added = ok(
        run(
            "oncall",
            "override",
            "--member",
            "det. kim moss",
            "--from",
            "2026-03-10T09:00",
            "--to",
            "2026-03-10T19:00",
        )
    )
    assert "is primary from Tue 2026-03-10 09:00 CDT to Tue 2026-03-10 19:00 CDT" in added
    assert "1. Det. Kim Moss" in ok(run("oncall"))
    listed = ok(run("oncall", "overrides"))
    assert "Det. Kim Moss" in listed and "Tue 2026-03-10 19:00 CDT" in listed
    with sessions() as session:
        override_id = session.scalars(select(Override.id)).one()
    assert "removed override" in ok(run("oncall", "override-remove", str(override_id)))
    assert "1. Ofc. Dana Rivera" in ok(run("oncall"))
    assert (
        failed(run("oncall", "override-remove", str(override_id))).strip()
        == f"callout: no override {override_id}"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--member", "Nobody", "--from", "2026-03-10T09:00", "--to", "2026-03-10T19:00"],
            "no active member",
        ),
        (
            ["--member", "Dr. Ana Cruz", "--from", "2026-03-10T09:00", "--to", "2026-03-10T19:00"],
            "not an active peer",
        ),
        (["--member", "Sgt. Lee Park", "--from", "10 March", "--to", "2026-03-10T19:00"], "--from: expected"),
        (
            ["--member", "Sgt. Lee Park", "--from", "2026-03-10T19:00", "--to", "2026-03-10T09:00"],
            "end after",
        ),
    ],
)
def test_it_refuses_a_bad_override_in_one_line(
    run: Run, tmp_path: Path, args: list[str], message: str
) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    errors = failed(run("oncall", "override", *args))
    assert message in errors and len(errors.strip().splitlines()) == 1


def test_main_registers_the_roster_commands(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    code = "from cli import main; main(['--config', sys.argv[1], 'oncall', '--help'])"
    result = subprocess.run(
        [sys.executable, "-c", f"import sys; {code}", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "override-remove" in result.stdout


@pytest.mark.parametrize(
    "moment", ["9999-12-31T23:59", "0001-01-01T00:00", "0001-01-01T00:00+05:00", "9001-01-01T00:00Z"]
)
def test_it_refuses_a_moment_out_of_range_in_one_line(run: Run, moment: str) -> None:
    errors = failed(run("oncall", "--at", moment))
    assert errors.strip() == f"callout: --at: {moment!r} is out of range: use a year from 1970 to 9000"


def test_it_looks_at_the_far_edges_of_the_range(run: Run, tmp_path: Path) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    assert "shift: Wed 9000-12-31 07:00 CST to Thu 9001-01-01 07:00 CST" in ok(
        run("oncall", "--at", "9000-12-31T23:59")
    )
    assert "at Wed 1969-12-31 18:00 CST" in ok(run("oncall", "--at", "1970-01-01T00:00Z"))


@pytest.mark.parametrize("moment", ["", "  "])
def test_it_refuses_an_empty_moment_instead_of_taking_now(run: Run, moment: str) -> None:
    errors = failed(run("oncall", "--at", moment))
    assert errors.strip() == (
        f"callout: --at: expected an ISO-8601 date and time such as 2026-03-10T14:00, got {moment!r}"
    )
    assert failed(run("oncall", "--check", "--at", moment)).strip() == (
        "callout: --check looks ahead from now; leave out --at"
    )


@pytest.mark.parametrize("days", ["0", "367", "3000000", "-1"])
def test_it_refuses_to_check_further_than_a_year(run: Run, days: str) -> None:
    errors = failed(run("oncall", "--check", "--days", days))
    assert "Invalid value for '--days'" in errors and "1<=x<=366" in errors


def test_it_checks_a_whole_year(run: Run, tmp_path: Path) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    assert "every shift in the next 366 days has an available peer" in ok(
        run("oncall", "--check", "--days", "366")
    )


@pytest.mark.parametrize(
    ("start", "end", "option"),
    [
        ("2026-03-10T09:00", "9999-12-31T23:59", "--to"),
        ("0001-01-01T00:00", "2026-03-10T19:00", "--from"),
    ],
)
def test_it_refuses_an_override_out_of_range_and_adds_nothing(
    run: Run, tmp_path: Path, sessions: sessionmaker[Session], start: str, end: str, option: str
) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    errors = failed(run("oncall", "override", "--member", "Sgt. Lee Park", "--from", start, "--to", end))
    bad = end if option == "--to" else start
    assert errors.strip() == f"callout: {option}: {bad!r} is out of range: use a year from 1970 to 9000"
    with sessions() as session:
        assert session.scalars(select(Override)).all() == []


@pytest.mark.parametrize("override_id", ["99999999999999999999", str(2**63), "0"])
def test_it_says_there_is_no_override_with_an_id_no_database_holds(run: Run, override_id: str) -> None:
    errors = failed(run("oncall", "override-remove", override_id))
    assert errors.strip() == f"callout: no override {override_id}"


def test_it_refuses_a_roster_that_is_a_folder(run: Run, tmp_path: Path) -> None:
    folder = tmp_path / "rosters.toml"
    folder.mkdir()
    errors = failed(run("roster", "import", str(folder)))
    assert f"'{folder}' is a directory" in errors


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("latin.csv", "name,phone,role\nPeña,(432) 555-0101,peer\n".encode("latin-1"), "cannot be read:"),
        ("binary.toml", bytes(range(256)), "cannot be read:"),
        ("nul.toml", b"\0\0\0", "not valid TOML"),
        ("empty.toml", b"", "no members"),
        ("empty.csv", b"", "missing column 'name'"),
        ("huge.csv", b'name,phone,role\n"' + b"x" * 200_000 + b'",(432) 555-0101,peer\n', "field larger"),
    ],
)
def test_it_refuses_an_odd_roster_file_and_changes_nothing(
    run: Run, tmp_path: Path, sessions: sessionmaker[Session], name: str, content: bytes, message: str
) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    odd = tmp_path / name
    odd.write_bytes(content)
    errors = failed(run("roster", "import", str(odd)), code=1)
    assert str(odd) in errors and message in errors
    assert len(names(sessions)) == 5


def test_it_lists_a_team_without_members(run: Run) -> None:
    assert ok(run("roster", "list")).strip() == "odessa peer support (odessa): 0 active members"


# --- issue 10: the diff, the refusal that names the role, and one member at a time -----------------

ONE_LINE = '[[members]]\nname = "Ofc. Dana Rivera"\nphone = "(432) 555-0101"\nrole = "peer"\n'


def primary(run: Run) -> str:
    """Return the line `callout oncall` gives the primary."""
    return next(line.strip() for line in ok(run("oncall")).splitlines() if "(primary)" in line)


def test_an_import_prints_what_it_changes_by_name(run: Run, tmp_path: Path) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    changed = tmp_path / "changed.toml"
    changed.write_text(
        ROSTER.replace('name = "Det. Kim Moss"', 'name = "Det. Kim Moss-Lee"').replace(
            '[[members]]\nname = "Sgt. Lee Park"\nphone = "(432) 555-0102"\nrole = "peer"\n', ""
        )
        + '\n[[members]]\nname = "Ofc. New Peer"\nphone = "(432) 555-0199"\nrole = "peer"\n'
    )
    output = ok(run("roster", "import", str(changed)))
    assert "1 added, 1 updated, 1 deactivated, 3 unchanged" in output
    assert "  added: Ofc. New Peer\n" in output
    assert "  updated: Det. Kim Moss-Lee (name was Det. Kim Moss)\n" in output
    assert "  deactivated: Sgt. Lee Park\n" in output


def test_a_dry_run_prints_the_diff_and_changes_nothing(
    run: Run, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    smaller = tmp_path / "smaller.toml"
    smaller.write_text(
        ROSTER.replace(
            'name = "Det. Kim Moss"\nphone = "(432) 555-0103"',
            'name = "Det. Kim Moss"\nphone = "(432) 555-0106"',
        )
    )
    output = ok(run("roster", "import", str(smaller), "--dry-run"))
    assert "dry run of" in output and "nothing was changed" in output
    assert "added: Det. Kim Moss" in output and "deactivated: Det. Kim Moss" in output
    assert len(names(sessions)) == 5 and names(sessions, active=False) == []


def test_an_import_that_would_empty_a_role_is_refused_naming_it_unless_forced(
    run: Run, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    one = tmp_path / "one.toml"
    one.write_text(ONE_LINE)
    for extra in ((), ("--dry-run",)):
        result = run("roster", "import", str(one), *extra)
        errors = failed(result, code=1)
        assert "no active psychologist (Dr. Ana Cruz would be deactivated)" in errors
        assert "no active director (Lt. Ray Ortiz would be deactivated)" in errors and "--force" in errors
        assert "deactivated: Sgt. Lee Park, Det. Kim Moss, Dr. Ana Cruz, Lt. Ray Ortiz" in result.stdout
        assert len(errors.strip().splitlines()) == 1
    assert len(names(sessions)) == 5
    assert "4 deactivated" in ok(run("roster", "import", str(one), "--force"))
    assert names(sessions) == ["Ofc. Dana Rivera"]


def test_roster_add_puts_one_member_last_with_the_files_checks(
    run: Run, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    before = primary(run)
    add = ("roster", "add", "--team", "odessa", "--name", "Ofc. New Peer", "--phone", "(432) 555-0199")
    output = ok(run(*add, "--role", "peer", "--skill", "Grief", "--skill", "post-shooting"))
    assert output.strip() == "odessa: added Ofc. New Peer (peer, +14325550199)"
    assert names(sessions)[-1] == "Ofc. New Peer" and primary(run) == before
    listing = next(line for line in ok(run("roster", "list")).splitlines() if "New Peer" in line)
    assert "grief, post-shooting" in listing
    assert "already on the roster as Ofc. New Peer" in failed(run(*add, "--role", "peer"), code=1)
    errors = failed(run("roster", "add", "--name", "X", "--phone", "12", "--role", "cop"), code=1)
    assert "2 problems; nothing was changed" in errors and "unknown role 'cop'" in errors
    assert len(names(sessions)) == 6


def test_roster_deactivate_and_activate_one_member_by_name_or_phone(
    run: Run, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    before = primary(run)
    assert ok(run("roster", "deactivate", "Moss")).strip() == "odessa: deactivated Det. Kim Moss (peer)"
    assert names(sessions, active=False) == ["Det. Kim Moss"] and primary(run) == before
    assert "already inactive" in ok(run("roster", "deactivate", "+1 432 555 0103"))
    assert ok(run("roster", "activate", "(432) 555-0103")).strip() == "odessa: activated Det. Kim Moss (peer)"
    assert names(sessions, active=False) == [] and primary(run) == before


def test_an_ambiguous_name_lists_the_candidates_and_changes_nothing(
    run: Run, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    errors = failed(run("roster", "deactivate", "Ra"))  # in Dana Rivera and in Ray Ortiz
    assert "2 members of odessa match 'Ra': give the phone number" in errors
    assert "  Ofc. Dana Rivera  +14325550101  (peer)" in errors
    assert "  Lt. Ray Ortiz  +14325550105  (director)" in errors
    assert "nobody on odessa's roster is named 'Nobody'" in failed(run("roster", "activate", "Nobody"))
    assert names(sessions, active=False) == []


def test_deactivating_the_last_director_is_refused_naming_the_role_unless_forced(
    run: Run, tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    ok(run("roster", "import", str(tmp_path / "roster.toml")))
    errors = failed(run("roster", "deactivate", "Lt. Ray Ortiz"), code=1)
    assert errors.strip() == (
        "callout: roster deactivate 'Lt. Ray Ortiz': refused: it would leave odessa with no active director"
        " (Lt. Ray Ortiz would be deactivated); nothing was changed. Add or activate another first, or run"
        " again with --force."
    )
    assert names(sessions, active=False) == []
    ok(run("roster", "deactivate", "Lt. Ray Ortiz", "--force"))
    assert names(sessions, active=False) == ["Lt. Ray Ortiz"]
