"""The live board: what is open or being handled now, and the coverage warnings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import redirect, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from callout import board as board_domain
from callout import users
from callout.env import Env
from console.web import TeamView, bp, page, run, team_or_404, team_view, who


@bp.get("/")
def home() -> BaseResponse:
    """Send the user to their team's first page (an admin: the first team)."""
    me = who()
    teams = run(lambda session, env, now: [team_view(t) for t in users.visible_teams(session, me)])
    if not teams:
        return redirect(url_for("console.no_team"))
    asked = request.args.get("team")
    chosen = next((t for t in teams if t.slug == asked), teams[0])
    endpoint = "console.dispatch_form" if me.role is users.Role.DISPATCH else "console.board"
    return redirect(url_for(endpoint, slug=chosen.slug))


@bp.get("/teams")
def no_team() -> tuple[str, int]:
    """Say that no team is configured (or the user's team is gone)."""
    return page("error.html", 200, title="No team", message="No team is configured for you yet.")


def _board(slug: str) -> tuple[TeamView, board_domain.Board, list[TeamView]]:
    """Load the board of the team in the URL, as this user may see it."""
    me = who()

    def work(
        session: Session, env: Env, now: datetime
    ) -> tuple[TeamView, board_domain.Board, list[TeamView]]:
        team = team_or_404(session, slug)
        if me.sees_support:
            shown = board_domain.board(session, env, now, team, viewer_id=me.id)
        else:  # dispatch: only the pages and call-outs this user made
            shown = board_domain.board(
                session, env, now, team, support=False, opened_by=me.id, viewer_id=me.id
            )
        teams = [team_view(t) for t in users.visible_teams(session, me)]
        return team_view(team), shown, teams

    return run(work)


@bp.get("/<slug>/")
def board(slug: str) -> Any:
    """Show the live board of a team."""
    team, shown, teams = _board(slug)
    return page("board.html", team=team, board=shown, teams=teams, section="board")


@bp.get("/<slug>/board/live")
def board_live(slug: str) -> Any:
    """Return the board's live part (polled by htmx every second)."""
    team, shown, _teams = _board(slug)
    return page("_board.html", team=team, board=shown)
