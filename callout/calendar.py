"""Calendar feeds (RFC 5545): a member's own on-call shifts and AWAY, or a team's whole rotation.

A feed is reached by a random token in its URL (`/calendar/<token>.ics`). The database keeps the token's
SHA-256 (to find the feed) and the token encrypted under data_key (to give a member their link again by
SHIFTS); a dump of the database opens no feed. Rotating a token makes the old URL stop working.

A feed shows members' names only: never a number, nothing about requests. Phones poll feeds often, so a
feed is fingerprinted from its content (`Feed.etag`): an unchanged feed answers 304 without being rendered,
and a rendered body is kept in memory by its fingerprint. Last-Modified is when the fingerprint last changed.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from threading import Lock
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callout import shifts
from callout.env import Env
from callout.models import CalendarToken, Member, Team
from callout.shifts import Shift, Stretch, Why

log = logging.getLogger(__name__)

TEAM = "team"
PRODID = "-//Callout//Peer support on-call calendar//EN"
REFRESH = timedelta(hours=1)
_CACHE_SIZE = 256


def scope_of(member: Member | None) -> str:
    """Return the scope of a feed: the team's, or one member's."""
    return TEAM if member is None else f"member:{member.id}"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_for(session: Session, env: Env, team: Team, member: Member | None, now: datetime) -> str:
    """Return the feed token of the team (member None) or of a member, made on first use.

    A token whose copy cannot be decrypted (data_key changed, or none set) is replaced.
    """
    row = session.scalar(
        select(CalendarToken).where(CalendarToken.team_id == team.id, CalendarToken.scope == scope_of(member))
    )
    if row is not None:
        token = env.vault.decrypt(row.token_enc)
        if token is not None:
            return token
        log.warning("calendar: a %s feed token could not be read; issuing a new one", team.slug)
    return rotate(session, env, team, member, now)


def rotate(session: Session, env: Env, team: Team, member: Member | None, now: datetime) -> str:
    """Replace (or make) the feed token of the team or of a member; the old URL stops working."""
    token = secrets.token_urlsafe(24)
    row = session.scalar(
        select(CalendarToken).where(CalendarToken.team_id == team.id, CalendarToken.scope == scope_of(member))
    )
    if row is None:
        row = CalendarToken(team_id=team.id, scope=scope_of(member), member_id=member.id if member else None)
        session.add(row)
    row.token_hash, row.token_enc, row.created_at = _digest(token), env.vault.encrypt(token), now
    row.content_hash, row.changed_at = None, None
    session.flush()
    return token


def url(env: Env, token: str) -> str:
    """Return the feed URL of a token."""
    return f"{env.config.server.public_url.rstrip('/')}/calendar/{token}.ics"


def find(session: Session, token: str) -> CalendarToken | None:
    """Return the feed of a token, or None (an unknown token, or a member no longer active)."""
    if not 20 <= len(token) <= 64:
        return None
    row = session.scalar(select(CalendarToken).where(CalendarToken.token_hash == _digest(token)))
    if row is None or (row.member_id is not None and (row.member is None or not row.member.active)):
        return None
    return row


@dataclass(frozen=True)
class Event:
    """One event of a feed, as plain data (so a feed can be fingerprinted without rendering it)."""

    uid: str
    start: datetime
    end: datetime
    summary: str
    description: str


@dataclass
class Feed:
    """A feed's content, fingerprint and last change."""

    name: str
    zone: str
    events: list[Event]
    etag: str  # the fingerprint (unquoted)
    last_modified: datetime

    def render(self) -> bytes:
        """Return the feed as iCalendar bytes (kept in memory by fingerprint)."""
        with _cache_lock:
            cached = _cache.get(self.etag)
            if cached is not None:
                _cache.move_to_end(self.etag)
                return cached
        body = _render(self)
        with _cache_lock:
            _cache[self.etag] = body
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
        return body


_cache: OrderedDict[str, bytes] = OrderedDict()
_cache_lock = Lock()


def feed(session: Session, row: CalendarToken, now: datetime) -> Feed:
    """Work out a feed's events from the current shift to 90 days ahead, and its fingerprint.

    When the fingerprint changed since the feed was last served, the change is recorded (Last-Modified).
    """
    team = row.team
    ahead = shifts.shifts_ahead(session, team, now)
    if row.member_id is None:
        name = f"{team.name}: on call"
        events = _team_events(team, ahead)
    else:
        member = row.member
        assert member is not None
        name = f"{member.name}: on call ({team.name})"
        events = _member_events(team, member, ahead)
    fingerprint = hashlib.sha256(repr((name, team.timezone, events)).encode()).hexdigest()[:32]
    if row.content_hash != fingerprint or row.changed_at is None:
        # A conditional update: several processes serving one change record it once, the first time.
        session.execute(
            update(CalendarToken)
            .where(CalendarToken.id == row.id, CalendarToken.content_hash.is_distinct_from(fingerprint))
            .values(content_hash=fingerprint, changed_at=now.replace(microsecond=0))
            .execution_options(synchronize_session=False)
        )
        session.refresh(row)
    assert row.changed_at is not None
    return Feed(name, team.timezone, events, fingerprint, row.changed_at)


def _uid(team: Team, kind: str, start: datetime) -> str:
    return f"{team.slug}-{kind}-{start.astimezone(UTC):%Y%m%dT%H%M%SZ}@callout"


def _why(stretch: Stretch) -> str:
    """Say why a stretch has its primary, in a word or two."""
    override = stretch.override
    if stretch.why is Why.COVER and override is not None and override.cover is not None:
        asker = override.cover.initiator
        return f"Covering for {asker.name}." if asker else "Covering a shift."
    if stretch.why is Why.OVERRIDE:
        return "Override set by the director."
    if stretch.why is Why.STAND_IN and stretch.instead_of is not None:
        return f"Standing in for {stretch.instead_of.name}, who can't be paged then."
    return "The rotation."


def _team_events(team: Team, ahead: list[Shift]) -> list[Event]:
    """Return one event per shift (per stretch, where a shift changes hands), gaps included."""
    events = []
    for shift in ahead:
        for stretch in shift.stretches:
            if stretch.primary is None:
                summary = "NO PEER AVAILABLE"
                description = "Nobody on the rotation can be paged: the director should arrange cover."
            else:
                summary = f"On call: {stretch.primary.name}"
                description = f"First to be paged. {_why(stretch)}"
            events.append(
                Event(_uid(team, "shift", stretch.start), stretch.start, stretch.end, summary, description)
            )
    return events


def _member_events(team: Team, member: Member, ahead: list[Shift]) -> list[Event]:
    """Return the member's own stretches as primary (one per shift) and their AWAY period."""
    events = []
    for shift in ahead:
        for stretch in shift.stretches:
            if stretch.primary is not None and stretch.primary.id == member.id:
                description = f"You're first to be paged for {team.name}. {_why(stretch)}"
                events.append(
                    Event(
                        _uid(team, f"m{member.id}", stretch.start),
                        stretch.start,
                        stretch.end,
                        "On call",
                        description,
                    )
                )
    away = shifts.away_of(member)
    if away is not None and ahead and (away.end is None or away.end > ahead[0].start):
        zone = ZoneInfo(team.timezone)
        start = (away.start or ahead[0].start).astimezone(zone)
        end = (away.end or ahead[-1].end).astimezone(zone)
        until = "until you text BACK" if away.end is None else "until it ends"
        description = f"You're off the on-call list {until}; text BACK to rejoin sooner."
        events.append(Event(_uid(team, f"away{member.id}", start), start, end, "Away", description))
    return events


def _render(feed: Feed) -> bytes:
    """Build the iCalendar text: the team's VTIMEZONE, then the events."""
    zone = ZoneInfo(feed.zone)
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", feed.name)
    cal.add("x-wr-timezone", feed.zone)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", REFRESH)
    if feed.events:
        first = min(e.start for e in feed.events) - timedelta(days=1)
        last = max(e.end for e in feed.events) + timedelta(days=1)
    else:
        first = last = feed.last_modified
        last += timedelta(days=1)
    cal.add_component(icalendar.Timezone.from_tzinfo(zone, tzid=feed.zone, first_date=first, last_date=last))
    for item in feed.events:
        event = icalendar.Event()
        event.add("uid", item.uid)
        event.add("dtstamp", feed.last_modified.astimezone(UTC))
        event.add("dtstart", item.start.astimezone(zone))
        event.add("dtend", item.end.astimezone(zone))
        event.add("summary", item.summary)
        event.add("description", item.description)
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    body: bytes = cal.to_ical()
    return body
