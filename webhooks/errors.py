"""Error answers: short, never a traceback, JSON under /api and plain text elsewhere."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from callout.logsafe import described

log = logging.getLogger(__name__)


def _answer(status: int, message: str) -> Response:
    if request.path.startswith("/api/"):
        response = jsonify({"error": message})
    else:
        response = Response(message + "\n", mimetype="text/plain")
    response.status_code = status
    return response


def register(app: Flask) -> None:
    """Install the error handlers on app."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        response = _answer(exc.code or 500, exc.description or exc.name)
        for name, value in exc.get_headers():  # e.g. the Allow header of a 405
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def database_down(exc: OperationalError | InterfaceError | PoolTimeout) -> Response:
        # Unreachable, connection dropped, or every pooled connection busy: Twilio retries a 503.
        orig = getattr(exc, "orig", None)
        log.error("database unavailable: %s", type(orig or exc).__name__)
        response = _answer(503, "temporarily unavailable, retry")
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.error("unexpected error on %s: %s", request.path, described(exc))
        return _answer(500, "internal error")
