"""The dispatch API: JSON with a bearer token per team (`Authorization: Bearer <dispatch_token>`)."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, NoReturn

import yaml
from flask import Blueprint, Response, abort, jsonify, request, url_for
from sqlalchemy.orm import Session

from callout import dispatch
from callout.config import TeamConfig
from callout.env import Env
from callout.teams import get_team
from webhooks.state import runtime

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api/v1")


def fail(status: int, message: str, headers: dict[str, str] | None = None) -> NoReturn:
    """Stop the request with a JSON error {"error": message}."""
    response = jsonify({"error": message})
    response.status_code = status
    response.headers.update(headers or {})
    abort(response)


def authorized_team() -> TeamConfig:
    """Return the team whose dispatch token the request carries; 401 if none does."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    team = None
    if scheme.lower() == "bearer" and token.strip():
        team = dispatch.team_for_token(runtime().config, token.strip())
    if team is None:
        log.warning("dispatch API: %s %s refused: no valid token", request.method, request.path)
        fail(401, "a valid dispatch token is required", {"WWW-Authenticate": 'Bearer realm="callout"'})
    return team


@bp.after_request
def no_store(response: Response) -> Response:
    """Keep members' names out of caches."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/pages")
def create_page() -> tuple[Response, int, dict[str, str]]:
    """Open a dispatch page or a debrief; its first members are paged at once."""
    team_config = authorized_team()
    try:
        payload = json.loads(request.get_data(cache=False) or b"null")
    except (ValueError, RecursionError):
        fail(400, "the body is not valid JSON")
    try:
        order = dispatch.parse_order(payload)
    except dispatch.InvalidPage as exc:
        fail(400, str(exc))

    def work(session: Session, env: Env, now: datetime) -> dict[str, Any]:
        opened = dispatch.open_page(session, env, now, get_team(session, team_config), order)
        return dispatch.summary(opened)

    try:
        created = runtime().run(work)
    except dispatch.InvalidPage as exc:
        fail(400, str(exc))
    return jsonify(created), 201, {"Location": url_for(".get_page", code=created["code"])}


@bp.get("/pages/<code>")
def get_page(code: str) -> Response:
    """Show a dispatch page or debrief: status, times, who accepted and who responded."""
    team_config = authorized_team()

    def work(session: Session, env: Env, now: datetime) -> dict[str, Any] | None:
        found = dispatch.find_page(session, get_team(session, team_config), code)
        return dispatch.describe(env, found) if found is not None else None

    described = runtime().run(work)
    if described is None:
        fail(404, "no page or debrief has this code")
    return jsonify(described)


@bp.get("/oncall")
def get_oncall() -> Response:
    """Show today's availability list in paging order, the fallback and when the shift ends."""
    team_config = authorized_team()
    # In a transaction that commits: the first look at a new rotation anchors it (rotation.ensure_anchor).
    return jsonify(
        runtime().run(
            lambda session, env, now: dispatch.oncall(session, env, now, get_team(session, team_config))
        )
    )


@cache
def openapi() -> dict[str, Any]:
    """Return the OpenAPI description of the API, read once from webhooks/openapi.yaml."""
    text = resources.files("webhooks").joinpath("openapi.yaml").read_text(encoding="utf-8")
    spec: dict[str, Any] = yaml.safe_load(text)
    return spec


@bp.get("/openapi.json")
def get_openapi() -> Response:
    """Serve the OpenAPI description, with this server's public URL."""
    return jsonify({**openapi(), "servers": [{"url": runtime().config.server.public_url}]})
