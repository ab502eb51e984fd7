"""Access to the Runtime of the current app."""

from __future__ import annotations

from flask import current_app

from callout.runtime import Runtime


def runtime() -> Runtime:
    """Return the Runtime of the app handling this request."""
    found: Runtime = current_app.extensions["callout"]
    return found
