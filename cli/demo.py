"""`callout demo`: a whole night on the support line, played through the real app in under a minute."""

from __future__ import annotations

import html
import logging
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

import service
from callout import users
from callout.config import Config, parse_config
from callout.crypto import new_key
from callout.models import Team
from callout.report import build_report, render_text
from callout.runtime import Runtime
from transport.console import ConsoleTransport, mask, mask_numbers
from webhooks import create_app

TOKEN = "demo-auth-token"
PUBLIC_URL = "https://callout.demo"
SUPPORT = "+14325550100"
REQUESTER = "+14325559876"
ROSTER = """\
[[members]]
name = "Ofc. Dana Rivera"
phone = "(432) 555-0101"
role = "peer"

[[members]]
name = "Sgt. Mei Chen"
phone = "(432) 555-0102"
role = "peer"
skills = ["post-shooting"]

[[members]]
name = "Det. Luis Ortiz"
phone = "(432) 555-0103"
role = "peer"

[[members]]
name = "Dr. Anita Patel"
phone = "(432) 555-0104"
role = "psychologist"

[[members]]
name = "Lt. Sam Nguyen"
phone = "(432) 555-0105"
role = "director"

[[members]]
name = "Dispatch (J. Brooks)"
phone = "(432) 555-0106"
role = "dispatch"
"""
NAMES = {
    "+14325550101": "Rivera",
    "+14325550102": "Chen",
    "+14325550103": "Ortiz",
    "+14325550104": "Dr. Patel",
    "+14325550105": "Lt. Nguyen",
    "+14325550106": "Dispatch",
    SUPPORT: "Support line",
}


class Transcript:
    """Print the conversation with names instead of numbers, and let the demo wait for a line."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.started = time.monotonic()
        self.lines: list[str] = []
        masked = {mask(number): name for number, name in NAMES.items()}
        self.names = {**NAMES, **masked, mask(REQUESTER): "Officer (requester, number masked)"}
        self._changed = threading.Condition()

    def say(self, text: str) -> None:
        """Print one line with the time since the start."""
        stamp = f"[{time.monotonic() - self.started:5.1f}s]"
        self.echo(f"{stamp} {text}")

    def outbound(self, line: str) -> None:
        """Print what the console transport sends."""
        for number, name in self.names.items():
            line = line.replace(number, name)
        parts = line.split("  ", 2)  # "SMS  <sid>  from → to: body"
        kind, rest = parts[0], parts[-1]
        self.say(f"  {'📞' if kind.startswith('CALL') else '→'} {rest}")
        with self._changed:
            self.lines.append(line)
            self._changed.notify_all()

    def last_code(self) -> str:
        """Return the request code of the last page sent."""
        with self._changed:
            for line in reversed(self.lines):
                found = re.search(r"(?:request ([A-Z0-9]{4})\.|DEBRIEF ([A-Z0-9]{4}): )", line)
                if found:
                    return found.group(1) or found.group(2)
        raise click.ClickException("demo: no page was sent")

    def last_cover_code(self) -> str:
        """Return the code of the last COVER asked."""
        with self._changed:
            for line in reversed(self.lines):
                found = re.search(r"Reply 1 ([A-Z0-9]{4}) to take it", line)
                if found:
                    return found.group(1)
        raise click.ClickException("demo: no cover was asked")

    def wait_for(self, text: str, timeout: float = 20.0) -> None:
        """Wait until a sent message contains text."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(text in line for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise click.ClickException(f"demo: gave up waiting for {text!r}")
                self._changed.wait(left)


def _config(folder: Path, speed: float) -> Config:
    ack = max(1.0, 4.0 * speed)
    return parse_config(
        {
            "server": {
                "public_url": PUBLIC_URL,
                "database_url": f"sqlite:///{folder / 'demo.db'}",
                "tick": "0.2s",
            },
            "twilio": {"auth_token": TOKEN},
            "privacy": {"data_key": new_key(), "purge_after": "24h"},
            "teams": [
                {
                    "slug": "demo",
                    "name": "Odessa PD Peer Support",
                    "support_number": SUPPORT,
                    "timezone": "America/Chicago",
                    "handoff": "07:00",
                    "roster": str(folder / "roster.toml"),
                    "escalation": {
                        "ack_timeout": ack,
                        "peers": 3,
                        "call_after": 0,
                        "fallback": ["psychologist", "director"],
                        "fallback_timeout": ack,
                    },
                    "debrief": {"tally_every": "1s", "min_responders": 2},
                }
            ],
        },
        env={},
        path=folder / "config.toml",
    )


def _report(rt: Runtime) -> str:
    """Render this month's statistics of the demo team, as `callout report` would."""
    today = rt.clock().date()
    with rt.sessions() as session:
        report = build_report(session, ["demo"], today.replace(day=1), today)
    return render_text(report)


CONSOLE_USER = "director"


def open_console(
    app: Any, rt: Runtime, port: int, echo: Callable[[str], None], stop: threading.Event | None = None
) -> None:
    """Serve the app on 127.0.0.1:port with a director's login printed, until Ctrl-C (or stop is set)."""
    password = secrets.token_urlsafe(9)
    with rt.sessions() as session, session.begin():
        team = session.query(Team).filter_by(slug="demo").one()
        users.add(session, datetime.now(UTC), CONSOLE_USER, "director", team, password)
    # The demo's public URL is https (its webhooks are signed for it), but this server is plain http on this
    # machine: a Secure cookie would not come back from every browser.
    app.config["SESSION_COOKIE_SECURE"] = False
    server = make_server("127.0.0.1", port, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}/console/"
    echo(f"\nThe console is open on the demo's data: {url}")
    echo(f"Log in as {CONSOLE_USER!r} with the password {password!r}. Ctrl-C ends the demo.")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    waiter = stop if stop is not None else threading.Event()
    try:
        while thread.is_alive() and not waiter.wait(0.2):
            pass
    except KeyboardInterrupt:
        echo("")
    finally:
        server.shutdown()
        thread.join(timeout=5)


def run_demo(
    speed: float = 1.0,
    echo: Callable[[str], None] = click.echo,
    console_port: int | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Play the scenario: a request (a timeout, a pass, fallback, acceptance, close), a COVER, a DEBRIEF.

    With console_port, then open the console on the demo's data (see open_console; 0: any free port).
    """
    logging.getLogger().setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="callout-demo-") as tmp:
        folder = Path(tmp)
        (folder / "roster.toml").write_text(ROSTER)
        config = _config(folder, speed)
        transcript = Transcript(echo)
        # The requester here is made up, so the demo shows the words the console otherwise leaves out.
        transport = ConsoleTransport(write=transcript.outbound, reveal_words=True)
        rt = service.build(config, transport=transport)
        app = create_app(rt)
        service.start(rt)
        client = app.test_client()
        validator = RequestValidator(TOKEN)
        sid = iter(range(1, 10_000))

        def text(sender: str, who: str, body: str) -> None:
            params = {"From": sender, "To": SUPPORT, "Body": body, "MessageSid": f"SM{next(sid):032d}"}
            signature = validator.compute_signature(f"{PUBLIC_URL}/twilio/sms", params)
            transcript.say(f"{who} texts the support line: {body!r}")
            response = client.post("/twilio/sms", data=params, headers={"X-Twilio-Signature": signature})
            reply = response.get_data(as_text=True)
            if "<Message>" in reply:
                message = html.unescape(reply.split("<Message>", 1)[1].split("</Message>", 1)[0])
                transcript.say(f"  ← reply to {who}: {mask_numbers(message)}")

        try:
            seconds = config.teams[0].escalation.ack_timeout.total_seconds()
            echo(f"Callout demo: 3 peers, a psychologist and a director; {seconds:.0f}s to answer each page.")
            echo(
                "The requester's number is encrypted at rest and masked here; their words are never stored.\n"
            )
            text(REQUESTER, "Officer", "Rough night after that call. Can someone talk?")
            transcript.wait_for("→ Rivera: Peer support request")
            transcript.say("Rivera (primary on call) is asleep and does not answer…")
            transcript.wait_for("→ Chen: Peer support request")
            text("+14325550102", "Chen", "2")
            transcript.wait_for("→ Ortiz: Peer support request")
            transcript.say("Ortiz is on a scene and does not answer…")
            text(REQUESTER, "Officer", "Is anyone there? It's about the crash on Route 9.")
            transcript.wait_for("→ Dr. Patel: Peer support request")
            text("+14325550104", "Dr. Patel", "1")
            transcript.wait_for("→ Dr. Patel: You have")
            transcript.wait_for("has your request")
            text("+14325550103", "Ortiz", "YES")
            text(REQUESTER, "Officer", "Thank you. I'm in the lot behind the station.")
            transcript.wait_for("behind the station")
            text("+14325550104", "Dr. Patel", "DONE critical-incident OT")
            text("+14325550105", "Lt. Nguyen", "WHO")
            echo("\nChen can't make her next shift, and asks the other peers to cover it.\n")
            text("+14325550102", "Chen", "SHIFTS")
            text("+14325550102", "Chen", "COVER")
            transcript.wait_for("→ Ortiz: Sgt. Mei Chen asks")
            cover = transcript.last_cover_code()
            text("+14325550103", "Ortiz", f"1 {cover}")
            transcript.wait_for("takes your shift")
            text("+14325550101", "Rivera", f"1 {cover}")
            echo("\nLater: a line-of-duty incident. Dispatch calls the team out for a debriefing.\n")
            text("+14325550106", "Dispatch", "DEBRIEF Officer injured at Elm St. Debrief 14:00 at HQ, room 2")
            for name in ("Rivera", "Chen", "Ortiz"):  # each reads the page before answering it
                transcript.wait_for(f"→ {name}: DEBRIEF ")
            code = transcript.last_code()
            text("+14325550101", "Rivera", "1")
            text("+14325550102", "Chen", "1")
            text("+14325550103", "Ortiz", "2")
            transcript.wait_for("2 responding")
            text("+14325550106", "Dispatch", f"DONE {code}")
            transcript.wait_for("→ Lt. Nguyen: Ended.")
            echo(
                "\nWhat the program keeps: no name, no number, no words. Only counts for the yearly report:\n"
            )
            echo(_report(rt))
            if console_port is not None:
                text("+14325550107", "Another officer", "Could someone call me after my shift?")
                open_console(app, rt, console_port, echo, stop)
        finally:
            rt.close()
