"""A transport that prints messages and calls instead of sending them (development, the demo)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from callout.transport import Call, Sms


def mask(number: str) -> str:
    """Return a phone number with all but its country/area prefix and last two digits hidden."""
    keep_head = 5 if len(number) >= 9 else 0
    hidden = len(number) - keep_head - 2
    if hidden <= 0:
        return "•" * len(number)
    return number[:keep_head] + "•" * hidden + number[-2:]


class ConsoleTransport:
    """Print each SMS and call as one line; send nothing, keep nothing."""

    def __init__(self, write: Callable[[str], None] = print) -> None:
        self._write = write
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def _next_sid(self, prefix: str) -> str:
        """Return a fresh id shaped like the provider's, e.g. SMconsole000001."""
        with self._lock:
            number = next(self._counter)
        return f"{prefix}console{number:06d}"

    def send_sms(self, sms: Sms) -> str:
        """Print the SMS and return its made-up id; mask a requester's number."""
        sid = self._next_sid("SM")
        to = mask(sms.to) if sms.requester else sms.to
        body = " ↵ ".join(sms.body.splitlines())
        self._write(f"SMS  {sid}  {sms.from_} → {to}: {body}")
        return sid

    def place_call(self, call: Call) -> str:
        """Print the call and return its made-up id."""
        sid = self._next_sid("CA")
        self._write(f"CALL {sid}  {call.from_} → {call.to}: {call.url}")
        return sid

    def delete_records(self, sids: list[str]) -> list[str]:
        """Return no failures: the console keeps no records."""
        return []
