"""The `user` commands: the console's users from the command line, each change in the audit log."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import select

from callout.db import make_engine, make_sessionmaker
from callout.models import AuditEntry, ConsoleUser
from cli import cli
from tests.test_cli_basics import failed, write_config

PASSWORD = "correct horse battery"


def invoke(config: Path, *args: str, stdin: str | None = None) -> Result:
    """Run `callout --config CONFIG ARGS` with stdin."""
    return CliRunner().invoke(
        cli, ["--config", str(config), *args], input=stdin, env={"CALLOUT_CONFIG": None}
    )


def rows(config: Path, model: type) -> list:  # type: ignore[type-arg]
    engine = make_engine(f"sqlite:///{config.parent / 'callout.db'}")
    try:
        with make_sessionmaker(engine)() as session:
            return list(session.scalars(select(model)))
    finally:
        engine.dispose()


def test_user_add_reads_one_line_of_stdin_and_hashes_it(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    result = invoke(
        config,
        "user",
        "add",
        "Lt.Nguyen",
        "--role",
        "director",
        "--team",
        "odessa",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "added lt.nguyen: director of odessa\n"
    (user,) = rows(config, ConsoleUser)
    assert user.username == "lt.nguyen" and user.role == "director"
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    (entry,) = rows(config, AuditEntry)
    assert entry.via == "cli" and entry.action == "user.add" and "lt.nguyen" in entry.summary


def test_an_admin_needs_no_team_and_the_others_need_one(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    ok = invoke(config, "user", "add", "root", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    assert ok.exit_code == 0 and ok.stdout == "added root: admin\n"
    line = failed(
        invoke(config, "user", "add", "desk", "--role", "dispatch", "--password-stdin", stdin=PASSWORD), 2
    )
    assert line == "callout: a dispatch user belongs to one team: give --team (teams: odessa)"
    line = failed(
        invoke(
            config,
            "user",
            "add",
            "x",
            "--role",
            "viewer",
            "--team",
            "nope",
            "--password-stdin",
            stdin=PASSWORD,
        ),
        2,
    )
    assert line.startswith("callout: unknown team 'nope'")


def test_bad_names_passwords_and_duplicates_get_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    add = ("user", "add", "desk", "--role", "viewer", "--team", "odessa", "--password-stdin")
    assert failed(invoke(config, *add, stdin="short\n"), 2) == (
        "callout: the password must have at least 10 characters"
    )
    assert failed(invoke(config, *add, stdin=""), 2).startswith(
        "callout: --password-stdin: standard input held"
    )
    assert invoke(config, *add, stdin=PASSWORD).exit_code == 0
    assert failed(invoke(config, *add, stdin=PASSWORD), 2) == "callout: there is already a user named 'desk'"
    bad = invoke(config, "user", "add", "no spaces", *add[3:], stdin=PASSWORD)
    assert "cannot be a user name" in failed(bad, 2)


def test_without_stdin_or_a_terminal_it_says_how_to_give_the_password(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    line = failed(invoke(config, "user", "add", "desk", "--role", "viewer", "--team", "odessa"), 2)
    assert "--password-stdin" in line


def test_user_list_remove_and_password(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    invoke(config, "user", "add", "root", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    invoke(
        config,
        "user",
        "add",
        "desk",
        "--role",
        "dispatch",
        "--team",
        "odessa",
        "--password-stdin",
        stdin=PASSWORD,
    )
    listed = invoke(config, "user", "list")
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["USER", "ROLE", "TEAM", "LAST", "LOGIN", "2FA"]
    assert lines[1].split()[:3] == ["desk", "dispatch", "odessa"] and "never" in lines[1]
    assert lines[2].split()[:2] == ["root", "admin"]
    (before,) = [u.password_hash for u in rows(config, ConsoleUser) if u.username == "desk"]
    changed = invoke(config, "user", "password", "DESK", "--password-stdin", stdin="another long password")
    assert changed.exit_code == 0 and changed.stdout == "desk: password set\n"
    (after,) = [u for u in rows(config, ConsoleUser) if u.username == "desk"]
    assert after.password_hash != before and after.session_version == 1
    assert invoke(config, "user", "remove", "desk").stdout == "removed desk (dispatch)\n"
    assert failed(invoke(config, "user", "remove", "desk"), 2) == "callout: no user named 'desk'"
    assert failed(invoke(config, "user", "password", "desk", "--password-stdin", stdin=PASSWORD), 2) == (
        "callout: no user named 'desk'"
    )
    actions = [e.action for e in rows(config, AuditEntry)]
    assert actions == ["user.add", "user.add", "user.password", "user.remove"]


def test_user_list_says_how_to_make_the_first_admin(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    assert "callout user add NAME --role admin" in invoke(config, "user", "list").stdout


def test_roster_and_override_commands_are_in_the_audit_log(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    team = ("--team", "odessa")
    people = [
        ("Ofc. A", "(432) 555-0181", "peer"),
        ("Ofc. B", "(432) 555-0182", "peer"),
        ("Dr. P", "(432) 555-0183", "psychologist"),
        ("Lt. D", "(432) 555-0184", "director"),
    ]
    for name, phone, role in people:
        result = invoke(config, "roster", "add", *team, "--name", name, "--phone", phone, "--role", role)
        assert result.exit_code == 0, result.output
    assert invoke(config, "roster", "deactivate", *team, "Ofc. B").exit_code == 0
    assert invoke(config, "roster", "activate", *team, "Ofc. B").exit_code == 0
    override = invoke(
        config,
        "oncall",
        "override",
        *team,
        "--member",
        "Ofc. B",
        "--from",
        "2099-01-01T07:00",
        "--to",
        "2099-01-02T07:00",
    )
    assert override.exit_code == 0, override.output
    assert invoke(config, "oncall", "override-remove", "1").exit_code == 0
    roster = tmp_path / "roster.toml"
    roster.write_text(
        "".join(f'[[members]]\nname = "{n}"\nphone = "{p}"\nrole = "{r}"\n' for n, p, r in people)
    )
    assert invoke(config, "roster", "import", str(roster), *team, "--dry-run").exit_code == 0
    assert invoke(config, "roster", "import", str(roster), *team).exit_code == 0
    entries = rows(config, AuditEntry)
    assert [e.action for e in entries] == [
        "roster.add",
        "roster.add",
        "roster.add",
        "roster.add",
        "roster.deactivate",
        "roster.activate",
        "override.add",
        "override.remove",
        "roster.import",
    ]
    assert all(e.via == "cli" for e in entries)
    assert "Ofc. B primary Thu 01 Jan 07:00 to Fri 02 Jan 07:00" in entries[6].summary


def test_user_password_and_user_remove_end_the_users_console_sessions(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from callout import logins, users
    from callout.models import ConsoleLogin

    config = write_config(tmp_path, "")
    for name in ("desk", "night.desk"):
        add = ("user", "add", name, "--role", "dispatch", "--team", "odessa", "--password-stdin")
        assert invoke(config, *add, stdin=PASSWORD).exit_code == 0
    engine = make_engine(f"sqlite:///{config.parent / 'callout.db'}")
    try:
        with make_sessionmaker(engine)() as session, session.begin():
            for name in ("desk", "desk", "night.desk"):  # desk on two browsers
                user = users.find(session, name)
                assert user is not None
                logins.start(session, datetime.now(UTC), user)
    finally:
        engine.dispose()

    def open_for() -> list[int]:
        return sorted(login.user_id for login in rows(config, ConsoleLogin))

    desk, night = (u.id for u in sorted(rows(config, ConsoleUser), key=lambda u: u.username))
    assert open_for() == [desk, desk, night]
    assert (
        invoke(
            config, "user", "password", "desk", "--password-stdin", stdin="another long password"
        ).exit_code
        == 0
    )
    assert open_for() == [night]
    assert invoke(config, "user", "remove", "night.desk").exit_code == 0
    assert open_for() == []
