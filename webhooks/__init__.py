"""The Flask app: Twilio webhooks, the dispatch API and the health check (`webhooks:create_app()`)."""

from __future__ import annotations

from flask import Blueprint, Flask
from werkzeug.routing import IntegerConverter

import console
from callout.runtime import Runtime
from webhooks import api, calendar, errors, health, sms, voice


def create_app(runtime: Runtime | None = None) -> Flask:
    """Build the app on a runtime the service assembled: register the blueprints and error answers, no more.

    Without a runtime (gunicorn's `webhooks:create_app()`), assemble and start the whole service from the
    configuration first: `service.wsgi_app`.
    """
    if runtime is None:
        # Here, not at the top: the composition (service) imports this module to build the app; only the call
        # without a runtime goes up to it.
        import service

        return service.wsgi_app()
    app = Flask(__name__)
    app.url_map.converters["id"] = DatabaseId
    app.config["MAX_CONTENT_LENGTH"] = runtime.config.server.max_body
    app.extensions["callout"] = runtime
    for blueprint in blueprints():
        app.register_blueprint(blueprint)
    errors.register(app)
    return app


def blueprints() -> tuple[Blueprint, ...]:
    """Return every part of the web app: each surface is one blueprint, and a new one joins here."""
    return (sms.bp, voice.bp, api.bp, health.bp, calendar.bp, console.bp)


class DatabaseId(IntegerConverter):
    """An integer id as a URL part that a 32-bit database integer holds (a longer one is 404)."""

    regex = r"\d{1,9}"
