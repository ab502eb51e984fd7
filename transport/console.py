"""A transport that prints messages and calls instead of sending them (development, the demo)."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable

from callout.phones import mask
from callout.transport import Call, Sms

__all__ = ["ConsoleTransport", "mask", "mask_numbers"]

PHONE = re.compile(r"\+\d{8,15}")


def mask_numbers(text: str) -> str:
    """Return text with every phone number in it masked."""
    return PHONE.sub(lambda found: mask(found.group(0)), text)


class ConsoleTransport:
    """Print each SMS and call as one line; send nothing, keep nothing.

    What it prints is the server's log, so it follows the log's rule: phone numbers are masked, and
    the words of a message to or from a requester are left out unless reveal_words (the demo, whose
    requester is made up) asks for them.
    """

    def __init__(self, write: Callable[[str], None] = print, reveal_words: bool = False) -> None:
        self._write = write
        self._reveal_words = reveal_words
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def _next_sid(self, prefix: str) -> str:
        """Return a fresh id shaped like the provider's, e.g. SMconsole000001."""
        with self._lock:
            number = next(self._counter)
        return f"{prefix}console{number:06d}"

    def send_sms(self, sms: Sms) -> str:
        """Print the SMS and return its made-up id."""
        sid = self._next_sid("SM")
        if sms.requester and not self._reveal_words:
            body = f"(a confidential message of {len(sms.body)} characters, not shown)"
        else:
            body = " ↵ ".join(sms.body.splitlines())
        self._write(f"SMS  {sid}  {mask(sms.from_)} → {mask(sms.to)}: {mask_numbers(body)}")
        return sid

    def place_call(self, call: Call) -> str:
        """Print the call and return its made-up id."""
        sid = self._next_sid("CA")
        self._write(f"CALL {sid}  {mask(call.from_)} → {mask(call.to)}: {call.url}")
        return sid

    def delete_records(self, sids: list[str]) -> list[str]:
        """Return no failures: the console keeps no records."""
        return []
