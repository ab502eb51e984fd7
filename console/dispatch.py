"""The dispatch page: who is on call, the form for a page or a debrief, and the live status of each."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, redirect, url_for
from sqlalchemy.orm import Session

from callout import board as board_domain
from callout import dispatch as dispatch_domain
from callout import rotation
from callout.env import Env
from callout.models import Team
from console.forms import PageForm
from console.web import TeamView, bp, page, require, run, team_or_404, team_view, who


def _skills(session: Session, team: Team) -> list[str]:
    """Return the skills active peers have, for the debrief's choice."""
    tags = {
        tag.lstrip("#").lower()
        for peer in rotation.rotation_peers(session, team)
        for tag in peer.skills or []
    }
    return sorted(tags)


def _context(session: Session, env: Env, now: datetime, team: Team) -> dict[str, Any]:
    """Return what the dispatch page shows besides the form: on call now, and the user's own pages."""
    me = who()
    mine = board_domain.board(session, env, now, team, support=False, opened_by=me.id, viewer_id=me.id)
    return {
        "team": team_view(team),
        "oncall": dispatch_domain.oncall(session, env, now, team),
        "mine": mine,
        "skills": _skills(session, team),
        "section": "dispatch",
    }


KINDS = (("page", "Page the on-call peer"), ("debrief", "Call out the team for a debrief"))


def _form(skills: list[str]) -> PageForm:
    form = PageForm()
    form.kinds = KINDS
    form.skills = [("", "Any peer"), *((s, s) for s in skills)]
    return form


@bp.get("/<slug>/dispatch")
def dispatch_form(slug: str) -> Any:
    """Show who is on call and the page/debrief form."""
    context = run(lambda session, env, now: _context(session, env, now, team_or_404(session, slug)))
    require(who().can_dispatch)
    return page("dispatch.html", form=_form(context["skills"]), error=None, **context)


@bp.post("/<slug>/dispatch")
def dispatch_send(slug: str) -> Any:
    """Open a page or a debrief through the same checks as the dispatch API, then show its status."""
    me = who()
    skills = run(lambda session, env, now: _skills(session, team_or_404(session, slug)))
    require(me.can_dispatch)
    form = _form(skills)
    error = None
    if form.validate_on_submit():
        payload = {"kind": form.kind.data, "note": form.note.data, "callback": form.callback.data or None}
        if form.kind.data == "debrief" and form.skill.data:
            payload["skill"] = form.skill.data

        def work(session: Session, env: Env, now: datetime) -> str:
            team = team_or_404(session, slug)
            order = dispatch_domain.parse_order(payload)
            return dispatch_domain.open_page(session, env, now, team, order, opened_by=me.id).code

        try:
            code = run(work)
        except dispatch_domain.InvalidPage as exc:
            error = str(exc)
        else:
            return redirect(url_for("console.dispatch_status", slug=slug, code=code))
    else:
        error = "Say what happened and where (the note), and choose a page or a debrief."
    context = run(lambda session, env, now: _context(session, env, now, team_or_404(session, slug)))
    return page("dispatch.html", 400, form=form, error=error, **context)


def _status(slug: str, code: str) -> tuple[TeamView, dict[str, Any]]:
    """Load a page's status as the API describes it; 404 unless this user may see it."""
    me = who()

    def work(session: Session, env: Env, now: datetime) -> tuple[TeamView, dict[str, Any]] | None:
        team = team_or_404(session, slug)
        found = dispatch_domain.find_page(session, team, code)
        if found is None or (not me.sees_support and found.opened_by_user_id != me.id):
            return None
        return team_view(team), dispatch_domain.describe(env, found)

    loaded = run(work)
    if loaded is None:
        abort(404)
    require(me.can_dispatch)
    return loaded


@bp.get("/<slug>/dispatch/<code>")
def dispatch_status(slug: str, code: str) -> Any:
    """Show a page or a debrief: its status and tally, updated live."""
    team, status = _status(slug, code)
    return page("dispatch_status.html", team=team, status=status, section="dispatch")


@bp.get("/<slug>/dispatch/<code>/live")
def dispatch_live(slug: str, code: str) -> Any:
    """Return the status's live part."""
    team, status = _status(slug, code)
    return page("_dispatch_status.html", team=team, status=status)
