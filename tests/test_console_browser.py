"""The console in a real browser (Chromium) against the real app and the fake Twilio.

Log in with the keyboard, watch a request appear on the board and its acceptance change it without a
reload, page from the dispatch form and see it accepted, assign an override on the calendar, download the
report. Each page is photographed at desktop and phone widths.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.browser import chromium, screenshots_folder, shoot
from tests.e2e import Stack

pytestmark = pytest.mark.e2e

PEERS = [
    ("Ofc. Dana Rivera", "+14325550101", "peer"),
    ("Sgt. Mei Chen", "+14325550102", "peer"),
    ("Det. Luis Ortiz", "+14325550103", "peer"),
    ("Dr. Anita Patel", "+14325550104", "psychologist"),
    ("Lt. Sam Nguyen", "+14325550105", "director"),
]
REQUESTER = "+14325559876"
PASSWORD = "a long night shift"


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    stack = Stack(tmp_path, database_url, {"ack_timeout": "5m", "call_after": "0"})
    stack.roster(PEERS)
    try:
        stack.serve()
        add = [
            sys.executable,
            "-m",
            "cli",
            "--config",
            str(stack.config),
            "user",
            "add",
            "lt.nguyen",
            "--role",
            "director",
            "--team",
            "odessa",
            "--password-stdin",
        ]
        subprocess.run(add, input=PASSWORD + "\n", text=True, check=True, capture_output=True)
        yield stack
    finally:
        stack.close()


def code_of(page: Any) -> str:
    """Return the code of the first row on the board."""
    row = page.locator("tr[id^=row-]").first
    row.wait_for(timeout=15_000)
    return str(row.get_attribute("id")).removeprefix("row-")


def test_a_director_runs_the_night_from_the_console(stack: Stack, tmp_path: Path) -> None:
    shots = screenshots_folder(tmp_path / "screenshots")
    base = stack.servers[0].url
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

        # Log in with the keyboard only.
        page.goto(base + "/console/")
        assert page.url.startswith(base + "/console/login")
        shoot(page, shots, "login")
        page.get_by_label("User name").fill("lt.nguyen")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(base + "/console/odessa/")
        assert page.get_by_role("heading", name="Board").is_visible()

        # A request appears on the board, then its acceptance changes it, with no reload.
        page.evaluate("window.noReload = 'still here'")
        status, _ = stack.sms(REQUESTER, "Rough night after that call. Can someone talk?")
        assert status == 200
        code = code_of(page)
        row = page.locator(f"#row-{code}")
        assert "paging" in row.inner_text()
        shoot(page, shots, "board-paging")
        stack.sms("+14325550101", f"1 {code}")
        page.wait_for_selector(f'#row-{code}[data-state="accepted"]', timeout=15_000)
        assert "Ofc. Dana Rivera" in row.inner_text()
        assert page.evaluate("window.noReload") == "still here"
        for number in (REQUESTER, REQUESTER.removeprefix("+1"), "(432) 555-9876", "432-555-9876"):
            assert number not in page.content()
        shoot(page, shots, "board-accepted")

        # Page from the dispatch form; the status follows the answer live.
        page.get_by_role("link", name="Dispatch").click()
        page.get_by_label("What happened and where").fill("Officer at Station 4 after a fatal crash")
        page.get_by_label("Number to call back").fill("(432) 555-0177")
        shoot(page, shots, "dispatch")
        page.get_by_role("button", name="Send the page").click()
        page.wait_for_url(re.compile(r".*/console/odessa/dispatch/[A-Z0-9]{4}$"))
        page_code = page.url.rsplit("/", 1)[1]
        assert "nobody yet" in page.locator("#accepted-by").inner_text()
        page.evaluate("window.noReload = 'still here'")
        stack.wait(lambda: any(page_code in body for body in stack.bodies_to("+14325550101")))
        stack.sms("+14325550101", f"1 {page_code}")
        page.wait_for_selector('#status[data-status="accepted"]', timeout=15_000)
        assert "Ofc. Dana Rivera" in page.locator("#accepted-by").inner_text()
        assert page.evaluate("window.noReload") == "still here"
        shoot(page, shots, "dispatch-status")

        # Assign an override on the calendar.
        page.get_by_role("link", name="Calendar").click()
        page.locator("td.day:not(.past):not(.today) a.assign-link").nth(2).click()
        page.get_by_label("Peer", exact=True).select_option(label="Det. Luis Ortiz")
        page.get_by_role("button", name="Assign").click()
        assert page.get_by_text("Assigned: Det. Luis Ortiz primary").is_visible()
        assert page.locator("td.why-override", has_text="Det. Luis Ortiz").count() >= 1
        shoot(page, shots, "calendar")

        # The statistics, and the report as CSV.
        page.get_by_role("link", name="Statistics").click()
        assert page.get_by_text("Contacts by content area").is_visible()
        shoot(page, shots, "statistics")
        with page.expect_download() as download:
            page.get_by_role("link", name="CSV").click()
        saved = tmp_path / "report.csv"
        download.value.save_as(saved)
        assert saved.read_text().startswith("team,month,metric,category,value\n")
        assert "odessa,total,requests_by_kind,support,1" in saved.read_text()

        for name, link in (("roster", "Roster"), ("audit", "Audit"), ("users", "Users")):
            page.get_by_role("link", name=link).click()
            shoot(page, shots, name)
        assert "override: Det. Luis Ortiz primary" in page.goto(base + "/console/odessa/audit").text()  # type: ignore[union-attr]
        assert errors == [], errors
        context.close()
    assert requests.get(base + "/healthz", timeout=5).status_code == 200
