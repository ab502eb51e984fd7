"""`callout demo`: the whole scenario plays through and tells the story it promises."""

from __future__ import annotations

import itertools
import logging
import re
from pathlib import Path

import pytest

from cli.demo import run_demo

README = Path(__file__).resolve().parent.parent / "README.md"


def as_shown(line: str) -> str:
    """Return a line of the demo without its time, its code (CODE) and its timeout (Ns), to compare runs."""
    line = re.sub(r"^\[\s*[\d.]+s\]", "", line).replace("(2s to answer)", "(4s to answer)")  # --speed 0.5
    return re.sub(r"\b(?=[A-Z0-9]*[A-Z])(?=[A-Z0-9]*\d|[A-Z]{4}\b)[A-Z0-9]{4}\b", "CODE", line)


def readme_excerpt() -> list[str]:
    """Return the lines of the demo that README.md shows ("It starts like this")."""
    after = README.read_text().split("It starts like this", 1)[1]
    block = after.split("```text\n", 1)[1].split("```", 1)[0]
    return [as_shown(line) for line in block.splitlines()]


def test_the_demo_plays_request_timeout_pass_fallback_acceptance_relay_close_a_cover_and_a_debrief(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lines: list[str] = []
    run_demo(speed=0.5, echo=lines.append)
    # A newcomer's first line is the demo's own, not a log line (the demo shows warnings only: none here).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    story = "\n".join(lines)
    order = [
        "Officer texts the support line",
        "→ Rivera: Peer support request",
        "→ Chen: Peer support request",
        # The page to Ortiz goes to the sender as Chen's pass commits, the reply to Chen with the webhook's
        # answer: either may be printed first.
        ("reply to Chen: Thanks, passed", "→ Ortiz: Peer support request"),
        "reply to Officer: We're still reaching a peer for you. Your texts so far don't reach them",
        "→ Dr. Patel: Peer support request",
        "→ Dr. Patel: You have",  # the number comes by the outbox, never in a TwiML reply
        ": Thank you. I'm in the lot",  # the officer's follow-up, relayed to the peer
        "Closed",
        "Chen texts the support line: 'COVER'",
        "→ Ortiz: Sgt. Mei Chen asks: can you take their on-call shift",
        "reply to Ortiz: Thank you: Sgt. Mei Chen's shift",
        "→ Chen: Det. Luis Ortiz takes your shift",
        "reply to Rivera: COVER",  # a later 1 is told who took it
        "DEBRIEF",
        "2 responding",
        "Off-duty (OT) first contacts",
    ]
    groups = [marker if isinstance(marker, tuple) else (marker,) for marker in order]
    found = [[story.find(marker) for marker in group] for group in groups]
    assert all(-1 not in spots for spots in found), [
        g for g, spots in zip(groups, found, strict=True) if -1 in spots
    ]
    assert all(max(before) < min(after) for before, after in itertools.pairwise(found)), found
    assert "Officer (requester, number masked): A peer support member has your request" in story
    assert "+14325559876" not in story  # the requester's number is never printed in clear
    shown = [as_shown(line) for line in "\n".join(lines).splitlines()]
    excerpt = readme_excerpt()
    assert (
        len(excerpt) >= 5 and [line for line in excerpt if line not in shown] == []
    )  # README shows the demo


def test_demo_console_opens_the_console_on_the_demos_data_with_a_printed_login() -> None:
    import re
    import threading
    import time

    import requests

    lines: list[str] = []
    stop = threading.Event()
    demo = threading.Thread(
        target=run_demo, kwargs={"speed": 0.5, "echo": lines.append, "console_port": 0, "stop": stop}
    )
    demo.start()
    try:
        deadline = time.monotonic() + 90
        while not any("Log in as" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.2)
        story = "\n".join(lines)
        url = re.search(r"(http://127\.0\.0\.1:\d+/console/)", story)
        login = re.search(r"Log in as '(\w+)' with the password '([^']+)'", story)
        assert url and login, story[-500:]
        browser = requests.Session()
        form = browser.get(url.group(1) + "login", timeout=10).text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form)
        assert token is not None
        fields = {"username": login.group(1), "password": login.group(2), "csrf_token": token.group(1)}
        board = browser.post(url.group(1) + "login", data=fields, timeout=10)
        assert board.status_code == 200 and "<h1>" in board.text and "Board" in board.text
        assert browser.get(url.group(1) + "demo/stats", timeout=30).status_code == 200
        assert "+14325550107" not in board.text
    finally:
        stop.set()
        demo.join(timeout=30)
    assert not demo.is_alive()
