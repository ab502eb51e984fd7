"""The database: teams, members, rotation, requests, pages and the outbox, and the names of their states.

Long on purpose: every table and the names of its states in one file, which tests/test_migrations.py compares
with the migrations. The states are StrEnums stored as their plain strings, so naming them took no migration.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as naive UTC; read them back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to naive UTC; reject naive ones."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to a stored naive datetime."""
        return None if value is None else value.replace(tzinfo=UTC)


E = TypeVar("E", bound=StrEnum)


class Named(TypeDecorator[E], Generic[E]):
    """Store a StrEnum as its string (the values are today's strings: no migration); read it back named.

    Writing a string that names no member fails at once, so a typo never reaches the database.
    """

    impl = String
    cache_ok = True

    def __init__(self, names: type[E], length: int) -> None:
        super().__init__(length)
        self.names = names

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Check value names a member; store its string."""
        return None if value is None else self.names(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        """Return the member a stored string names."""
        return None if value is None else self.names(value)


class RequestKind(StrEnum):
    """What a request is: someone asking for support, a dispatch page, a debrief, a COVER, a TEST page."""

    SUPPORT = "support"
    DISPATCH = "dispatch"
    DEBRIEF = "debrief"
    COVER = "cover"
    TEST = "test"


class Channel(StrEnum):
    """How a request came in, or how it (or a page) was answered."""

    SMS = "sms"
    VOICE = "voice"
    API = "api"


class RequestStatus(StrEnum):
    """Where a request stands: paging, accepted, nobody left to page (a late 1 still accepts), closed."""

    OPEN = "open"
    ACCEPTED = "accepted"
    EXHAUSTED = "exhausted"
    CLOSED = "closed"


class ClosedReason(StrEnum):
    """Why a request was closed."""

    DONE = "done"  # DONE by the member who accepted it, or a debrief closed by its initiator
    UNSPECIFIED = "unspecified"  # left accepted past [privacy] close_after
    UNANSWERED = "unanswered"  # a withheld call nobody took, or a test page nobody confirmed
    CONFIRMED = "confirmed"  # a test page confirmed
    TAKEN = "taken"  # a cover taken
    MOOT = "moot"  # a cover no longer needed
    WINDOW = "window"  # a debrief whose window ended


class PageState(StrEnum):
    """What became of one member's page."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TIMEOUT = "timeout"  # its step ended unanswered (a late 1 still accepts)
    FAILED = "failed"  # undeliverable
    STOOD_DOWN = "stood_down"  # someone else accepted
    RELEASED = "released"  # accepted, then handed back
    CLOSED = "closed"  # the request closed while it was pending


class CoverState(StrEnum):
    """What became of a COVER's shift stretch."""

    OPEN = "open"
    TAKEN = "taken"
    UNANSWERED = "unanswered"
    MOOT = "moot"


class OutboxStatus(StrEnum):
    """Where a message or call waiting to be sent stands."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"  # the provider could not deliver it (its status callback said)
    FAILED = "failed"
    EXPIRED = "expired"  # no longer of use (its step is over) before the provider took it


class HuntStatus(StrEnum):
    """Where a call to the support line stands."""

    DIALING = "dialing"
    ACCEPTED = "accepted"
    CALLBACK = "callback"  # nobody accepted: a text request to the caller was opened
    MISSED = "missed"  # nobody accepted a withheld call
    ABANDONED = "abandoned"  # Twilio never called back about it


class Base(DeclarativeBase):
    """The declarative base of every Callout table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON}


ROLES = ("peer", "psychologist", "director", "dispatch")


class Team(Base):
    """A peer support team, reached through its own support number."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    support_number: Mapped[str] = mapped_column(String(20), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    handoff: Mapped[str] = mapped_column(String(5))
    # Rotation anchor: on the shift that starts on anchor_shift (local date), the member
    # anchor_member_id is primary. Re-anchored on every roster change so nobody's shift moves.
    anchor_shift: Mapped[date | None] = mapped_column(Date, default=None)
    anchor_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", use_alter=True, name="fk_team_anchor_member"), default=None
    )
    # Counted up by the database (triggers, migration 0008) on every change to the team's members or
    # overrides: each process keeps the roster in memory while it stays the same (`callout.lineup`).
    roster_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    members: Mapped[list[Member]] = relationship(
        back_populates="team", foreign_keys="Member.team_id", order_by="Member.position"
    )


class Member(Base):
    """A person on a team's roster: a peer, the psychologist, the director or dispatch."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("team_id", "phone", name="uq_member_team_phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(20))
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # AWAY: until away_until (year 9999: until BACK); read it through callout.away, never alone.
    away_until: Mapped[datetime | None] = mapped_column(default=None)
    # When the AWAY running now was texted (its start, shown on the calendar); None when not away.
    away_since: Mapped[datetime | None] = mapped_column(default=None)
    # When the member last confirmed a TEST page with their 1 (None: never).
    test_confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    # The local day (team's zone) this member was last reminded, on accepting, of the confidentiality limits.
    limits_reminded_on: Mapped[date | None] = mapped_column(Date, default=None)

    team: Mapped[Team] = relationship(back_populates="members", foreign_keys=[team_id])


class Override(Base):
    """A shift swap: member is primary from starts_at to ends_at."""

    __tablename__ = "overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_at: Mapped[datetime]
    # The COVER request this override came from, when a peer took one (None: the director's own).
    cover_id: Mapped[int | None] = mapped_column(
        ForeignKey("requests.id", name="fk_overrides_cover_id"), default=None
    )

    member: Mapped[Member] = relationship()
    cover: Mapped[Request | None] = relationship()


class CalendarToken(Base):
    """A calendar feed token (a member's own feed, or the team's): its SHA-256 and a copy under data_key."""

    __tablename__ = "calendar_tokens"
    __table_args__ = (UniqueConstraint("team_id", "scope", name="uq_calendar_token_scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    scope: Mapped[str] = mapped_column(String(32))  # "team" | "member:<id>"
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    # The fingerprint of the feed last served, and when it changed (the feed's Last-Modified).
    content_hash: Mapped[str | None] = mapped_column(String(32), default=None)
    changed_at: Mapped[datetime | None] = mapped_column(default=None)

    team: Mapped[Team] = relationship()
    member: Mapped[Member | None] = relationship()


class Request(Base):
    """A request for support, a dispatch page or a debrief call-out; anonymous once purged."""

    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_due", "status", "step_deadline"),
        Index("ix_requests_team_code", "team_id", "code"),
        # One open support request per sender: two texts handled at once by two processes can't both open one.
        Index(
            "uq_requests_open_contact",
            "team_id",
            "contact_key",
            unique=True,
            sqlite_where=text("status = 'open' AND contact_key IS NOT NULL"),
            postgresql_where=text("status = 'open' AND contact_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    code: Mapped[str] = mapped_column(String(8))
    kind: Mapped[RequestKind] = mapped_column(Named(RequestKind, 16))
    channel: Mapped[Channel] = mapped_column(Named(Channel, 8))
    status: Mapped[RequestStatus] = mapped_column(Named(RequestStatus, 16), default=RequestStatus.OPEN)
    # Contact details: Fernet ciphertext, erased by the purge. contact_key is a keyed hash
    # (HMAC under data_key) that finds a sender's open request without storing the number.
    contact_enc: Mapped[str | None] = mapped_column(Text, default=None)
    contact_key: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    note_enc: Mapped[str | None] = mapped_column(Text, default=None)
    # The dispatcher or director who raised a page or debrief (never set for support requests).
    initiator_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    skill: Mapped[str | None] = mapped_column(String(64), default=None)
    opened_at: Mapped[datetime]
    step: Mapped[int] = mapped_column(Integer, default=0)
    step_deadline: Mapped[datetime | None] = mapped_column(default=None)
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    accepted_channel: Mapped[Channel | None] = mapped_column(Named(Channel, 8), default=None)
    exhausted_at: Mapped[datetime | None] = mapped_column(default=None)
    # Every page declined when it ran out of people: the outcome the report needs once the purge has
    # deleted the pages (who was paged is no part of the anonymous record).
    declined_by_all: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The requester was told, once, that their texts reach no peer before one accepts (nothing is kept).
    told_unrelayed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_reason: Mapped[ClosedReason | None] = mapped_column(Named(ClosedReason, 16), default=None)
    content_area: Mapped[str | None] = mapped_column(String(40), default=None)
    overtime: Mapped[bool] = mapped_column(Boolean, default=False)
    reminded_at: Mapped[datetime | None] = mapped_column(default=None)
    purge_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    purged_at: Mapped[datetime | None] = mapped_column(default=None)
    tally_sent_at: Mapped[datetime | None] = mapped_column(default=None)
    tally_dirty: Mapped[bool] = mapped_column(Boolean, default=False)
    # The console user who raised a page or debrief from the console (never set for support requests).
    opened_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None, index=True)

    team: Mapped[Team] = relationship()
    accepted_by: Mapped[Member | None] = relationship(foreign_keys=[accepted_by_id])
    initiator: Mapped[Member | None] = relationship(foreign_keys=[initiator_id])
    pages: Mapped[list[Page]] = relationship(back_populates="request", order_by="Page.id")


class Cover(Base):
    """The shift stretch a COVER request asks the other peers to take, and what became of it."""

    __tablename__ = "covers"
    __table_args__ = (
        # One open cover per stretch: the same COVER texted twice at once asks once.
        Index(
            "uq_covers_open_start",
            "team_id",
            "starts_at",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
        Index("ix_covers_state_alert", "state", "alert_at"),
    )

    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    asker_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    alert_at: Mapped[datetime]  # when the director is alerted if nobody has taken it
    alerted_at: Mapped[datetime | None] = mapped_column(default=None)
    state: Mapped[CoverState] = mapped_column(Named(CoverState, 16), default=CoverState.OPEN)

    request: Mapped[Request] = relationship()
    asker: Mapped[Member] = relationship()


class Page(Base):
    """One member paged for one step of a request, and what became of it."""

    __tablename__ = "pages"
    __table_args__ = (
        UniqueConstraint("request_id", "member_id", "step", name="uq_page_request_member_step"),
        Index("ix_pages_call_due", "state", "call_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    # "peer"; the name of the fallback role paged, as configured ("psychologist", "director"); or the kind of
    # request that pages its own way: "debrief", "cover", "test"
    tier: Mapped[str] = mapped_column(String(16))
    paged_at: Mapped[datetime]
    state: Mapped[PageState] = mapped_column(Named(PageState, 16), default=PageState.PENDING)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    answer_channel: Mapped[Channel | None] = mapped_column(Named(Channel, 8), default=None)
    call_at: Mapped[datetime | None] = mapped_column(default=None)
    called_at: Mapped[datetime | None] = mapped_column(default=None)
    call_status: Mapped[str | None] = mapped_column(String(20), default=None)
    delivery_status: Mapped[str | None] = mapped_column(String(20), default=None)

    request: Mapped[Request] = relationship(back_populates="pages")
    member: Mapped[Member] = relationship()


class Outbox(Base):
    """A message or call waiting to be handed to the transport; its address and text are encrypted."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), default=None, index=True)
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id"), default=None)
    channel: Mapped[str] = mapped_column(String(8))  # sms | call
    purpose: Mapped[str] = mapped_column(String(24))  # page | notice | requester | contact | call
    to_enc: Mapped[str | None] = mapped_column(Text, default=None)
    body_enc: Mapped[str | None] = mapped_column(Text, default=None)
    validity: Mapped[int | None] = mapped_column(Integer, default=None)
    status: Mapped[OutboxStatus] = mapped_column(Named(OutboxStatus, 16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    provider_sid: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    error: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime]

    page: Mapped[Page | None] = relationship()


class InboundSeen(Base):
    """A hash of an inbound MessageSid already processed (so a retry is processed once)."""

    __tablename__ = "inbound_seen"

    sid_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(index=True)


class JobRun(Base):
    """One firing of a cron job, claimed by exactly one process."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    ran_at: Mapped[datetime]


class ScanNote(Base):
    """Until when a periodic scan has nothing to do for a team, while what it depends on stays the same.

    Written in the scan's own transaction, with what the scan sent (`callout.quiet`); any process reads it.
    """

    __tablename__ = "scan_notes"

    scan: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # a digest of what the answer depends on
    since: Mapped[datetime]
    until: Mapped[datetime]


class ProviderRecord(Base):
    """The provider's id of a message or call about a request, encrypted; deleted there after the purge."""

    __tablename__ = "provider_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Set while the request lives; cleared at the purge, when the record is queued for deletion.
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), default=None, index=True)
    sid_enc: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    created_at: Mapped[datetime]


class VoiceHunt(Base):
    """A call to the support line hunting the on-call list one callee at a time; anonymous once it ends."""

    __tablename__ = "voice_hunts"
    __table_args__ = (Index("ix_voice_hunts_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The opaque id in our action URLs (never a phone number).
    token: Mapped[str] = mapped_column(String(32), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    # A digest of the CallSid, so a retried webhook continues the same hunt; erased when the hunt ends.
    call_sid_hash: Mapped[str | None] = mapped_column(String(64), default=None, unique=True)
    # Ids of the members to ring, in order, fixed when the call came in; position is the one ringing now.
    members: Mapped[list[int]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[HuntStatus] = mapped_column(Named(HuntStatus, 16), default=HuntStatus.DIALING)
    # The caller's number as Fernet ciphertext while the hunt runs; erased when it ends.
    caller_enc: Mapped[str | None] = mapped_column(Text, default=None)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), default=None)
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)

    team: Mapped[Team] = relationship()
    request: Mapped[Request | None] = relationship()


class ConsoleUser(Base):
    """Someone who logs in to the director's console: an admin, a director, dispatch or a viewer."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # admin | director | dispatch | viewer
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), default=None, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Bumped when the password changes: a two-factor step begun with the old password cannot finish.
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    # The TOTP secret, encrypted under a key derived from the console secret; None: no two-factor code.
    totp_secret_enc: Mapped[str | None] = mapped_column(Text, default=None)
    # The last TOTP time step accepted, so one code never logs in twice.
    totp_last_step: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)

    team: Mapped[Team | None] = relationship()


class ConsoleLogin(Base):
    """An open console session: the browser's cookie holds its token, the database its hash and last click.

    Deleting the row ends the session, whatever cookie a browser (or whoever copied it) still holds.
    """

    __tablename__ = "console_logins"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the cookie's token, hex
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The user's role and team when they logged in: a session never outlives a change of either.
    role: Mapped[str] = mapped_column(String(16))
    team_id: Mapped[int | None] = mapped_column(Integer, default=None)
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime] = mapped_column(index=True)  # the last request that counted as activity


class LoginFailure(Base):
    """One failed (or still unfinished) console login, under a hash of the user name or the address."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(index=True)


class AuditEntry(Base):
    """Who changed what in the console or on the command line (never anything about a requester)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_team_at", "team_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))  # a console user name, or the system user of the CLI
    via: Mapped[str] = mapped_column(String(8))  # console | cli
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), default=None)
    action: Mapped[str] = mapped_column(String(40))  # e.g. user.add, roster.deactivate, override.add
    summary: Mapped[str] = mapped_column(Text)

    team: Mapped[Team | None] = relationship()


class StoredSecret(Base):
    """A random secret made once and shared by every process through the database (embedded defaults)."""

    __tablename__ = "stored_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
