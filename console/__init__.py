"""The director's console at /console/: server-rendered pages, htmx for the live parts, no SQL here."""

from __future__ import annotations

from console.web import bp

# The views register themselves on `bp` when imported; its setup runs when an app registers it.
from console import account, auth, board, dispatch, setup, stats, trail, people  # noqa: E402, F401, I001

__all__ = ["bp"]
