"""The console's forms (Flask-WTF: each carries its CSRF token); the templates render the choices."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, Optional

from callout.dispatch import MAX_NOTE


class LoginForm(FlaskForm):  # type: ignore[misc]
    """User name and password."""

    username = StringField("User name", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])


class CodeForm(FlaskForm):  # type: ignore[misc]
    """A six-digit code from an authenticator app."""

    code = StringField("Six-digit code", validators=[DataRequired(), Length(max=12)])


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something: only the CSRF token."""


class PageForm(FlaskForm):  # type: ignore[misc]
    """A dispatch page or a debrief call-out."""

    kind = StringField("What", default="page", validators=[DataRequired(), AnyOf(["page", "debrief"])])
    note = TextAreaField("What happened and where", validators=[DataRequired(), Length(max=MAX_NOTE)])
    callback = StringField("Number to call back (optional)", validators=[Optional(), Length(max=40)])
    skill = StringField("Only peers with this skill (debrief)", default="", validators=[Length(max=64)])


class UserForm(FlaskForm):  # type: ignore[misc]
    """A new console user."""

    username = StringField("User name", validators=[DataRequired(), Length(max=64)])
    # The least power until chosen: nobody becomes an admin or a director by a missed click.
    role = StringField("Role", default="viewer", validators=[DataRequired(), Length(max=16)])
    team = StringField("Team", validators=[Length(max=64)])
    password = PasswordField(
        "Password (at least 10 characters)", validators=[DataRequired(), Length(max=1000)]
    )


class PasswordForm(FlaskForm):  # type: ignore[misc]
    """A new password for someone else (an admin's or a director's reset)."""

    password = PasswordField("New password", validators=[DataRequired(), Length(max=1000)])


class OwnPasswordForm(FlaskForm):  # type: ignore[misc]
    """A user changing their own password."""

    current = PasswordField("Current password", validators=[DataRequired(), Length(max=1000)])
    password = PasswordField(
        "New password (at least 10 characters)", validators=[DataRequired(), Length(max=1000)]
    )


class TotpForm(FlaskForm):  # type: ignore[misc]
    """Turning two-factor codes on: the code the app shows for the secret offered."""

    code = StringField("Six-digit code from the app", validators=[DataRequired(), Length(max=12)])


class ReportForm(FlaskForm):  # type: ignore[misc]
    """The period of the statistics (GET: no CSRF token needed)."""

    class Meta:
        csrf = False

    start = StringField("From", validators=[Optional()])
    end = StringField("To (included)", validators=[Optional()])


class OverrideForm(FlaskForm):  # type: ignore[misc]
    """A peer made primary for a day or a range of days."""

    member = StringField("Peer", validators=[DataRequired(), Length(max=12)])
    first = StringField("First day", validators=[DataRequired(), Length(max=10)])
    last = StringField("Last day (included)", validators=[DataRequired(), Length(max=10)])


class MemberForm(FlaskForm):  # type: ignore[misc]
    """A member added or edited on the roster page."""

    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    phone = StringField("Mobile number", validators=[DataRequired(), Length(max=40)])
    role = StringField("Role", validators=[DataRequired(), Length(max=20)])
    skills = StringField("Skills (comma-separated)", validators=[Length(max=500)])
    force = StringField("Force", validators=[Length(max=5)])


class ImportForm(FlaskForm):  # type: ignore[misc]
    """A roster file, pasted or uploaded, to preview and then import."""

    text = TextAreaField("Roster (TOML or CSV)", validators=[Length(max=500_000)])
    format = StringField("Format", validators=[Length(max=4)])
    force = StringField("Force", validators=[Length(max=5)])
