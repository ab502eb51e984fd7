"""The director's console at /console/: server-rendered pages, htmx for the live parts, no SQL here."""

from __future__ import annotations

# The views register themselves on `bp` when imported; its setup runs when an app registers it.
from console import account, auth, board, calendar, dispatch, people, roster, setup, stats, trail  # noqa: F401
from console.web import bp

__all__ = ["bp"]
