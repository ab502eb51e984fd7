"""The station poster and the member's wallet card: print-ready HTML pages made from the team's settings.

Every sentence that also goes out by SMS (the limits of confidentiality, what is kept, the crisis lines, a
page) comes from messages.py, so the paper and the phone can never disagree. Nothing here reads the
database: no member's name or number can appear on either paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import phonenumbers
import segno
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from callout import durations, messages
from callout.config import Config, TeamConfig

# The member commands the card lists, as SPEC names them: (what to text, what it does).
CARD_COMMANDS = (
    ("1 [CODE]", "accept a page (YES works too)"),
    ("2 [CODE]", "pass: the next person is paged at once"),
    ("DONE [CODE] [area] [OT]", "close: the general topic; OT if off duty"),
    ("RELEASE [CODE]", "hand it back (called to a scene)"),
    ("AWAY [2d] / BACK", "off the on-call list, for a while or until BACK"),
    ("WHO", "who is on call now and next"),
    ("SHIFTS", "your next shifts and your calendar link"),
    ("COVER [DATE]", "ask the other peers to take a shift of yours"),
    ("TEST", "a test page: reply 1 when it arrives"),
    ("TALK", "support for you: another peer contacts you"),
    ("?", "the commands; PRIVACY: what is kept"),
)
SAMPLE_CODE = "K7QD"  # a code as pages show them (no look-alike characters)
CARDS_PER_PAGE = 4
LONG_NAME = 40  # a team name longer than this is printed on the card in plain case, to fit fewer lines

_templates = Environment(
    loader=PackageLoader("callout", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Line:
    """What both papers say about one team's line."""

    team: str
    number: str  # as people dial it: (432) 555-0100
    e164: str
    sms_uri: str
    limits: str
    kept: str
    crisis_911: str
    crisis_988: str
    page: str
    qr_svg: Markup


def line(config: Config, team: TeamConfig) -> Line:
    """Gather what the papers say: the number, its QR code, the limits, what is kept, the crisis lines."""
    parsed = phonenumbers.parse(team.support_number)
    number = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    uri = f"sms:{team.support_number}"  # RFC 5724: opens a new text to the number
    qr = segno.make(uri, error="m")
    svg = qr.svg_inline(omitsize=True, dark="#000", svgclass="qr", lineclass=None)
    return Line(
        team=team.name,
        number=number,
        e164=team.support_number,
        sms_uri=uri,
        limits=team.confidentiality_limits,
        kept=messages.privacy_kept(durations.short(config.privacy.purge_after)),
        crisis_911=messages.CRISIS_911,
        crisis_988=messages.CRISIS_988,
        page=messages.page(SAMPLE_CODE, "support", durations.short(team.escalation.ack_timeout)),
        qr_svg=Markup(svg),  # segno's own SVG: no text of ours in it
    )


def poster(config: Config, team: TeamConfig) -> str:
    """Render the one-page station poster (Letter or A4) as self-contained HTML."""
    return _render("poster.html", line=line(config, team))


def card(config: Config, team: TeamConfig) -> str:
    """Render a page of fold-over wallet cards for members (Letter or A4) as self-contained HTML."""
    return _render(
        "card.html",
        line=line(config, team),
        commands=CARD_COMMANDS,
        reminder=messages.limits_reminder(team.confidentiality_limits),
        long_name=len(team.name) > LONG_NAME,
        copies=range(CARDS_PER_PAGE),
    )


def _render(name: str, **context: Any) -> str:
    return _templates.get_template(name).render(**context)
