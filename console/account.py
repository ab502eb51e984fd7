"""The account page: one's own password, and two-factor codes (TOTP) from an authenticator app."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import segno
from flask import abort, flash, redirect, session, url_for
from flask_login import login_user
from markupsafe import Markup
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from callout import auditlog, logins, users
from callout.env import Env
from console.auth import Login
from console.forms import ActionForm, OwnPasswordForm, TotpForm
from console.web import bp, page, run, runtime, state, who


def _actor() -> auditlog.Actor:
    return auditlog.Actor(who().username, "console")


def _account_page(status: int = 200, error: str | None = None) -> Any:
    me = who()
    required = users.totp_required(me.role, runtime().config.console.require_totp)
    return page(
        "account.html",
        status,
        password_form=OwnPasswordForm(),
        action=ActionForm(),
        required=required,
        error=error,
        section="account",
    )


@bp.get("/account")
def account() -> Any:
    """Show the user's account: password and two-factor codes."""
    return _account_page()


@bp.post("/account/password")
def account_password() -> Any:
    """Change one's own password (the current one first); other sessions end, this one goes on."""
    form = OwnPasswordForm()
    me = who()

    def work(s: Session, env: Env, now: datetime) -> str | tuple[users.Principal, str]:
        user = users.get(s, me.id)
        if user is None:
            abort(404)
        if users.authenticate(s, user.username, form.current.data or "") is None:
            return "The current password is not right."
        try:
            users.set_password(s, now, user, form.password.data or "")
        except users.UserError as exc:
            return str(exc)[:1].upper() + str(exc)[1:] + "."
        auditlog.record(
            s, now, _actor(), "user.password", f"{user.username}: changed their own password", user.team
        )
        return users.principal(user), logins.start(s, now, user)  # every session ended: this browser's anew

    outcome = run(work)
    if isinstance(outcome, str):
        return _account_page(400, outcome)
    login_user(Login(*outcome))
    flash("Password changed. Your other sessions have ended.", "ok")
    return redirect(url_for("console.account"))


def _qr_svg(uri: str) -> Markup:
    """Return the otpauth URI as an inline SVG QR code."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(
        out, kind="svg", scale=5, border=2, xmldecl=False, svgns=True, dark="#111"
    )
    return Markup(out.getvalue().decode())


@bp.get("/account/totp")
def totp_start() -> Any:
    """Offer a new two-factor secret: a QR code to scan, and the key to type in."""
    me = who()
    secret = users.new_totp_secret()
    session["totp_offer"] = state().box.seal(secret)
    uri = users.totp_uri(secret, me.username)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    required = users.totp_required(me.role, runtime().config.console.require_totp)
    return page(
        "totp.html",
        form=TotpForm(),
        qr=_qr_svg(uri),
        key=grouped,
        error=None,
        required=required,
        section="account",
    )


@bp.post("/account/totp")
def totp_enable() -> Any:
    """Turn two-factor codes on once the app shows the right code for the secret offered."""
    me = who()
    form = TotpForm()
    sealed = session.get("totp_offer")
    secret = state().box.open(sealed) if isinstance(sealed, str) else None
    if secret is None:
        return redirect(url_for("console.totp_start"))
    box = state().box

    def work(s: Session, env: Env, now: datetime) -> bool:
        user = users.get(s, me.id)
        if user is None:
            abort(404)
        if not users.enable_totp(user, box, secret, form.code.data or "", now):
            return False
        auditlog.record(
            s, now, _actor(), "user.totp", f"{user.username}: turned on two-factor codes", user.team
        )
        return True

    if not run(work):
        uri = users.totp_uri(secret, me.username)
        grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
        required = users.totp_required(me.role, runtime().config.console.require_totp)
        return page(
            "totp.html",
            400,
            form=form,
            qr=_qr_svg(uri),
            key=grouped,
            required=required,
            error="That code is not right. Check the phone's clock, and type the code shown now.",
            section="account",
        )
    session.pop("totp_offer", None)
    flash("Two-factor codes are on: each login now asks for the code your app shows.", "ok")
    return redirect(url_for("console.account"))


@bp.post("/account/totp/off")
def totp_disable() -> BaseResponse:
    """Turn one's two-factor codes off (refused when the role requires them)."""
    me = who()
    if users.totp_required(me.role, runtime().config.console.require_totp):
        abort(403)

    def work(s: Session, env: Env, now: datetime) -> None:
        user = users.get(s, me.id)
        if user is None:
            abort(404)
        users.disable_totp(user)
        auditlog.record(
            s, now, _actor(), "user.totp", f"{user.username}: turned off two-factor codes", user.team
        )

    run(work)
    flash("Two-factor codes are off.", "ok")
    return redirect(url_for("console.account"))
