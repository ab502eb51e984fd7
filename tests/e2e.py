"""End-to-end harness: `callout serve` as a real process (or several) against the fake Twilio server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """Return a TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def toml_value(value: Any) -> str:
    """Render a Python value as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path: Path, sections: dict[str, dict[str, Any]], teams: list[dict[str, Any]]) -> None:
    """Write a config file from plain dicts."""
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
    for team in teams:
        lines.append("[[teams]]")
        tables = {k: v for k, v in team.items() if isinstance(v, dict)}
        lines += [f"{k} = {toml_value(v)}" for k, v in team.items() if not isinstance(v, dict)]
        for table, values in tables.items():
            lines.append(f"[teams.{table}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")


class Server:
    """One `callout serve` process (or, with command "scheduler", a `callout scheduler` one: no web app)."""

    def __init__(self, config: Path, port: int, log: Path, command: str = "serve") -> None:
        self.config = config
        self.port = port
        self.log = log
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the address it listens on."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        """Start the process and wait until /healthz answers 200 (a scheduler: until it says it runs)."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("CALLOUT_CONFIG", None)
        port = ["--port", str(self.port)] if self.command == "serve" else []
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli", "--config", str(self.config), self.command, *port],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.config.parent,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"callout {self.command} exited: {self.log.read_text()[-2000:]}")
            if self.command != "serve":
                if "scheduler running" in self.log.read_text():
                    return
                time.sleep(0.1)
                continue
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"callout {self.command} did not become ready: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """Kill the process at once (SIGKILL): no cleanup, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the process politely."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


class Stack:
    """A fake Twilio server plus one or more Callout processes on one database."""

    def __init__(
        self, folder: Path, database_url: str, escalation: dict[str, Any], **sections: dict[str, Any]
    ) -> None:
        from callout.crypto import new_key

        self.folder = folder
        self.fake = FakeTwilio().start()
        self.public_url = "https://peer.example.org"
        self.support = "+14325550100"
        self.config = folder / "config.toml"
        merged: dict[str, dict[str, Any]] = {
            "server": {"public_url": self.public_url, "database_url": database_url, "tick": "0.2s"},
            "twilio": {
                "account_sid": ACCOUNT_SID,
                "auth_token": AUTH_TOKEN,
                "api_base_url": self.fake.base_url,
            },
            "privacy": {"data_key": new_key()},
        }
        for name, values in sections.items():
            merged.setdefault(name, {}).update(values)
        team = {
            "slug": "odessa",
            "name": "Odessa PD Peer Support",
            "support_number": self.support,
            "timezone": "America/Chicago",
            "roster": "roster.toml",
            "dispatch_token": "dispatch-secret",
            "escalation": escalation,
        }
        write_config(self.config, merged, [team])
        self.servers: list[Server] = []
        self._sid = 0

    def roster(self, members: list[tuple[str, str, str]]) -> None:
        """Write the roster the servers import on start: (name, phone, role) in rotation order."""
        lines = []
        for name, phone, role in members:
            lines += ["[[members]]", f'name = "{name}"', f'phone = "{phone}"', f'role = "{role}"', ""]
        (self.folder / "roster.toml").write_text("\n".join(lines))

    def serve(self, count: int = 1) -> list[Server]:
        """Start count more processes."""
        started = []
        for _ in range(count):
            server = Server(self.config, free_port(), self.folder / f"serve-{len(self.servers)}.log")
            server.start()
            self.servers.append(server)
            started.append(server)
        return started

    def schedule(self) -> Server:
        """Start one more process that runs the scheduler only (`callout scheduler`)."""
        server = Server(self.config, 0, self.folder / f"scheduler-{len(self.servers)}.log", "scheduler")
        server.start()
        self.servers.append(server)
        return server

    def sms(
        self, sender: str, body: str, server: Server | None = None, sid: str | None = None
    ) -> tuple[int, str]:
        """Send an inbound SMS webhook, signed as Twilio signs it."""
        self._sid += 1
        params = {
            "From": sender,
            "To": self.support,
            "Body": body,
            "MessageSid": sid or f"SM{self._sid:032d}",
        }
        target = server or self.servers[0]
        return self.fake.post_signed(target.url, self.public_url, AUTH_TOKEN, "/twilio/sms", params)

    def bodies_to(self, number: str) -> list[str]:
        """Return the bodies the fake Twilio received for number."""
        return [str(m.get("Body", "")) for m in self.fake.messages_to(number)]

    def wait(self, predicate: Callable[[], object], timeout: float = 15.0) -> None:
        """Wait for predicate, failing the test with the server logs if it never holds."""
        if not self.fake.wait_for(predicate, timeout):
            logs = "\n".join(s.log.read_text()[-3000:] for s in self.servers if s.log.exists())
            raise AssertionError(f"timed out; server logs:\n{logs}")

    def logs(self) -> str:
        """Return everything the servers logged."""
        return "\n".join(s.log.read_text() for s in self.servers if s.log.exists())

    def close(self) -> None:
        """Stop every process and the fake."""
        for server in self.servers:
            server.stop()
        self.fake.stop()
