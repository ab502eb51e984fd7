"""The Flask app: Twilio webhooks, the dispatch API and the health check (`webhooks:create_app()`)."""

from __future__ import annotations

import logging
import sys

from flask import Flask
from werkzeug.routing import IntegerConverter

from callout.config import Config, ConfigError, load_config
from callout.roster import RosterError
from callout.runtime import Runtime, build_runtime
from callout.sender import Clock, utcnow
from callout.transport import Transport
from webhooks import api, errors, health, sms, voice

log = logging.getLogger(__name__)


def create_app(
    config: Config | None = None,
    *,
    transport: Transport | None = None,
    background: bool = True,
    clock: Clock = utcnow,
) -> Flask:
    """Build the app; with background, also start the sender and (if configured) the scheduler."""
    if config is None:
        try:
            config = load_config()
        except ConfigError as exc:
            sys.exit(f"callout: configuration error: {exc}")
    if transport is None:
        from transport import make_transport

        transport = make_transport(config)
    try:
        rt = build_runtime(config, transport, clock)
    except RosterError as exc:
        sys.exit(f"callout: roster error, nothing imported:\n{exc}")
    app = Flask(__name__)
    app.url_map.converters["id"] = DatabaseId
    app.config["MAX_CONTENT_LENGTH"] = config.server.max_body
    app.extensions["callout"] = rt
    for blueprint in (sms.bp, voice.bp, api.bp, health.bp):
        app.register_blueprint(blueprint)
    errors.register(app)
    if background:
        start_background(rt)
    return app


class DatabaseId(IntegerConverter):
    """An integer id as a URL part that a 32-bit database integer holds (a longer one is 404)."""

    regex = r"\d{1,9}"


def start_background(rt: Runtime) -> None:
    """Start the sender, and the scheduler unless [server] scheduler = false."""
    rt.sender.start()
    if rt.config.server.scheduler:
        from schedules import start_scheduler

        rt.scheduler = start_scheduler(rt)
