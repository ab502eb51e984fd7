"""Configuration: defaults, the example file, and one clear message per bad value."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from callout import durations
from callout.config import ConfigError, load_config, parse_config, parse_duration
from callout.crypto import new_key

ROOT = Path(__file__).resolve().parent.parent


def team(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"slug": "odessa", "name": "Odessa", "support_number": "+14325550100"}
    base.update(overrides)
    return base


def test_it_uses_embedded_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    assert config.server.database_url == "sqlite:///callout.db"
    assert not config.twilio.enabled
    assert config.teams == ()


def test_it_reads_the_example_file_and_resolves_paths_beside_it() -> None:
    config = load_config(ROOT / "config.example.toml", env={})
    odessa = config.team("odessa")
    assert odessa.escalation.ack_timeout == timedelta(minutes=5)
    assert odessa.escalation.fallback == ("psychologist", "director")
    assert odessa.roster == ROOT / "roster-odessa.toml"
    assert config.server.database_url == f"sqlite:///{ROOT / 'callout.db'}"


def test_the_console_section_has_defaults_and_reads_its_secret_from_the_environment() -> None:
    config = parse_config({}, env={})
    assert config.console.session_timeout == timedelta(minutes=30)
    assert not config.console.require_totp and config.console.secret_key == ""
    secret = "a console secret from the environment"
    assert parse_config({}, env={"CALLOUT_CONSOLE_SECRET": secret}).console.secret_key == secret
    example = load_config(ROOT / "config.example.toml", env={})
    assert example.console.lockout == timedelta(minutes=15) and example.console.user_attempts == 5


def test_it_takes_secrets_from_the_environment() -> None:
    key = new_key()
    env = {
        "TWILIO_ACCOUNT_SID": "AC" + "2" * 32,
        "TWILIO_AUTH_TOKEN": "tok",
        "CALLOUT_DATA_KEY": key,
        "CALLOUT_DISPATCH_TOKEN_ODESSA": "bearer",
    }
    config = parse_config({"teams": [team()]}, env)
    assert config.twilio.enabled and config.twilio.auth_token == "tok"
    assert config.privacy.data_key == key
    assert config.team("odessa").dispatch_token == "bearer"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"server": {"public_url": "peer.example.org"}}, "server.public_url"),
        ({"server": {"database_url": "mysql://x"}}, "server.database_url"),
        ({"server": {"tick": "5s"}}, "server.tick"),
        ({"server": {"verify_signatures": "yes"}}, "server.verify_signatures"),
        ({"server": {"colour": "blue"}}, "server.colour"),
        ({"twilio": {"account_sid": "AC1"}}, "twilio.auth_token"),
        ({"twilio": {"account_sid": "AC1", "auth_token": "t"}}, "privacy.data_key"),
        ({"privacy": {"data_key": "not-a-key"}}, "privacy.data_key"),
        ({"privacy": {"purge_after": "soon"}}, "privacy.purge_after"),
        ({"teams": [team(timezone="Mars/Olympus")]}, "teams[0].timezone"),
        ({"teams": [team(handoff="7am")]}, "teams[0].handoff"),
        ({"teams": [team(support_number="12")]}, "teams[0].support_number"),
        ({"teams": [team(slug="Odessa PD")]}, "teams[0].slug"),
        ({"teams": [team(escalation={"ack_timeout": "5 minutes"})]}, "teams[0].escalation.ack_timeout"),
        ({"teams": [team(escalation={"peers": 0})]}, "teams[0].escalation.peers"),
        ({"teams": [team(escalation={"fallback": ["chaplain"]})]}, "teams[0].escalation.fallback"),
        ({"teams": [team(escalation={"ack_timeout": 0})]}, "teams[0].escalation.ack_timeout"),
        ({"teams": [team(), team(slug="midland")]}, "teams[1].support_number"),
        ({"teams": [team(debrief={"min_responders": -1})]}, "teams[0].debrief.min_responders"),
        ({"unknown": {}}, "unknown"),
        ({"teams": [team(escalation={"ack_timeout": 10**17})]}, "teams[0].escalation.ack_timeout"),
        ({"teams": [team(escalation={"ack_timeout": 10**400})]}, "teams[0].escalation.ack_timeout"),
        ({"teams": [team(escalation={"ack_timeout": float("inf")})]}, "teams[0].escalation.ack_timeout"),
        ({"teams": [team(escalation={"ack_timeout": float("nan")})]}, "teams[0].escalation.ack_timeout"),
        ({"teams": [team(escalation={"ack_timeout": "9" * 400 + "d"})]}, "teams[0].escalation.ack_timeout"),
        ({"teams": [team(debrief={"window": "366d"})]}, "teams[0].debrief.window"),
        ({"privacy": {"purge_after": 1e20}}, "privacy.purge_after"),
        ({"teams": [team(timezone="America")]}, "teams[0].timezone"),
        ({"teams": [team(timezone="America/")]}, "teams[0].timezone"),
        ({"teams": [team(timezone="a\0b")]}, "teams[0].timezone"),
        ({"teams": [team(timezone="x" * 300)]}, "teams[0].timezone"),
        ({"twilio": {"timeout": "0.5s"}}, "twilio.timeout"),
        ({"twilio": {"timeout": "31s"}}, "twilio.timeout"),
        ({"twilio": {"timeout": "2m"}}, "twilio.timeout"),
        ({"twilio": {"messaging_service_sid": "MG" + "a" * 32 + "\n"}}, "twilio.messaging_service_sid"),
        ({"teams": [team(escalation={"reminder_after": "72h"})]}, "teams[0].escalation.reminder_after"),
        (
            {
                "privacy": {"close_after": "1h"},
                "teams": [team(), team(slug="midland", support_number="+14325550199")],
            },
            "teams[0].escalation.reminder_after",
        ),
        ({"teams": [team(content_areas=["work", "ot"])]}, "teams[0].content_areas"),
        ({"teams": [team(content_areas=["OT"])]}, "teams[0].content_areas"),
        ({"teams": [team(content_areas=["work", "grief", "work"])]}, "teams[0].content_areas"),
        ({"teams": [team(content_areas=["Work", "work"])]}, "teams[0].content_areas"),
        ({"teams": [team(content_areas=["critical incident"])]}, "teams[0].content_areas"),
        ({"teams": [team(content_areas=["grief\n"])]}, "teams[0].content_areas"),
        ({"teams": [team(content_areas=["work,"])]}, "teams[0].content_areas"),
        ({"teams": [team(content_areas=["fear"])]}, "teams[0].content_areas"),
        ({"teams": [team(content_areas=[])]}, "teams[0].content_areas"),
        ({"teams": [team(slug="odessa\n")]}, "teams[0].slug"),
        ({"teams": [team(handoff="07:00\n")]}, "teams[0].handoff"),
        ({"teams": [team(roster="roster\0.toml")]}, "teams[0].roster"),
        ({"console": {"session_timeout": "soon"}}, "console.session_timeout"),
        ({"console": {"session_timeout": "10s"}}, "console.session_timeout"),
        ({"console": {"session_timeout": "3d"}}, "console.session_timeout"),
        ({"console": {"require_totp": "yes"}}, "console.require_totp"),
        ({"console": {"user_attempts": 0}}, "console.user_attempts"),
        ({"console": {"address_attempts": "many"}}, "console.address_attempts"),
        ({"console": {"lockout": "0"}}, "console.lockout"),
        ({"console": {"secret_key": "short"}}, "console.secret_key"),
        ({"console": {"proxies": -1}}, "console.proxies"),
        ({"console": {"timeout": "30m"}}, "console.timeout"),
    ],
)
def test_it_names_the_key_of_a_bad_value(data: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(data, env={})
    assert str(error.value).startswith(key + ":")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("5m", 300), ("2h", 7200), ("1d", 86400), (45, 45), ("0", 0), ("250ms", 0.25)],
)
def test_it_parses_durations(text: object, seconds: float) -> None:
    assert parse_duration(text, "k") == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (10**17, "k: must be at most 365d, got 100000000000000000"),
        (float("inf"), "k: must be at most 365d, got inf"),
        ("366d", "k: must be at most 365d, got '366d'"),
        (float("nan"), 'k: expected a duration such as "90s", "5m" or "2h", got nan'),
        (float("-inf"), "k: a duration cannot be negative, got -inf"),
    ],
)
def test_it_refuses_a_duration_no_calendar_holds(value: object, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_duration(value, "k")
    assert str(error.value) == message


def test_it_takes_durations_up_to_a_year() -> None:
    assert parse_duration("365d", "k") == timedelta(days=365)
    assert parse_duration(365 * 86400, "k") == timedelta(days=365)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (0.25, "250ms"), (90, "90s"), (300, "5m"), (7200, "2h"), (259200, "3d")]
)
def test_it_formats_durations_as_the_file_writes_them(seconds: float, text: str) -> None:
    assert durations.toml(timedelta(seconds=seconds)) == text
    assert parse_duration(text, "k") == timedelta(seconds=seconds)


def test_it_explains_the_new_limits_in_the_message() -> None:
    def message(data: dict[str, Any]) -> str:
        with pytest.raises(ConfigError) as error:
            parse_config(data, env={})
        return str(error.value)

    assert message({"twilio": {"timeout": "45s"}}) == (
        "twilio.timeout: must be between 1s and 30s (a page a crash interrupted is sent again after"
        " twice this), got 45s"
    )
    assert message({"privacy": {"close_after": "2h"}, "teams": [team()]}) == (
        "teams[0].escalation.reminder_after: 2h must be shorter than privacy.close_after (2h),"
        " else no reminder is ever sent"
    )
    assert message({"teams": [team(content_areas=["work", "ot"])]}) == (
        "teams[0].content_areas: 'ot' cannot be an area: DONE ... OT means overtime"
    )
    assert message({"teams": [team(content_areas=["work", "Work"])]}) == (
        "teams[0].content_areas: 'work' is listed twice"
    )
    assert message({"teams": [team(timezone="America")]}) == (
        "teams[0].timezone: unknown time zone 'America'"
    )


def test_it_accepts_the_edges_of_the_new_limits() -> None:
    config = parse_config(
        {
            "twilio": {"timeout": "30s"},
            "privacy": {"close_after": "2h"},
            "teams": [team(escalation={"reminder_after": "119m"}, content_areas=["Work", "peer_2", "x-1"])],
        },
        env={},
    )
    assert config.twilio.timeout == timedelta(seconds=30)
    assert config.team("odessa").content_areas == ("work", "peer_2", "x-1")
    assert parse_config({"twilio": {"timeout": 1}}, env={}).twilio.timeout == timedelta(seconds=1)


def test_it_reports_a_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken, env={})


def test_it_reports_a_config_file_that_cannot_be_read(tmp_path: Path) -> None:
    latin = tmp_path / "latin.toml"
    latin.write_bytes('[[teams]]\nname = "Peñasco"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as error:
        load_config(latin, env={})
    assert str(error.value) == f"config file {latin}: not UTF-8 text (line 2); save it as UTF-8"
    with pytest.raises(ConfigError) as error:
        load_config(None, env={"CALLOUT_CONFIG": str(tmp_path)})
    assert str(error.value) == f"config file {tmp_path}: is a folder, not a file"
    with pytest.raises(ConfigError) as error:
        load_config(latin / "config.toml", env={})  # a file where a folder should be: NotADirectoryError
    assert str(error.value) == f"config file {latin / 'config.toml'}: cannot be read: Not a directory"


def test_it_reports_a_config_toml_that_is_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").mkdir()
    with pytest.raises(ConfigError, match=r"config\.toml: is a folder"):
        load_config(env={})


def test_the_cli_prints_one_line_for_a_bad_config(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli import cli, main  # noqa: F401

    bad = tmp_path / "config.toml"
    bad.write_text('[server]\npublic_url = "nope"\n')
    result = CliRunner().invoke(cli, ["--config", str(bad), "db", "upgrade"])
    assert result.exit_code == 2
    assert "server.public_url" in result.output and "Traceback" not in result.output


def test_signatures_can_be_turned_off_only_without_a_twilio_account() -> None:
    unsigned = {"server": {"verify_signatures": False}}
    assert parse_config(unsigned, env={}).server.verify_signatures is False  # the console transport
    with pytest.raises(ConfigError) as error:
        account = {"account_sid": "AC" + "1" * 32, "auth_token": "t"}
        parse_config({**unsigned, "twilio": account, "privacy": {"data_key": new_key()}}, env={})
    assert str(error.value).startswith("server.verify_signatures: must be true when a Twilio account is set")
