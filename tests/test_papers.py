"""The station poster and the wallet card: the number, the crisis lines, the limits, and no member's phone."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest
import segno
from click.testing import CliRunner, Result

from callout import durations, messages, papers
from callout.config import Config, ConfigError, load_config
from callout.papers import CARD_COMMANDS
from cli import cli
from tests.browser import chromium

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


# --- in a browser: one page on Letter and on A4, nothing cut off, at the longest settings start-up takes ---

FILLER = (
    "Peer support is confidential except where Texas law requires otherwise, such as a threat to your life"
    " or someone else's, a crime unrelated to the incident, your consent, or a referral within the team"
)
LONG_NAME = "Greater Metropolitan Police Department Employee Peer Support and Wellness Team of the County"


def team_config(tmp_path: Path, name: str, limits: str) -> Config:
    """Load a config with one team of that name and limits (ConfigError if start-up would refuse them)."""
    path = tmp_path / "papers.toml"
    path.write_text(
        '[[teams]]\nslug = "metro"\nsupport_number = "+14325550100"\n'
        f"name = {json.dumps(name)}\nconfidentiality_limits = {json.dumps(limits)}\n"
    )
    return load_config(path, env={})


def longest(tmp_path: Path, text: str, other: str, as_name: bool) -> Config:
    """Return the config with the longest prefix of text (the team's name, or its limits) start-up accepts."""

    def accepts(n: int) -> bool:
        cut = text[:n].rstrip(" ,")
        try:
            team_config(tmp_path, cut if as_name else other, other if as_name else cut)
        except ConfigError:
            return False
        return True

    low, high = 1, len(text)
    assert not accepts(high), "the filler is too short to reach the SMS budget"
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if accepts(middle) else (low, middle)
    cut = text[:low].rstrip(" ,")
    return team_config(tmp_path, cut if as_name else other, other if as_name else cut)


OVERFLOWING = """() => [...document.querySelectorAll('.sheet, .sheet *')]
    .filter(e => getComputedStyle(e).overflow !== 'visible' || e.matches('.sheet'))
    .filter(e => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1)
    .map(e => e.className)"""


def pages_in(pdf: bytes) -> int:
    """Count the pages of a PDF Chromium printed."""
    return len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf))


def test_each_paper_prints_on_one_page_and_cuts_nothing_off_at_the_longest_name_and_limits(
    tmp_path: Path,
) -> None:
    configs = {
        "longest limits": longest(tmp_path, FILLER * 2, "Metro PD Peer Support", as_name=False),
        "longest name": longest(tmp_path, (LONG_NAME + " ") * 3, "No limits.", as_name=True),
        "the example": load_config(Path(__file__).parent.parent / "config.example.toml", env={}),
    }
    assert len(configs["longest limits"].teams[0].confidentiality_limits) > 130
    assert len(configs["longest name"].teams[0].name) > 150
    problems = []
    with chromium() as browser:
        page = browser.new_page()
        for case, config in configs.items():
            for paper in ("poster", "card"):
                html = getattr(papers, paper)(config, config.teams[0])
                file = tmp_path / f"{paper}.html"
                file.write_text(html)
                page.goto(file.as_uri())
                for media in ("screen", "print"):  # print lays text out a little differently
                    page.emulate_media(media=media)
                    cut = page.evaluate(OVERFLOWING)
                    if cut:
                        problems.append(f"{case}, {paper}, {media}: cut off or spilling over in {cut}")
                for size in ("Letter", "A4"):
                    count = pages_in(page.pdf(format=size, print_background=True))
                    if count != 1:
                        problems.append(f"{case}, {paper}: {count} pages on {size}")
    assert not problems, "\n".join(problems)
