"""The keygen, db upgrade and report commands, and the one-line errors every command gives for bad setup."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet

from callout.crypto import check_key
from cli import cli

TEAM = '[[teams]]\nslug = "{slug}"\nsupport_number = "+14325550100"\n'


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    """Run `callout ARGS` with click's runner, CALLOUT_CONFIG unset unless env sets it."""
    return CliRunner().invoke(cli, list(args), env={"CALLOUT_CONFIG": None, **(env or {})})


def failed(result: Result, code: int) -> str:
    """Assert the command exited with code and one line on stderr, no traceback; return that line."""
    assert result.exit_code == code, result.output
    assert not isinstance(result.exception, Exception)
    assert "Traceback" not in result.output and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def write_config(folder: Path, body: str, database: str = "callout.db", slug: str = "odessa") -> Path:
    """Write a config file with a SQLite database beside it, one team and body; return its path."""
    path = folder / "config.toml"
    path.write_text(f'[server]\ndatabase_url = "sqlite:///{database}"\n{TEAM.format(slug=slug)}{body}\n')
    return path


# --- keygen -------------------------------------------------------------------------------------


def test_keygen_prints_a_new_fernet_key_each_time() -> None:
    first, second = invoke("keygen"), invoke("keygen")
    assert first.exit_code == 0 and second.exit_code == 0
    key = first.stdout.strip()
    assert first.stdout == key + "\n"
    check_key(key)
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"+14325550101")) == b"+14325550101"
    assert second.stdout.strip() != key


# --- db upgrade ---------------------------------------------------------------------------------


def test_db_upgrade_says_it_created_the_schema_then_that_it_is_up_to_date(tmp_path: Path) -> None:
    from callout.db import MIGRATIONS

    head = max(path.name[:4] for path in (MIGRATIONS / "versions").glob("0*.py"))
    config = write_config(tmp_path, "")
    said = []
    for _ in range(2):
        result = invoke("--config", str(config), "db", "upgrade")
        assert result.exit_code == 0, result.output
        said.append(result.stdout)
    assert said == [f"created the schema at revision {head}\n", f"database is up to date (revision {head})\n"]
    with sqlite3.connect(tmp_path / "callout.db") as connection:
        slugs = connection.execute("SELECT slug FROM teams").fetchall()
    assert slugs == [("odessa",)]


@pytest.mark.parametrize(
    ("database", "reason"),
    [
        ("missing/callout.db", "unable to open database file"),
        (".", "unable to open database file"),
        ("notes.txt", "file is not a database"),
    ],
)
def test_db_upgrade_says_in_one_line_when_the_database_cannot_be_opened(
    tmp_path: Path, database: str, reason: str
) -> None:
    (tmp_path / "notes.txt").write_text("not a database, but long enough to look like one's header\n" * 20)
    config = write_config(tmp_path, "", database=database)
    line = failed(invoke("--config", str(config), "db", "upgrade"), code=1)
    where = f"sqlite:///{(tmp_path / database).resolve().as_posix()}"
    assert line == f"callout: cannot open the database {where}: {reason}"


def test_db_upgrade_names_the_key_of_an_unknown_database_driver(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[server]\ndatabase_url = "sqlite+nodriver:///callout.db"\n')
    line = failed(invoke("--config", str(config), "db", "upgrade"), code=2)
    assert line.startswith("callout: configuration error: server.database_url: cannot be used: ")


def test_db_upgrade_says_from_which_revision_it_migrated(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from callout.db import MIGRATIONS, make_engine, revision

    config = write_config(tmp_path, "")
    assert invoke("--config", str(config), "db", "upgrade").exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'callout.db'}")
    head = revision(engine)
    alembic = AlembicConfig()
    alembic.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        alembic.attributes["connection"] = connection
        command.downgrade(alembic, "-1")
    older = revision(engine)
    engine.dispose()
    assert older is not None and older != head
    result = invoke("--config", str(config), "db", "upgrade")
    assert result.stdout == f"migrated the schema from revision {older} to {head}\n"


def test_db_upgrade_hides_the_password_of_a_database_it_cannot_reach(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    url = "postgresql+psycopg://callout:s3cret@127.0.0.1:1/callout"  # port 1: nothing listens there
    config.write_text(f'[server]\ndatabase_url = "{url}"\n')
    line = failed(invoke("--config", str(config), "db", "upgrade"), code=1)
    assert line.startswith("callout: cannot open the database postgresql+psycopg://callout:***@127.0.0.1:1/")
    assert "s3cret" not in line


def test_db_upgrade_refuses_a_database_from_a_newer_callout(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    assert invoke("--config", str(config), "db", "upgrade").exit_code == 0
    with sqlite3.connect(tmp_path / "callout.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    line = failed(invoke("--config", str(config), "db", "upgrade"), code=1)
    assert line.startswith("callout: cannot upgrade the database sqlite:///")
    assert "Can't locate revision identified by '9999_from_the_future'" in line


def test_it_explains_a_renamed_team_that_clashes_with_its_old_row(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    assert invoke("--config", str(config), "db", "upgrade").exit_code == 0
    renamed = write_config(tmp_path, "", slug="midland")
    line = failed(invoke("--config", str(renamed), "roster", "list"), code=1)
    assert line.startswith("callout: cannot record the configured teams in the database sqlite:///")
    assert "support_number" in line and "was a slug renamed?" in line


# --- configuration errors through the command line ----------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "[teams.escalation]\nack_timeout = 100000000000000000",
            "teams[0].escalation.ack_timeout: must be at most 365d, got 100000000000000000",
        ),
        ("[teams.escalation]\nack_timeout = inf", "teams[0].escalation.ack_timeout: must be at most 365d"),
        ("[teams.escalation]\nack_timeout = nan", "teams[0].escalation.ack_timeout: expected a duration"),
        ('timezone = "America"', "teams[0].timezone: unknown time zone 'America'"),
        ('[twilio]\ntimeout = "60s"', "twilio.timeout: must be between 1s and 30s"),
        (
            '[teams.escalation]\nreminder_after = "3d"',
            "teams[0].escalation.reminder_after: 3d must be shorter",
        ),
        ('content_areas = ["work", "ot"]', "teams[0].content_areas: 'ot' cannot be an area"),
    ],
)
def test_a_bad_value_gives_one_line_naming_its_key(tmp_path: Path, body: str, message: str) -> None:
    if body.startswith("[twilio]"):  # a table of its own: it must come before [[teams]]
        config = tmp_path / "config.toml"
        config.write_text(f"{body}\n{TEAM.format(slug='odessa')}")
    else:
        config = write_config(tmp_path, body)
    line = failed(invoke("--config", str(config), "oncall"), code=2)
    assert line.startswith(f"callout: configuration error: {message}")
    assert not (tmp_path / "callout.db").exists()


def test_a_config_file_that_is_not_utf8_gives_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(b'[[teams]]\nname = "Pe\xf1asco"\n')
    line = failed(invoke("--config", str(config), "oncall"), code=2)
    assert line == (
        f"callout: configuration error: config file {config}: not UTF-8 text (line 2); save it as UTF-8"
    )


def test_callout_config_naming_a_folder_gives_one_line(tmp_path: Path) -> None:
    line = failed(invoke("oncall", env={"CALLOUT_CONFIG": str(tmp_path)}), code=2)
    assert line == f"callout: configuration error: config file {tmp_path}: is a folder, not a file"


def test_callout_config_naming_a_missing_file_gives_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    line = failed(invoke("oncall", env={"CALLOUT_CONFIG": str(missing)}), code=2)
    assert line == f"callout: configuration error: config file {missing}: not found"


# --- report dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "option"),
    [("0001-01-01", "2026-03-31", "--from"), ("2026-03-01", "9999-12-31", "--to")],
)
def test_report_refuses_a_day_out_of_range_in_one_line(
    tmp_path: Path, start: str, end: str, option: str
) -> None:
    config = write_config(tmp_path, "")
    line = failed(invoke("--config", str(config), "report", "--from", start, "--to", end), code=2)
    bad = start if option == "--from" else end
    assert line == f"callout: {option} {bad!r} is out of range: use a year from 1970 to 9000"
