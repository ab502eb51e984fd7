"""What registering the console does to an app: its session cookie, CSRF checks and logins.

The key that signs the cookies is the console's secret (`callout.signing`), the same in every worker. It is
looked up at the first console request rather than in the app factory, which only assembles.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, Request
from flask.blueprints import BlueprintSetupState
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from callout import signing
from callout.runtime import Runtime
from console.auth import csrf, login_manager
from console.web import ConsoleState, bp

_lock = threading.Lock()


def ensure_secret(app: Flask) -> None:
    """Give app the console's signing key and TOTP box, once (the first console request looks them up)."""
    if "callout.console" in app.extensions:
        return
    with _lock:
        if "callout.console" in app.extensions:
            return
        rt: Runtime = app.extensions["callout"]
        master = rt.run(lambda session, env, now: signing.master_secret(session, rt.config, now))
        app.secret_key = signing.session_key(master)
        app.extensions["callout.console"] = ConsoleState(box=signing.SecretBox(master))


class ConsoleSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, for the console's paths only, with the console's secret."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Open the console's session; elsewhere (webhooks, the API) there is none to open."""
        if not request.path.startswith("/console"):
            return None
        ensure_secret(app)
        return super().open_session(app, request)


@bp.record_once
def register(state: BlueprintSetupState) -> None:
    """Set the app up for the console when the blueprint is registered."""
    app: Any = state.app
    rt: Runtime = app.extensions["callout"]
    app.config.update(
        SESSION_COOKIE_NAME="callout_console",
        SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=rt.config.server.public_url.startswith("https://"),
        # The console checks CSRF itself, on its own POSTs only: Twilio and the bearer API keep their checks.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as the session, which ends after inactivity
    )
    app.session_interface = ConsoleSessions()
    csrf.init_app(app)
    login_manager.init_app(app)
