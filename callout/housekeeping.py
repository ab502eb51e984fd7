"""Periodic work besides timeouts: reminders, handoff notices, coverage warnings, purging contact details.

When each runs, and in which order, is `schedules`' to say.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from callout import messages, notices, privacy, quiet, requests, rotation, voice
from callout.db import insert_new
from callout.env import Env
from callout.models import (
    ClosedReason,
    InboundSeen,
    JobRun,
    Outbox,
    OutboxStatus,
    Page,
    Request,
    RequestKind,
    RequestStatus,
    Team,
    VoiceHunt,
)
from callout.outbox import notify

log = logging.getLogger(__name__)

HANDOFF_GRACE = timedelta(hours=1)  # after downtime, a handoff notice later than this is no longer news
COVERAGE_DAYS = 2
COVERAGE_SCAN = "coverage"  # the coverage check's notes (`callout.quiet`)
# The outbox states a message never leaves: one of them, once purge_after old, is forgotten.
DONE_WITH = (
    OutboxStatus.SENT,
    OutboxStatus.DELIVERED,
    OutboxStatus.UNDELIVERED,
    OutboxStatus.FAILED,
    OutboxStatus.EXPIRED,
)


def claim_run(session: Session, now: datetime, name: str, key: str) -> bool:
    """Claim one firing of a job; False if another process (or an earlier tick) already ran it."""
    return insert_new(session, JobRun, name=name, key=key, ran_at=now)


def run_reminders(session: Session, env: Env, now: datetime) -> int:
    """Remind accepting members of requests left open; close those left far too long as unspecified.

    Each request is locked and looked at again first, so with several processes a reminder goes out
    once and a peer's DONE at the same moment is never overwritten by "unspecified".
    """
    close_after = env.config.privacy.close_after
    # Only what may be due: accepted at least the shortest reminder_after ago (every one is shorter than
    # close_after), and not reminded yet or left past close_after.
    soonest = min((t.escalation.reminder_after for t in env.config.teams), default=close_after)
    due = session.scalars(
        select(Request.id)
        .where(
            Request.status == RequestStatus.ACCEPTED,
            Request.accepted_at <= now - soonest,
            or_(Request.reminded_at.is_(None), Request.accepted_at <= now - close_after),
        )
        .order_by(Request.id)
    ).all()
    count = 0
    for request_id in due:
        request = session.get(Request, request_id)
        assert request is not None
        requests.lock(session, request)
        if (
            request.status != RequestStatus.ACCEPTED
            or request.accepted_at is None
            or request.accepted_by is None
        ):
            continue  # closed or released meanwhile
        if now - request.accepted_at >= close_after:
            requests.close(
                session, env, now, request, area=None, overtime=False, reason=ClosedReason.UNSPECIFIED
            )
            count += 1
            continue
        team_config = env.configured(request.team)
        remind_after = team_config.escalation.reminder_after if team_config else close_after
        if request.reminded_at is None and now - request.accepted_at >= remind_after:
            request.reminded_at = now
            notify(session, env, now, request.accepted_by, messages.reminder(request.code), request)
            count += 1
    return count


def handoff_notices(session: Session, env: Env, now: datetime) -> int:
    """Text each team's new primary once per shift, soon after the handoff (even after downtime).

    Only for teams without heads-ups (shift_notice = 0): with them, `notices.shift_notices` tells each
    primary ahead, and late (still once) when the heads-up was missed.
    """
    sent = 0
    for team in session.scalars(select(Team)).all():
        if notices.notice_window(env, team) is not None:
            continue  # the heads-up told the primary already (or, missed, tells them late): no second text
        start, end = rotation.shift_bounds(team, now)
        if now - start > HANDOFF_GRACE or not claim_run(
            session, now, f"handoff:{team.slug}", start.isoformat()
        ):
            continue
        available = rotation.availability_list(session, team, now)
        if available:
            notify(
                session,
                env,
                now,
                available[0],
                messages.handoff(team.name, messages.local(end, team.timezone)),
            )
            log.info("handoff: %s is primary for %s", available[0].name, team.slug)
            sent += 1
    return sent


def coverage_warnings(session: Session, env: Env, now: datetime) -> int:
    """Tell the director of coming shifts with nobody available (checked every 10 min); return new gaps.

    Each gap (a shift and the roles it lacks) is told once. When a check finds one not told yet, the
    director gets one text naming every gap, the running shift first and marked NOW.
    """
    window = now.replace(minute=now.minute - now.minute % 10, second=0, microsecond=0)
    if not claim_run(session, now, "coverage-scan", window.isoformat()):
        return 0
    warned = 0
    notes = quiet.Notes(session, COVERAGE_SCAN)
    for team in quiet.teams(session):
        team_config = env.configured(team)
        if team_config is None:
            continue
        # Within a shift a check finds nothing new while the roster stays the same (an AWAY only ends):
        # the team is worked out again at the next handoff, or when its roster changes.
        digest = quiet.fingerprint(team, list(team_config.escalation.fallback))
        if notes.passes(team, digest, now):
            continue
        next_shift = rotation.shift_start(team, rotation.shift_of(team, now) + timedelta(days=1))
        notes.note(team, digest, now, next_shift)
        gaps = rotation.uncovered(session, team, now, COVERAGE_DAYS, team_config.escalation.fallback)
        new = [
            gap
            for gap in gaps
            if claim_run(
                session, now, f"coverage:{team.slug}", f"{gap.start.isoformat()} {'+'.join(gap.missing)}"
            )
        ]
        if not new:
            continue
        zone = team.timezone
        listed = [
            (
                None if gap.start <= now else messages.local(gap.start, zone),
                messages.local(gap.end, zone),
                gap.missing,
            )
            for gap in gaps
        ]
        text = messages.coverage_gaps(team.name, listed)
        for director in rotation.directors_to_tell(session, team, now):
            notify(session, env, now, director, text)
        log.warning("coverage: %s has %d shift(s) without cover, %d new", team.slug, len(gaps), len(new))
        warned += len(new)
    return warned


def due_for_purge(session: Session, now: datetime) -> list[int]:
    """Return the ids of requests whose contact details are due to be erased."""
    return list(
        session.scalars(select(Request.id).where(Request.purge_at <= now, Request.purged_at.is_(None)))
    )


def purge(session: Session, env: Env, now: datetime) -> int:
    """Erase contact details purge_after after a request ended; forget old message ids.

    Each request is claimed by the update that erases it (`purged_at IS NULL`), so with several
    processes each is purged, and its provider records queued for deletion, exactly once.
    """
    due = due_for_purge(session, now)
    purged = []
    for request_id in due:
        claimed = session.execute(
            update(Request)
            .where(Request.id == request_id, Request.purged_at.is_(None))
            .values(contact_enc=None, contact_key=None, note_enc=None, told_unrelayed=False, purged_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            purged.append(request_id)
    privacy.forget_provider_ids(session, env, now, purged)
    if purged:
        forget_who_was_paged(session, purged)
        log.info("purge: contact details of %d request(s) erased", len(purged))
    forget_old_traffic(session, now, env.config.privacy.purge_after)
    return len(purged)


def forget_who_was_paged(session: Session, purged: Sequence[int]) -> None:
    """Delete what a purged request's record need not keep: who was paged, when, and every message about it.

    What stays is what SPEC lists: team, kind, channel, times, outcome, area, OT, who accepted. Pages would
    say more (a member asking for support themselves is the one left out of the rotation); a debrief keeps
    its pages, whose answers are its reported responders.
    """
    session.execute(
        delete(Outbox).where(Outbox.request_id.in_(purged)).execution_options(synchronize_session=False)
    )
    single = select(Request.id).where(Request.id.in_(purged), Request.kind != RequestKind.DEBRIEF)
    session.execute(
        delete(Page).where(Page.request_id.in_(single)).execution_options(synchronize_session=False)
    )
    session.execute(
        delete(VoiceHunt).where(VoiceHunt.request_id.in_(purged)).execution_options(synchronize_session=False)
    )


def forget_old_traffic(session: Session, now: datetime, purge_after: timedelta) -> None:
    """Forget what no request holds on to: old message ids, notices sent, calls that opened nothing."""
    session.execute(delete(InboundSeen).where(InboundSeen.seen_at < now - timedelta(days=2)))
    session.execute(delete(JobRun).where(JobRun.ran_at < now - timedelta(days=7)))
    session.execute(
        delete(Outbox).where(
            Outbox.request_id.is_(None),
            Outbox.status.in_(DONE_WITH),
            Outbox.created_at < now - purge_after,
        )
    )
    session.execute(
        delete(VoiceHunt).where(
            VoiceHunt.request_id.is_(None),
            VoiceHunt.ended_at.is_not(None),
            VoiceHunt.ended_at < now - purge_after,
        )
    )


def stale_calls(session: Session, env: Env, now: datetime) -> int:
    """Forget the numbers of calls Twilio never called back about."""
    return voice.end_stale(session, now)
