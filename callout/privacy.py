"""Privacy beyond the purge: the provider's copies of a request, a new data_key, and SQLite's leftovers.

The provider (Twilio) keeps its own log of every message and call. Callout keeps the ids of those about a
request, encrypted, while the request lives; at the purge it unlinks them from the request and, with
`[privacy] delete_provider_records`, queues them for deletion at the provider. The deletions themselves run
outside any transaction (a job hands the ids to the transport), are retried with backoff, and never block.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.orm import Session

from callout.crypto import Vault
from callout.env import Env
from callout.models import Base, Outbox, ProviderRecord, Request

log = logging.getLogger(__name__)

DELETE_BATCH = 50
DELETE_LEASE = timedelta(minutes=5)  # a claimed deletion whose job died is tried again after this
FIRST_RETRY = timedelta(minutes=1)
FORGET_DELAY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)
MAX_DELETE_ATTEMPTS = 20  # about three days of tries before an operator has to look


class RekeyError(Exception):
    """Some stored values do not open with the keys given; nothing was changed."""


@dataclass(frozen=True)
class Deletion:
    """One provider record claimed for deletion: its row and the provider's id."""

    id: int
    sid: str


def remember(session: Session, env: Env, now: datetime, request_id: int, sid: str) -> None:
    """Keep the provider's id of a message or call about a request, encrypted, to delete it after purge."""
    if sid and env.config.privacy.delete_provider_records:
        session.connection().execute(  # one INSERT, no unit of work: it is on the path of every text
            insert(ProviderRecord),
            {"request_id": request_id, "sid_enc": env.vault.encrypt(sid), "created_at": now},
        )


def forget_at_provider(session: Session, env: Env, now: datetime, sid: str) -> None:
    """Queue the provider's record of a requester's text that went to no request for deletion there.

    Only with delete_provider_records; after FORGET_DELAY, so the provider is done with the message.
    """
    if sid and env.config.privacy.delete_provider_records:
        session.add(
            ProviderRecord(sid_enc=env.vault.encrypt(sid), next_attempt_at=now + FORGET_DELAY, created_at=now)
        )


def forget_provider_ids(session: Session, env: Env, now: datetime, due: Sequence[int]) -> int:
    """Unlink the provider ids of the requests being purged; queue them for deletion there if configured.

    Runs in the purge's transaction, for the requests it claimed; returns how many ids were queued.
    """
    if not due:
        return 0
    queued = 0
    if env.config.privacy.delete_provider_records:
        sent = session.scalars(
            select(Outbox.provider_sid).where(Outbox.request_id.in_(due), Outbox.provider_sid.is_not(None))
        ).all()
        for sid in sent:
            assert sid is not None
            session.add(ProviderRecord(sid_enc=env.vault.encrypt(sid), next_attempt_at=now, created_at=now))
        result = session.execute(
            update(ProviderRecord)
            .where(ProviderRecord.request_id.in_(due))
            .values(request_id=None, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        queued = len(sent) + result.rowcount  # type: ignore[attr-defined]
    else:
        session.execute(delete(ProviderRecord).where(ProviderRecord.request_id.in_(due)))
    # Nothing may lead from an anonymous request to the provider's log of it any more.
    session.execute(
        update(Outbox)
        .where(Outbox.request_id.in_(due), Outbox.provider_sid.is_not(None))
        .values(provider_sid=None)
        .execution_options(synchronize_session=False)
    )
    if queued:
        log.info("provider records: %d queued for deletion after the purge", queued)
    return queued


def due_deletions(session: Session, env: Env, now: datetime, limit: int = DELETE_BATCH) -> list[Deletion]:
    """Claim provider records due for deletion (each by exactly one process); return their ids.

    With delete_provider_records off, forget the queued ones instead and return nothing.
    """
    if not env.config.privacy.delete_provider_records:
        session.execute(delete(ProviderRecord).where(ProviderRecord.request_id.is_(None)))
        return []
    rows = session.execute(
        select(ProviderRecord.id, ProviderRecord.next_attempt_at)
        .where(ProviderRecord.request_id.is_(None), ProviderRecord.next_attempt_at <= now)
        .order_by(ProviderRecord.next_attempt_at)
        .limit(limit)
    ).all()
    claimed = []
    for record_id, due_at in rows:
        won = session.execute(
            update(ProviderRecord)
            .where(ProviderRecord.id == record_id, ProviderRecord.next_attempt_at == due_at)
            .values(next_attempt_at=now + DELETE_LEASE, attempts=ProviderRecord.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            continue
        record = session.get(ProviderRecord, record_id)
        assert record is not None
        sid = env.vault.decrypt(record.sid_enc)
        if sid is None:  # under a key nobody has any more: no way to name it to the provider
            log.warning("provider records: one id does not open with the data_key; dropped")
            session.delete(record)
            continue
        claimed.append(Deletion(record_id, sid))
    return claimed


def record_deletions(session: Session, now: datetime, claimed: list[Deletion], failed: list[str]) -> int:
    """Forget the records the provider deleted; retry the others with backoff; return how many are gone."""
    failures = set(failed)
    deleted = retrying = gave_up = 0
    for deletion in claimed:
        record = session.get(ProviderRecord, deletion.id)
        if record is None:
            continue
        if deletion.sid not in failures:
            session.delete(record)
            deleted += 1
        elif record.attempts >= MAX_DELETE_ATTEMPTS:
            session.delete(record)
            gave_up += 1
        else:
            record.next_attempt_at = now + min(FIRST_RETRY * 2 ** (record.attempts - 1), LONGEST_RETRY)
            retrying += 1
    if deleted:
        log.info("provider records: %d deleted at the provider", deleted)
    if retrying:
        log.warning("provider records: %d could not be deleted; will retry", retrying)
    if gave_up:
        log.error(
            "provider records: gave up on %d after %d attempts; delete old messages and calls in the "
            "provider's console",
            gave_up,
            MAX_DELETE_ATTEMPTS,
        )
    return deleted


def encrypted_columns() -> list[tuple[type[Base], str]]:
    """Return every (model, attribute) holding ciphertext under data_key: by convention, names ending _enc."""
    return [
        (mapper.class_, column.key)
        for mapper in Base.registry.mappers
        for column in mapper.columns
        if column.key.endswith("_enc")
    ]


def rekey(session: Session, old: Vault, new: Vault) -> int:
    """Re-encrypt every stored value of every *_enc column under new; return how many values.

    Also recomputes the keyed hashes that find a sender's open request. All or nothing: raise RekeyError,
    changing nothing, if a value does not open with old. The caller commits.
    """
    changes: list[tuple[Base, str, str]] = []
    unreadable = 0
    for model, attribute in encrypted_columns():
        column = getattr(model, attribute)
        for row in session.scalars(select(model).where(column.is_not(None))):
            plain = old.decrypt(getattr(row, attribute))
            if plain is None:
                unreadable += 1
            else:
                changes.append((row, attribute, plain))
    if unreadable:
        raise RekeyError(
            f"{unreadable} stored value(s) do not open with the current data_key (pass the key they were "
            "written under with --old-key); nothing was changed"
        )
    for row, attribute, plain in changes:
        setattr(row, attribute, new.encrypt(plain))
        if isinstance(row, Request) and attribute == "contact_enc" and row.contact_key is not None:
            row.contact_key = new.lookup_key(plain)
    session.flush()
    log.info("rekey: %d value(s) re-encrypted under the new data_key", len(changes))
    return len(changes)


def scrub_sqlite(engine: Engine) -> bool:
    """Copy SQLite's write-ahead log into the database and empty it, so erased values leave no copy there.

    Returns False when the database is not SQLite or a reader kept the log from being emptied (the next
    purge tries again). With secure_delete on, erased values are zeroed in the database file itself.
    """
    if engine.dialect.name != "sqlite":
        return False
    connection = engine.raw_connection()  # outside any transaction: a checkpoint cannot run inside one
    try:
        cursor = connection.cursor()
        busy, _pages, _moved = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cursor.close()
    finally:
        connection.close()
    if busy:
        log.warning("purge: SQLite's write-ahead log is in use; it will be emptied after the next purge")
    return not busy
