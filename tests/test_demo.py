"""`callout demo`: the whole scenario plays through and tells the story it promises."""

from __future__ import annotations

from cli.demo import run_demo


def test_the_demo_plays_request_timeout_pass_fallback_acceptance_relay_close_a_cover_and_a_debrief() -> None:
    lines: list[str] = []
    run_demo(speed=0.5, echo=lines.append)
    story = "\n".join(lines)
    order = [
        "Officer texts the support line",
        "→ Rivera: Peer support request",
        "→ Chen: Peer support request",
        "reply to Chen: Thanks, passed",
        "→ Ortiz: Peer support request",
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
    positions = [story.find(marker) for marker in order]
    assert -1 not in positions, [m for m, p in zip(order, positions, strict=True) if p == -1]
    assert positions == sorted(positions)
    assert "Officer (requester, number masked): A peer support member has your request" in story
    assert "+14325559876" not in story  # the requester's number is never printed in clear


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
