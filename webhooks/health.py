"""GET /healthz: the database answers, the scheduler runs, and no page, message or call is overdue."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from callout import watchdog
from webhooks.state import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Report health: 200 when all is well, 503 (with the reasons) when a human should look."""
    rt = runtime()
    problems = []
    try:
        # The watchdog's queries are also the check that the database answers.
        problems += rt.read(
            lambda session, env, now: watchdog.overdue(
                session, now, rt.sender.stuck, rt.sender.provider_failed_at
            )
        )
    except Exception:
        return jsonify({"status": "unhealthy", "problems": ["database does not answer"]}), 503
    scheduler = rt.scheduler
    if rt.config.server.scheduler and (scheduler is None or not scheduler.running):
        problems.insert(0, "scheduler is not running")
    if problems:
        return jsonify({"status": "unhealthy", "problems": problems}), 503
    return jsonify({"status": "ok"}), 200
