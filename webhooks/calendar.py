"""GET /calendar/<token>.ics: a member's own on-call calendar, or the team's, for phones to subscribe to."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, request
from sqlalchemy.orm import Session

from callout import calendar
from callout.env import Env
from webhooks.state import runtime

bp = Blueprint("calendar", __name__)


@bp.get("/calendar/<token>.ics")
def feed(token: str) -> Response:
    """Serve a feed: 304 when the phone has it already, 404 for an unknown token."""

    def work(session: Session, env: Env, now: datetime) -> tuple[calendar.Feed, bytes | None] | None:
        row = calendar.find(session, token)
        if row is None:
            return None
        found = calendar.feed(session, row, now)
        return found, None if _unchanged(found) else found.render()

    result = runtime().run(work)
    if result is None:
        return Response("No such calendar.\n", status=404, mimetype="text/plain")
    found, body = result
    if body is None:
        response = Response(status=304)
    else:
        response = Response(body, content_type="text/calendar; charset=utf-8")
    response.set_etag(found.etag)
    response.last_modified = found.last_modified
    # The URL is a secret: no shared cache keeps it, and phones ask again with the ETag.
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _unchanged(found: calendar.Feed) -> bool:
    """Tell whether the phone's copy is current (If-None-Match first, as RFC 9110 says)."""
    if request.if_none_match:
        return request.if_none_match.contains(found.etag)
    since = request.if_modified_since
    return since is not None and found.last_modified <= since
