"""Logging an unexpected error without its message: a message may quote a requester's number or words."""

from __future__ import annotations

import traceback


def described(exc: BaseException) -> str:
    """Return the exception's type and the stack it came through, leaving out its message."""
    return f"{type(exc).__name__}\n{''.join(traceback.format_tb(exc.__traceback__))}".rstrip()
