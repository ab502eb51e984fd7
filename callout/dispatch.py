"""The dispatch API's domain side: whose token it is, what a page order says, and what the API shows.

What the API shows is for dispatch: codes, states, times and members' names and roles. Never a phone number
(neither members' nor the callback), never a dispatcher's note, and never anything about support requests.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callout import debrief, escalation, requests, rotation
from callout.commands import looks_like_code
from callout.config import Config, TeamConfig
from callout.env import Env
from callout.models import Channel, PageState, Request, RequestKind, RequestStatus, Team
from callout.phones import InvalidPhone, to_e164

MAX_NOTE = 500  # characters: the note goes out by SMS to the members who accept
KINDS = {"page": RequestKind.DISPATCH, "debrief": RequestKind.DEBRIEF}  # the API's words -> Request.kind
API_KIND = {kind: word for word, kind in KINDS.items()}
FIELDS = ("kind", "note", "callback", "skill")


class InvalidPage(ValueError):
    """A page order that cannot be carried out; the message says why, for the caller."""


@dataclass(frozen=True)
class PageOrder:
    """A checked page order: the kind of request to open, the note, the callback number and the skill."""

    kind: RequestKind  # dispatch or debrief
    note: str
    callback: str | None = None
    skill: str | None = None


def team_for_token(config: Config, token: str) -> TeamConfig | None:
    """Return the team whose dispatch token this is; teams with no token configured have no API."""
    found = None
    for team in config.teams:  # every team is compared, in constant time, so timing tells nothing
        if team.dispatch_token and hmac.compare_digest(team.dispatch_token.encode(), token.encode()):
            found = team
    return found


def is_text(value: str) -> bool:
    """Tell whether value is text that can be stored and sent: JSON's "\\ud800" is a string, not text."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(payload: Mapping[str, Any], name: str, max_length: int | None = None) -> str | None:
    """Return a string field stripped (None when absent, null or blank); raise InvalidPage if it is not one.

    max_length applies to the value as sent (as the OpenAPI schema says), not to what stripping leaves.
    """
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidPage(f"{name} must be a string")
    if not is_text(value):
        raise InvalidPage(f"{name} is not text: it holds a lone surrogate (such as \\ud800); send UTF-8 text")
    if max_length is not None and len(value) > max_length:
        raise InvalidPage(f"{name} is too long ({len(value)} characters, at most {max_length})")
    return value.strip() or None


def parse_order(payload: object) -> PageOrder:
    """Check a POST /api/v1/pages body; raise InvalidPage saying what is wrong with it."""
    if not isinstance(payload, dict):
        raise InvalidPage("the body must be a JSON object")
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        raise InvalidPage(f"unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)})")
    kind = payload.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise InvalidPage('kind must be "page" or "debrief"')
    note = _text(payload, "note", MAX_NOTE)
    if note is None:
        raise InvalidPage("note is required: what happened and where")
    callback = _text(payload, "callback")
    if callback is not None:
        try:
            callback = to_e164(callback)
        except InvalidPhone as exc:
            raise InvalidPage(f"callback: {exc}") from None
    skill = _text(payload, "skill")
    if skill is not None:
        if kind != "debrief":
            raise InvalidPage("skill is for a debrief only")
        skill = skill.lstrip("#").lower()
    return PageOrder(KINDS[kind], note, callback, skill or None)


def open_page(
    session: Session, env: Env, now: datetime, team: Team, order: PageOrder, opened_by: int | None = None
) -> Request:
    """Open the page or debrief (its first members are paged at once); raise InvalidPage for a bad skill.

    opened_by is the console user who raised it (None for the API).
    """
    if order.skill is not None:
        problem = debrief.check_skill(session, team, order.skill)
        if problem is not None:
            raise InvalidPage(f"unknown skill {order.skill!r}: no active peer has it")
    request = escalation.open_request(
        session,
        env,
        now,
        team,
        kind=order.kind,
        channel=Channel.API,
        contact=order.callback,
        note=order.note,
        skill=order.skill,
        opened_by=opened_by,
    )
    return request


def find_page(session: Session, team: Team, code: str) -> Request | None:
    """Return the team's dispatch page or debrief with this code (the live one, else the latest)."""
    if not looks_like_code(code):
        return None
    return session.scalar(
        select(Request)
        .where(
            Request.team_id == team.id,
            Request.code == code.upper(),
            Request.kind.in_(tuple(KINDS.values())),
        )
        .order_by(Request.status.in_(requests.LIVE).desc(), Request.id.desc())
        .limit(1)
    )


def iso(at: datetime | None) -> str | None:
    """Return an aware time as ISO 8601 in UTC ("2026-03-10T15:00:00Z"), or None."""
    if at is None:
        return None
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def summary(request: Request) -> dict[str, Any]:
    """Return what POST /api/v1/pages answers: the code, the kind, the status and how many were paged."""
    return {
        "code": request.code,
        "kind": API_KIND[request.kind],
        "status": request.status,
        "paged": len(request.pages),
    }


def describe(env: Env, request: Request) -> dict[str, Any]:
    """Return what GET /api/v1/pages/CODE shows: status, times, who accepted and who responded, by name."""
    if request.kind == RequestKind.DEBRIEF:
        counted = debrief.tally(request)
        yes, no = counted.yes, counted.no
        window = env.team(request.team).debrief.window
        closes_at = iso(request.opened_at + window) if request.status == RequestStatus.OPEN else None
    else:
        yes = [request.accepted_by.name] if request.accepted_by is not None else []
        no = [p.member.name for p in request.pages if p.state == PageState.DECLINED]
        closes_at = None
    return {
        **summary(request),
        "channel": request.channel,
        "skill": request.skill,
        "opened_at": iso(request.opened_at),
        "accepted_at": iso(request.accepted_at),
        "accepted_by": request.accepted_by.name if request.accepted_by is not None else None,
        "exhausted_at": iso(request.exhausted_at),
        "closes_at": closes_at,
        "closed_at": iso(request.closed_at),
        "responders": {"yes": yes, "no": no},
    }


def oncall(session: Session, env: Env, now: datetime, team: Team) -> dict[str, Any]:
    """Return the availability list now (names and roles, in paging order), the fallback and the shift."""
    policy = env.team(team).escalation
    start, end = rotation.shift_bounds(team, now)
    available = rotation.availability_list(session, team, now)
    fallback = [
        {"name": member.name, "role": role}
        for role in policy.fallback
        for member in rotation.fallback_members(session, team, role, now)
    ]
    return {
        "team": team.slug,
        "at": iso(now),
        "shift": {"start": iso(start), "end": iso(end)},
        "peers_paged": policy.peers,
        "oncall": [{"name": member.name, "role": member.role} for member in available],
        "fallback": fallback,
    }
