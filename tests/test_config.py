"""Configuration: defaults, the example file, and one clear message per bad value."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

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


def test_it_reports_a_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken, env={})


def test_the_cli_prints_one_line_for_a_bad_config(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from callout.cli import cli, main  # noqa: F401

    bad = tmp_path / "config.toml"
    bad.write_text('[server]\npublic_url = "nope"\n')
    result = CliRunner().invoke(cli, ["--config", str(bad), "db", "upgrade"])
    assert result.exit_code == 2
    assert "server.public_url" in result.output and "Traceback" not in result.output
