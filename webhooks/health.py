"""GET /healthz: the database answers, the scheduler runs, and no escalation step is overdue."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, jsonify
from sqlalchemy import func, select, text

from callout.models import Request
from webhooks.state import runtime

bp = Blueprint("health", __name__)
OVERDUE = timedelta(minutes=1)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Report health: 200 when all is well, 503 (with the reason) when a human should look."""
    rt = runtime()
    problems = []
    try:
        with rt.sessions() as session:
            session.execute(text("SELECT 1"))
            overdue = session.scalar(
                select(func.count())
                .select_from(Request)
                .where(Request.status == "open", Request.step_deadline < rt.clock() - OVERDUE)
            )
    except Exception:
        return jsonify({"status": "unhealthy", "problems": ["database does not answer"]}), 503
    scheduler = rt.scheduler
    if rt.config.server.scheduler and (scheduler is None or not scheduler.running):
        problems.append("scheduler is not running")
    if overdue:
        problems.append(f"{overdue} escalation step(s) overdue by more than a minute")
    if problems:
        return jsonify({"status": "unhealthy", "problems": problems}), 503
    return jsonify({"status": "ok"}), 200
