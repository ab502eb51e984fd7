"""The station poster and the wallet card: the number, the crisis lines, the limits, and no member's phone."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
import segno
from click.testing import CliRunner, Result

from callout import durations, messages
from callout.config import load_config
from callout.papers import CARD_COMMANDS
from cli import cli

LIMITS = "Peer support here is confidential except for a threat of harm to anyone, or a crime."
MEMBERS = [
    ("Ofc. Dana Rivera", "(432) 555-0101", "peer"),
    ("Dr. Anita Patel", "432.555.0104", "psychologist"),
    ("Lt. Sam Nguyen", "+1 432 555 0105", "director"),
]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"CALLOUT_CONFIG": None})


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A config with one team whose roster (two members) is imported into its database."""
    roster = "".join(f'[[members]]\nname = "{n}"\nphone = "{p}"\nrole = "{r}"\n\n' for n, p, r in MEMBERS)
    (tmp_path / "roster.toml").write_text(roster)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[server]\ndatabase_url = "sqlite:///{tmp_path / "callout.db"}"\n[privacy]\npurge_after = "48h"\n'
        '[[teams]]\nslug = "odessa"\nname = "Odessa PD Peer Support"\nsupport_number = "+14325550100"\n'
        f'roster = "roster.toml"\nconfidentiality_limits = "{LIMITS}"\n'
        '[teams.escalation]\nack_timeout = "4m"\n'
    )
    assert invoke("--config", str(path), "roster", "import", str(tmp_path / "roster.toml")).exit_code == 0
    return path


def no_member_phone(html: str) -> None:
    digits = re.sub(r"\D", "", html)
    for _, phone, _ in MEMBERS:
        assert re.sub(r"\D", "", phone)[-7:] not in digits, phone


@pytest.mark.parametrize("paper", ["poster", "card"])
def test_each_paper_carries_the_number_the_crisis_lines_and_the_limits(config_file: Path, paper: str) -> None:
    result = invoke("--config", str(config_file), "print", paper, "--team", "odessa")
    assert result.exit_code == 0, result.output
    html = unescape(result.stdout)
    assert (
        html.startswith("<!doctype html>") and "(432) 555-0100" in html and 'href="sms:+14325550100"' in html
    )
    assert messages.CRISIS_911 in html and messages.CRISIS_988 in html
    assert LIMITS in html  # the same sentence the first reply and PRIVACY send
    no_member_phone(html)
    for name, _, _ in MEMBERS:
        assert name not in html


def test_the_poster_says_what_is_kept_as_privacy_does_and_its_qr_code_opens_a_text(config_file: Path) -> None:
    raw = invoke("--config", str(config_file), "print", "poster").stdout
    html = unescape(raw)
    config = load_config(config_file, env={})
    privacy = messages.privacy_statement(durations.short(config.privacy.purge_after), LIMITS)
    assert privacy.startswith(LIMITS) and privacy.removeprefix(LIMITS).strip() in html
    assert "erased 48 h after your request ends" in html
    qr = segno.make("sms:+14325550100", error="m").svg_inline(
        omitsize=True, dark="#000", svgclass="qr", lineclass=None
    )
    assert qr in raw


def test_the_card_lists_every_member_command_and_shows_a_real_page(config_file: Path) -> None:
    html = unescape(invoke("--config", str(config_file), "print", "card").stdout)
    for text in (
        "1 [CODE]",
        "2 [CODE]",
        "DONE",
        "RELEASE",
        "AWAY",
        "BACK",
        "WHO",
        "SHIFTS",
        "COVER",
        "TEST",
        "TALK",
    ):
        assert text in html
    assert len(CARD_COMMANDS) == html.count('<td class="text">') // 4
    assert messages.page("K7QD", "support", "4 min") in html
    assert messages.limits_reminder(LIMITS) in html


def test_output_writes_a_file_and_says_where(config_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "poster.html"
    result = invoke("--config", str(config_file), "print", "poster", "--output", str(target))
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr == f"poster for odessa written to {target}\n"
    assert "(432) 555-0100" in target.read_text()


def test_an_unknown_team_or_an_unwritable_file_is_one_line(config_file: Path, tmp_path: Path) -> None:
    unknown = invoke("--config", str(config_file), "print", "card", "--team", "nowhere")
    assert unknown.exit_code == 2 and unknown.stderr.startswith("callout: unknown team 'nowhere'")
    blocked = invoke(
        "--config", str(config_file), "print", "card", "--output", str(tmp_path / "no" / "x.html")
    )
    assert blocked.exit_code == 2 and blocked.stderr.startswith("callout: cannot write ")
    assert "Traceback" not in unknown.output + blocked.output
