"""The roster page: members added, edited, deactivated, reactivated and reordered; the import with its diff.

Every change goes through callout.roster with the checks the command line makes (a role left with no active
member is refused unless forced), keeps who is on call now, and is written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from callout import auditlog, roster, testpage
from callout.env import Env
from callout.models import ROLES, Member, Team
from console.forms import ActionForm, ImportForm, MemberForm
from console.web import TeamView, bp, local, page, require, run, team_or_404, team_view, who

MAX_UPLOAD = 500_000


@dataclass(frozen=True)
class MemberRow:
    """A member as the roster page lists them."""

    id: int
    place: int
    name: str
    phone: str
    role: str
    skills: str
    active: bool
    status: str
    tested: datetime | None  # the last test page they confirmed
    can_test: bool  # a test page can reach them (active, not opted out)


def _actor() -> auditlog.Actor:
    return auditlog.Actor(who().username, "console")


def _status(team: Team, member: Member, now: datetime) -> str:
    if not member.active:
        return "inactive"
    if member.opted_out:
        return "opted out of texts"
    if member.away_until is not None and member.away_until > now:
        if member.away_until.year >= 9999:
            return "away until BACK"
        return f"away until {local(member.away_until, team.timezone)}"
    return "active"


def _rows(session: Session, team: Team, now: datetime) -> list[MemberRow]:
    return [
        MemberRow(
            m.id,
            place,
            m.name,
            m.phone,
            m.role,
            ", ".join(m.skills or []),
            m.active,
            _status(team, m, now),
            m.test_confirmed_at,
            m.active and not m.opted_out,
        )
        for place, m in enumerate(roster.members_of(session, team), 1)
    ]


def _team(session: Session, slug: str) -> Team:
    team = team_or_404(session, slug)
    require(who().can_change)
    return team


def _problem(exc: roster.RosterError) -> str:
    """Say a roster error in one paragraph, as the command line lists it."""
    return "; ".join(str(p) if p.position not in ("member", "roster") else p.reason for p in exc.problems)


def _roster_page(slug: str, status: int = 200, **extra: Any) -> Any:
    def work(session: Session, env: Env, now: datetime) -> tuple[TeamView, list[MemberRow]]:
        team = _team(session, slug)
        return team_view(team), _rows(session, team, now)

    team, rows = run(work)
    context: dict[str, Any] = {
        "form": MemberForm(),
        "import_form": ImportForm(),
        "error": None,
        "preview": None,
    }
    context.update(extra)
    return page(
        "roster.html",
        status,
        team=team,
        rows=rows,
        roles=ROLES,
        action=ActionForm(),
        section="roster",
        **context,
    )


@bp.get("/<slug>/roster")
def roster_page(slug: str) -> Any:
    """List the team's members in rotation order, with the forms that change them."""
    return _roster_page(slug)


def _entry(form: MemberForm) -> roster.RosterEntry:
    skills = [s for s in (form.skills.data or "").replace(";", ",").split(",") if s.strip()]
    return roster.new_entry(form.name.data or "", form.phone.data or "", form.role.data or "", skills)


@bp.post("/<slug>/roster/members")
def roster_add(slug: str) -> Any:
    """Add a member at the end of the rotation."""
    form = MemberForm()

    def work(session: Session, env: Env, now: datetime) -> str | None:
        team = _team(session, slug)
        try:
            diff = roster.add_member(session, team, _entry(form), now)
        except roster.RosterError as exc:
            return _problem(exc)
        auditlog.record(session, now, _actor(), "roster.add", diff.summary(), team)
        flash(f"Added {form.name.data}. " + " ".join(diff.notes()), "ok")
        return None

    error = run(work)
    if error is not None:
        return _roster_page(slug, 400, form=form, error=f"Not added: {error}.")
    return redirect(url_for("console.roster_page", slug=slug), 303)


def _member(session: Session, team: Team, member_id: int) -> Member:
    member = roster.member_of(session, team, member_id)
    if member is None:
        abort(404)
    return member


@bp.route("/<slug>/roster/members/<id:member_id>", methods=["GET", "POST"])
def roster_edit(slug: str, member_id: int) -> Any:
    """Show a member's form, or save it (a change that empties a role needs Force)."""
    form = MemberForm()

    def load(session: Session, env: Env, now: datetime) -> tuple[TeamView, dict[str, Any]]:
        team = _team(session, slug)
        m = _member(session, team, member_id)
        return team_view(team), {
            "id": m.id,
            "name": m.name,
            "phone": m.phone,
            "role": m.role,
            "skills": ", ".join(m.skills or []),
            "active": m.active,
        }

    def save(session: Session, env: Env, now: datetime) -> tuple[str | None, bool]:
        team = _team(session, slug)
        member = _member(session, team, member_id)
        try:
            diff = roster.edit_member(
                session, team, member, _entry(form), now, force=form.force.data == "yes"
            )
        except roster.EmptiesRole as exc:
            return f"Not saved: {exc.diff.refusal()}. Tick the box to save it anyway.", True
        except roster.RosterError as exc:
            return f"Not saved: {_problem(exc)}.", False
        if diff.applied:
            auditlog.record(session, now, _actor(), "roster.edit", diff.summary(), team)
        flash(f"Saved {form.name.data}." if diff.applied else "Nothing changed.", "ok")
        return None, False

    if request.method == "POST":
        error, refused = run(save)
        if error is None:
            return redirect(url_for("console.roster_page", slug=slug), 303)
        team, member = run(load)
        return page(
            "member.html",
            400,
            team=team,
            member=member,
            form=form,
            roles=ROLES,
            error=error,
            refused=refused,
            section="roster",
        )
    team, member = run(load)
    for name in ("name", "phone", "role", "skills"):
        getattr(form, name).data = member[name]
    return page(
        "member.html",
        team=team,
        member=member,
        form=form,
        roles=ROLES,
        error=None,
        refused=False,
        section="roster",
    )


@bp.post("/<slug>/roster/members/<id:member_id>/active")
def roster_active(slug: str, member_id: int) -> Any:
    """Deactivate or reactivate a member (the last of a role needs Force)."""
    active = request.form.get("active") == "yes"
    force = request.form.get("force") == "yes"

    def work(session: Session, env: Env, now: datetime) -> str | None:
        team = _team(session, slug)
        member = _member(session, team, member_id)
        try:
            diff = roster.set_active(session, team, member, active, now, force=force)
        except roster.EmptiesRole as exc:
            return f"Not deactivated: {exc.diff.refusal()}."
        if diff.applied:
            action = "roster.activate" if active else "roster.deactivate"
            auditlog.record(session, now, _actor(), action, diff.summary(), team)
        flash(f"{member.name} is {'active again' if active else 'inactive'}.", "ok")
        return None

    error = run(work)
    if error is not None:
        flash(error, "error")
    return redirect(url_for("console.roster_page", slug=slug), 303)


@bp.post("/<slug>/roster/members/<id:member_id>/move")
def roster_move(slug: str, member_id: int) -> BaseResponse:
    """Move a member up or down the rotation order (who is on call now stays on call)."""
    steps = -1 if request.form.get("direction") == "up" else 1

    def work(session: Session, env: Env, now: datetime) -> None:
        team = _team(session, slug)
        member = _member(session, team, member_id)
        diff = roster.move_member(session, team, member, steps, now)
        if diff.applied:
            auditlog.record(session, now, _actor(), "roster.move", diff.summary(), team)

    run(work)
    return redirect(url_for("console.roster_page", slug=slug) + f"#member-{member_id}", 303)


def _test_said(name: str, started: testpage.Started) -> tuple[str, str]:
    """Say what asking for a test page did, and whether it went out (flash category)."""
    if started.outcome is testpage.Outcome.PAGED:
        said = f"Test page {started.code} sent to {name}: their 1 confirms it, and the roster shows when."
        return said, "ok"
    if started.outcome is testpage.Outcome.WAITING:
        return f"{name} already has test page {started.code} waiting for their 1.", "info"
    if started.outcome is testpage.Outcome.OPTED_OUT:
        return f"No test sent: {name} opted out of texts (STOP). They text START first.", "error"
    return f"No test sent: {name} is inactive. Reactivate them first.", "error"


@bp.post("/<slug>/roster/members/<id:member_id>/test")
def roster_test(slug: str, member_id: int) -> BaseResponse:
    """Page a member a test, as their TEST would: their 1 confirms that pages reach them."""

    def work(session: Session, env: Env, now: datetime) -> tuple[str, str]:
        team = _team(session, slug)
        member = _member(session, team, member_id)
        started = testpage.send(session, env, now, member)
        if started.outcome is testpage.Outcome.PAGED:
            summary = f"sent test page {started.code} to {member.name}"
            auditlog.record(session, now, _actor(), "roster.test", summary, team)
        return _test_said(member.name, started)

    message, category = run(work)
    flash(message, category)
    return redirect(url_for("console.roster_page", slug=slug) + f"#member-{member_id}", 303)


def _parse(text: str, fmt: str) -> list[roster.RosterEntry]:
    if fmt == "csv":
        return roster.parse_csv(text, "the roster")
    return roster.parse_toml(text, "the roster")


def _import_text(form: ImportForm) -> tuple[str, str]:
    """Return the roster's text and format: the uploaded file's, else the pasted text."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        data = upload.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            abort(400, "That file is too large for a roster.")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            abort(400, "That file is not UTF-8 text: save it as UTF-8 and upload it again.")
        return text, "csv" if upload.filename.lower().endswith(".csv") else "toml"
    return form.text.data or "", "csv" if form.format.data == "csv" else "toml"


@bp.post("/<slug>/roster/import")
def roster_import_preview(slug: str) -> Any:
    """Show what importing a roster would change (the same diff as --dry-run), changing nothing."""
    form = ImportForm()
    text, fmt = _import_text(form)

    def work(session: Session, env: Env, now: datetime) -> tuple[Any, str | None]:
        team = _team(session, slug)
        try:
            diff = roster.import_roster(session, team, _parse(text, fmt), now, dry_run=True)
        except roster.RosterError as exc:
            return None, "; ".join(str(p) for p in exc.problems)
        return diff, None

    diff, error = run(work)
    form.text.data, form.format.data = text, fmt
    if error is not None:
        return _roster_page(slug, 400, import_form=form, import_error=f"Nothing imported: {error}.")
    return _roster_page(slug, import_form=form, preview=diff)


@bp.post("/<slug>/roster/import/apply")
def roster_import_apply(slug: str) -> Any:
    """Import the roster previewed (refused if it empties a role, unless forced)."""
    form = ImportForm()
    text, fmt = _import_text(form)

    def work(session: Session, env: Env, now: datetime) -> tuple[Any, str | None]:
        team = _team(session, slug)
        try:
            diff = roster.import_roster(session, team, _parse(text, fmt), now, force=form.force.data == "yes")
        except roster.EmptiesRole as exc:
            return exc.diff, f"Not imported: {exc.diff.refusal()}. Tick the box to import it anyway."
        except roster.RosterError as exc:
            return None, "Nothing imported: " + "; ".join(str(p) for p in exc.problems) + "."
        auditlog.record(session, now, _actor(), "roster.import", diff.summary(), team)
        flash(f"Imported: {diff}.", "ok")
        return diff, None

    diff, error = run(work)
    if error is not None:
        form.text.data, form.format.data = text, fmt
        return _roster_page(slug, 400, import_form=form, preview=diff, import_error=error)
    return redirect(url_for("console.roster_page", slug=slug), 303)
