"""The outbox: messages and calls written in the same transaction as the change that causes them.

Rows are claimed by one sender with a conditional update, so a restart never loses one and two
processes never send the same one. Addresses and texts are encrypted, and erased once sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, func, insert, literal, or_, select, union_all, update
from sqlalchemy.orm import Session

from callout.env import Env
from callout.models import Member, Outbox, OutboxStatus, Page, PageState, Request, Team

# A message the provider failed to take is tried again after 1 s, 2 s, 4 s ... at most MAX_BACKOFF apart
# (or after the Retry-After the provider asked for), for as long as it is of use: a page while its step lasts
# (its validity), anything else for PROVIDER_PATIENCE. The provider's failure is nobody's: it never pages the
# next person, however many tries it takes.
MAX_BACKOFF = timedelta(seconds=15)
PROVIDER_PATIENCE = timedelta(hours=1)
# Texts holding a requester's number or words: to the requester, or to the member who accepted ("contact").
# The provider is asked to keep neither text nor address, and they go from the support number itself.
PRIVATE = ("requester", "contact")


def stuck_after(rest_timeout: timedelta) -> timedelta:
    """Return how old a claim must be to belong to a process that died mid-send.

    A live sender hands a row over within one REST call ([twilio] timeout) and records the outcome at
    once; twice that and a few seconds more is no live send. Shorter would send a slow page twice,
    longer would hold back a page a crash interrupted.
    """
    return 2 * rest_timeout + timedelta(seconds=5)


def enqueue_sms(
    session: Session,
    env: Env,
    now: datetime,
    team: Team,
    to: str,
    body: str,
    *,
    purpose: str,
    request: Request | None = None,
    page: Page | None = None,
    validity: timedelta | None = None,
) -> Outbox:
    """Queue an SMS; a purpose in PRIVATE asks the provider to keep neither text nor address."""
    row = Outbox(
        team_id=team.id,
        request_id=request.id if request else None,
        page=page,  # its id once the page is written: a page and its SMS go in one flush
        channel="sms",
        purpose=purpose,
        to_enc=env.vault.encrypt(to),
        body_enc=env.vault.encrypt(body),
        validity=int(validity.total_seconds()) if validity else None,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    return row


_INSERT = insert(Outbox)
_INSERT_CLAIMED = insert(Outbox).returning(Outbox.id, Outbox.page_id)
# session.info keys: the sender that takes rows claimed by the transaction itself (`Hands`), and the rows
# so claimed, which the runtime hands to it once the transaction commits (`Runtime.run`).
HANDS = "callout.outbox.hands"
CLAIMED = "callout.outbox.claimed"


class Hands(Protocol):
    """This process's sender, as a transaction that queues pages sees it."""

    def reserve(self, wanted: int) -> int:
        """Take up to wanted free threads for rows claimed now; return how many were taken."""
        ...

    def release(self, count: int) -> None:
        """Give back threads taken for rows that will not be sent (their transaction rolled back)."""
        ...


def enqueue_pages(
    session: Session,
    env: Env,
    now: datetime,
    request: Request,
    pages: Sequence[tuple[int, str]],
    body: str,
    validity: timedelta,
) -> None:
    """Queue the SMS of each (page id, phone), valid while the step lasts: the hot path's outbox rows.

    As many as this process's sender has free threads for are claimed in this very transaction and
    handed to it as soon as it commits: a page needs no claim of its own before its REST call (on
    SQLite, no wait for the write lock). The rest wait in the outbox for the next claim, any process's.
    """
    vault = env.vault
    hands: Hands | None = session.info.get(HANDS)
    at_once = hands.reserve(len(pages)) if hands is not None else 0
    rows: list[dict[str, Any]] = [
        {
            "team_id": request.team_id,
            "request_id": request.id,
            "page_id": page_id,
            "channel": "sms",
            "purpose": "page",
            "to_enc": vault.encrypt(phone),
            "body_enc": vault.encrypt(body),
            "validity": int(validity.total_seconds()),
            "status": OutboxStatus.SENDING if n < at_once else OutboxStatus.PENDING,
            "attempts": 1 if n < at_once else 0,
            "claimed_at": now if n < at_once else None,
            "next_attempt_at": now,
            "created_at": now,
        }
        for n, (page_id, phone) in enumerate(pages)
    ]
    connection = session.connection()
    if at_once:
        try:
            written = dict(
                (page_id, row_id) for row_id, page_id in connection.execute(_INSERT_CLAIMED, rows[:at_once])
            )
        except BaseException:
            assert hands is not None
            hands.release(at_once)
            raise
        session.info.setdefault(CLAIMED, []).extend(
            Claimed(
                written[row["page_id"]],
                row["team_id"],
                row["page_id"],
                "sms",
                "page",
                row["to_enc"],
                row["body_enc"],
                row["validity"],
                now,
                request.team.support_number,
                PageState.PENDING,
            )
            for row in rows[:at_once]
        )
    if rows[at_once:]:
        connection.execute(_INSERT, rows[at_once:])


def claimed_so_far(session: Session) -> int:
    """Return how many rows this transaction has claimed for its sender (a mark for unclaim_since)."""
    return len(session.info.get(CLAIMED, ()))


def unclaim_since(session: Session, mark: int) -> None:
    """Forget the rows claimed since mark (a savepoint that wrote them rolled back) and free their threads."""
    claimed: list[Claimed] = session.info.get(CLAIMED, [])
    dropped = len(claimed) - mark
    if dropped > 0:
        del claimed[mark:]
        hands: Hands = session.info[HANDS]
        hands.release(dropped)


def notify(
    session: Session, env: Env, now: datetime, member: Member, body: str, request: Request | None = None
) -> None:
    """Queue a notice to a member (not a page), unless they opted out of texts."""
    if not member.opted_out:
        enqueue_sms(session, env, now, member.team, member.phone, body, purpose="notice", request=request)


def hand_over(session: Session, env: Env, now: datetime, member: Member, body: str, request: Request) -> None:
    """Queue the text that gives the member who took request its requester's number (or dispatch's note).

    Like a text to the requester, it goes from the support number, the provider is asked to keep neither
    body nor address, and its id is kept to delete the provider's copy after the purge. Not to a member who
    opted out of texts (the provider would refuse it).
    """
    if not member.opted_out:
        enqueue_sms(session, env, now, member.team, member.phone, body, purpose="contact", request=request)


def enqueue_call(session: Session, env: Env, now: datetime, page: Page) -> Outbox:
    """Queue a call to a paged member; its TwiML is served for this page."""
    row = Outbox(
        team_id=page.request.team_id,
        request_id=page.request_id,
        page_id=page.id,
        channel="call",
        purpose="call",
        to_enc=env.vault.encrypt(page.member.phone),
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    return row


@dataclass(frozen=True)
class Claimed:
    """An outbox row claimed for sending, with what sending it needs (read in the claim's transaction)."""

    id: int
    team_id: int
    page_id: int | None
    channel: str
    purpose: str
    to_enc: str | None
    body_enc: str | None
    validity: int | None
    created_at: datetime
    support_number: str  # the team's number it goes from
    page_state: PageState | None  # its page's state at the claim (None: not a page)


def claim(session: Session, now: datetime, stuck: timedelta, limit: int = 200) -> list[Claimed]:
    """Claim due rows for this sender, and rows claimed longer than stuck ago; return them by id.

    Each row is claimed by exactly one sender. Two statements whatever the number of rows: the claim,
    which returns the rows, and one read of their pages' states and their teams' numbers.
    """
    # The rows another process is claiming right now are skipped (PostgreSQL), and the claim re-checks
    # each row it locks; SQLite runs one write transaction at a time anyway.
    due = (
        select(Outbox.id)
        .where(
            or_(
                (Outbox.status == OutboxStatus.PENDING) & (Outbox.next_attempt_at <= now),
                (Outbox.status == OutboxStatus.SENDING) & (Outbox.claimed_at < now - stuck),
            )
        )
        .order_by(Outbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    connection = session.connection()
    rows = connection.execute(
        update(Outbox)
        .where(Outbox.id.in_(due.scalar_subquery()))
        .values(status=OutboxStatus.SENDING, claimed_at=now, attempts=Outbox.attempts + 1)
        .returning(
            Outbox.id,
            Outbox.team_id,
            Outbox.page_id,
            Outbox.channel,
            Outbox.purpose,
            Outbox.to_enc,
            Outbox.body_enc,
            Outbox.validity,
            Outbox.created_at,
        )
    ).all()
    if not rows:
        return []
    page_ids = {row.page_id for row in rows if row.page_id is not None}
    team_ids = {row.team_id for row in rows}
    states: dict[int, PageState] = {}
    numbers: dict[int, str] = {}
    found: Iterable[Any] = connection.execute(
        union_all(
            select(literal("team"), Team.id, Team.support_number).where(Team.id.in_(team_ids)),
            select(literal("page"), Page.id, Page.state).where(Page.id.in_(page_ids)),
        )
    )
    for kind, key, value in found:
        if kind == "team":
            numbers[key] = value
        else:
            states[key] = PageState(value)
    return sorted(
        (
            Claimed(
                row.id,
                row.team_id,
                row.page_id,
                row.channel,
                row.purpose,
                row.to_enc,
                row.body_enc,
                row.validity,
                row.created_at,
                numbers[row.team_id],
                states.get(row.page_id) if row.page_id is not None else None,
            )
            for row in rows
        ),
        key=lambda row: row.id,
    )


def mark_sent(bind: Session | Connection, outbox_id: int, now: datetime, sid: str) -> None:
    """Record a send and erase the address and text."""
    bind.execute(
        update(Outbox)
        .where(Outbox.id == outbox_id)
        .values(status=OutboxStatus.SENT, sent_at=now, provider_sid=sid, to_enc=None, body_enc=None)
        .execution_options(synchronize_session=False)
    )


def expires_at(row: Outbox | Claimed) -> datetime:
    """Return when a message stops being of use: a page when its step ends, anything else after a while."""
    if row.validity:
        return row.created_at + timedelta(seconds=row.validity)
    return row.created_at + PROVIDER_PATIENCE


def retry_later(row: Outbox, now: datetime, error: str, retry_after: float | None = None) -> bool:
    """Schedule another try of a row the provider failed to take; False (and dropped) once it is of no use.

    The tries back off exponentially up to MAX_BACKOFF, and wait at least the provider's retry_after.
    """
    row.error = error[:200]
    backoff = min(timedelta(seconds=2 ** min(max(row.attempts - 1, 0), 16)), MAX_BACKOFF)
    if retry_after is not None:
        backoff = max(backoff, timedelta(seconds=retry_after))
    if now + backoff >= expires_at(row):
        expire(row)
        return False
    row.status = OutboxStatus.PENDING
    row.next_attempt_at = now + backoff
    return True


def retry_waiting_now(bind: Session | Connection, now: datetime) -> int:
    """Bring forward the retries of every row waiting on a provider failure (the provider answers again)."""
    result = bind.execute(
        update(Outbox)
        .where(Outbox.status == OutboxStatus.PENDING, Outbox.error.is_not(None), Outbox.next_attempt_at > now)
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def waiting_on_provider(session: Session) -> int:
    """Return how many messages and calls wait for another try because the provider failed to take them."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Outbox)
            .where(Outbox.status == OutboxStatus.PENDING, Outbox.error.is_not(None))
        )
        or 0
    )


def fail(row: Outbox, error: str) -> None:
    """Mark a row failed for good and erase the address and text."""
    row.status = OutboxStatus.FAILED
    row.error = error[:200]
    row.to_enc = None
    row.body_enc = None


def expire(row: Outbox) -> None:
    """Drop a message whose time is over before it could be sent (a page whose step is over, say)."""
    row.status = OutboxStatus.EXPIRED
    row.to_enc = None
    row.body_enc = None


def in_flight(session: Session) -> bool:
    """Tell whether some row is being handed to the provider right now (its sid not yet recorded)."""
    return session.scalar(select(Outbox.id).where(Outbox.status == OutboxStatus.SENDING).limit(1)) is not None


def by_provider_sid(session: Session, sid: str) -> Outbox | None:
    """Return the row the provider knows by this id."""
    return session.scalar(select(Outbox).where(Outbox.provider_sid == sid))
