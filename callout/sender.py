"""The sender: hands claimed outbox rows to the transport from a pool of threads, in parallel."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from callout import escalation, members, messages, outbox, privacy, requests
from callout.db import RELAY_LOCK, in_turn, transaction
from callout.env import Env
from callout.logsafe import described
from callout.models import Outbox, Page, PageState, Request, Team
from callout.transport import Call, Sms, Transport, TransportError

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
RELAY_BACKOFF = (1.0, 3.0)  # seconds between tries of a relay: the words live only in memory meanwhile


@dataclass(frozen=True)
class Relay:
    """A requester's words on their way to the peer: the parts of one text, in order (memory only)."""

    to: str
    from_: str
    parts: tuple[str, ...]


def utcnow() -> datetime:
    """Return the current time, aware UTC."""
    return datetime.now(UTC)


class Sender:
    """Send due outbox rows as soon as they are written (wake) and on every tick (drain)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        env: Env,
        transport: Transport,
        *,
        workers: int = 16,
        clock: Clock = utcnow,
    ) -> None:
        self.sessions = sessions
        self.engine: Engine = sessions.kw["bind"]
        self.env = env
        self.transport = transport
        self.clock = clock
        self.public_url = env.config.server.public_url
        self.stuck = outbox.stuck_after(env.config.twilio.timeout)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="callout-send")
        self.workers = workers
        self._in_flight = 0  # claimed rows not yet handed over (or failed)
        self._saturated = False  # the last claim took as many rows as there were free threads
        self._count_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drain_lock = threading.Lock()
        self.relay_backoff: tuple[float, ...] = RELAY_BACKOFF
        self._relays: dict[int, deque[Relay]] = {}  # each request's relays not yet sent, oldest first
        self._relay_lock = threading.Lock()
        # When the provider last failed to take a message; cleared by the next send it takes.
        self.provider_failed_at: datetime | None = None

    def start(self) -> None:
        """Start the background loop that drains the outbox whenever woken (and at least every second)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="callout-sender", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the loop and wait for sends in flight."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=True)

    def reserve(self, wanted: int) -> int:
        """Take up to wanted free threads for outbox rows a transaction claims itself; return how many.

        None while the sender's loop is not running (a command, a test that sends by hand): those rows
        wait in the outbox. The rows come back through hand() once their transaction commits, or the
        threads through release() if it rolls back.
        """
        if self._thread is None or self._stop.is_set():
            return 0
        with self._count_lock:
            taken = max(0, min(wanted, self.workers - self._in_flight))
            self._in_flight += taken
        return taken

    def release(self, count: int) -> None:
        """Give back threads reserved for rows that will not come (their transaction rolled back)."""
        with self._count_lock:
            self._in_flight -= count

    def hand(self, rows: Sequence[outbox.Claimed]) -> None:
        """Send rows a committed transaction claimed for this sender (their threads were reserved)."""
        for row in rows:
            self._pool.submit(self._send_then_drain, row)

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until no claimed row is left to hand over (or timeout seconds); tell whether none is."""
        deadline = time.monotonic() + timeout
        while self._in_flight > 0:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
        return True

    def wake(self) -> None:
        """Ask the loop to drain now (called after a commit that queued messages)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.drain()
            except Exception as exc:  # the loop must survive a database hiccup; the next wake retries
                log.error("sender: draining the outbox failed: %s", described(exc))

    def drain(self, wait: bool = False) -> int:
        """Claim due rows and send them in parallel; with wait, return after they were handed over.

        It claims no more rows than it has free threads for, and drains again as each send ends: what one
        process cannot send at once stays in the outbox for another process's sender (a debrief's pages are
        shared by every process's pool) instead of queueing here.
        """
        with self._drain_lock:
            claimed = self._claim()
        futures = [self._pool.submit(self._send_then_drain, row) for row in claimed]
        if wait:
            for future in futures:
                future.result()
        return len(claimed)

    def drain_unless_busy(self) -> int:
        """Drain as drain() does, unless a drain is running: then return 0 at once (the periodic safety net).

        Under load the loop's drain can take longer than the second between two of these; waiting for it
        would only make the scheduler skip the next one, with a warning in the log each second.
        """
        if not self._drain_lock.acquire(blocking=False):
            return 0
        try:
            claimed = self._claim()
        finally:
            self._drain_lock.release()
        for row in claimed:
            self._pool.submit(self._send_then_drain, row)
        return len(claimed)

    def _claim(self) -> list[outbox.Claimed]:
        """Claim as many due rows as there are free threads and count them in flight (drain lock held)."""
        free = self.workers - self._in_flight
        if free <= 0:
            return []
        with transaction(self.sessions) as session:
            claimed = outbox.claim(session, self.clock(), self.stuck, limit=free)
        with self._count_lock:
            self._in_flight += len(claimed)
        # A claim that filled every free thread may have left rows behind: look again as each send ends.
        self._saturated = len(claimed) == free
        return claimed

    def _send_then_drain(self, row: outbox.Claimed) -> None:
        """Send one claimed row, then wake the loop if rows may be waiting: its thread is free for one."""
        try:
            self.send_one(row)
        finally:
            with self._count_lock:
                self._in_flight -= 1
            if self._saturated:
                self._wake.set()

    def relay(self, to: str, from_: str, parts: Sequence[str], request_id: int) -> None:
        """Send a requester's words (one text, or its parts) to a peer now, from memory: never written down.

        One request's relays go out one after the other, each in order, however many threads and
        processes send: a text cut in parts must reach the peer as it was written.
        """
        with self._relay_lock:
            queue = self._relays.setdefault(request_id, deque())
            queue.append(Relay(to, from_, tuple(parts)))
            if len(queue) > 1:
                return  # a thread is sending this request's relays already: it takes this one next
        self._pool.submit(self._relay_in_turn, request_id)

    def _relay_in_turn(self, request_id: int) -> None:
        """Send the relays queued for a request, oldest first, until none is left."""
        while True:
            with self._relay_lock:
                relay = self._relays[request_id][0]
            try:
                with in_turn(self.sessions, RELAY_LOCK, request_id):  # and not alongside another process
                    self._relay_one(relay, request_id)
            except Exception as exc:  # the lock's database failed: say so, never with the words
                log.error("sender: a relay for request id %s failed: %s", request_id, type(exc).__name__)
                self._relay_failed(request_id)
            with self._relay_lock:
                queue = self._relays[request_id]
                queue.popleft()
                if not queue:
                    del self._relays[request_id]
                    return

    def _relay_one(self, relay: Relay, request_id: int) -> None:
        """Send one relay's parts in order; if one cannot be passed on, stop and tell the requester.

        The requester is told that the words did not reach the peer, and that the peer has their number.
        """
        for part in relay.parts:
            sms = Sms(to=relay.to, from_=relay.from_, body=part, requester=True)  # the provider keeps neither
            sid = self._relay_part(sms, request_id)
            if sid is None:
                self._relay_failed(request_id)
                return
            with transaction(self.sessions) as session:  # so the provider's copy is deleted after the purge
                privacy.remember(session, self.env, self.clock(), request_id, sid)

    def _relay_part(self, sms: Sms, request_id: int) -> str | None:
        """Hand one part to the provider, again after RELAY_BACKOFF if it fails; return its id or None."""
        for wait in (*self.relay_backoff, None):
            try:
                sid = self.transport.send_sms(sms)
            except TransportError as exc:
                if not exc.permanent:
                    self.provider_failed_at = self.clock()
                if exc.permanent or wait is None:
                    log.warning("sender: a relay for request id %s failed (%s)", request_id, exc.code)
                    return None
                time.sleep(wait)
                continue
            except Exception as exc:  # a bug: say so, without the words the exception may quote
                log.error("sender: a relay for request id %s failed: %s", request_id, type(exc).__name__)
                return None
            self.provider_failed_at = None
            return sid
        return None

    def _relay_failed(self, request_id: int) -> None:
        """Tell the requester their words did not reach the peer (the peer still has their number)."""
        try:
            with transaction(self.sessions) as session:
                request = session.get(Request, request_id)
                if request is not None:
                    requests.tell_requester(session, self.env, self.clock(), request, messages.relay_failed())
        except Exception as exc:
            log.error(
                "sender: could not tell request id %s of a failed relay: %s", request_id, type(exc).__name__
            )
        self.wake()

    def send_one(self, row: outbox.Claimed) -> None:
        """Send one claimed row and record the outcome; an undeliverable page advances its escalation."""
        try:
            self._send_one(row)
        except Exception as exc:  # its decrypted address and text may be in the message: never logged
            log.error("sender: outbox %d failed unexpectedly: %s", row.id, described(exc))

    def _send_one(self, row: outbox.Claimed) -> None:
        now = self.clock()
        if row.page_state not in (None, PageState.PENDING) or (
            row.validity and now >= outbox.expires_at(row)
        ):
            self._record(row.id, outbox.expire)  # the escalation moved on: a late page would only confuse
            return
        to = self.env.vault.decrypt(row.to_enc) if row.to_enc else None
        body = self.env.vault.decrypt(row.body_enc) if row.body_enc else None
        if to is None or (row.channel == "sms" and body is None):
            self._record(row.id, lambda written: outbox.fail(written, "cannot decrypt (data_key changed?)"))
            return
        try:
            sid = self._hand_over(row, to, row.support_number, body, now)
        except TransportError as exc:
            self._failed(row.id, exc, to)
            return
        recovered = self.provider_failed_at is not None
        with self.engine.begin() as connection:  # a statement or two: no session needed
            outbox.mark_sent(connection, row.id, self.clock(), sid)
            if recovered:  # it answers again: what waited need not wait any longer
                self.provider_failed_at = None
                outbox.retry_waiting_now(connection, self.clock())
        if recovered:
            self.wake()
        log.info("sender: outbox %d (%s) handed over as %s", row.id, row.purpose, sid)

    def _record(self, outbox_id: int, outcome: Callable[[Outbox], None]) -> None:
        """Record an outcome (expired, failed) on a claimed row."""
        with transaction(self.sessions) as session:
            written = session.get(Outbox, outbox_id)
            if written is not None:
                outcome(written)

    def _hand_over(self, row: outbox.Claimed, to: str, from_: str, body: str | None, now: datetime) -> str:
        status_callback = f"{self.public_url}/twilio/status"
        if row.channel == "call":
            url = f"{self.public_url}/twilio/voice/page/{row.page_id}"
            return self.transport.place_call(
                Call(to=to, from_=from_, url=url, status_callback=status_callback)
            )
        assert body is not None
        validity = None
        if row.validity:  # a page sent late (after retries) must not outlive its step at the carrier either
            validity = max(1, int((outbox.expires_at(row) - now).total_seconds()))
        return self.transport.send_sms(
            Sms(
                to=to,
                from_=from_,
                body=body,
                status_callback=status_callback,
                validity=validity,
                requester=row.purpose in outbox.PRIVATE,
            )
        )

    def _failed(self, outbox_id: int, exc: TransportError, to: str) -> None:
        """Record a failed send: the recipient's fails it, the provider's is tried again later."""
        # A recipient who cannot take a page counts as no answer: the next person is paged at once. The
        # provider's failure is nobody's: the page is tried again while its step lasts, and pages nobody else.
        now = self.clock()
        with transaction(self.sessions) as session:
            row = session.get(Outbox, outbox_id)
            if row is None:
                return
            error = f"{exc.code or ''} {exc}".strip()
            if exc.permanent:
                outbox.fail(row, error)
                log.warning(
                    "sender: outbox %d failed: the recipient cannot take it (%s)", outbox_id, exc.code
                )
            else:
                self.provider_failed_at = now
                if outbox.retry_later(row, now, error, exc.retry_after):
                    log.warning(
                        "sender: outbox %d not taken by the provider (%s); retry at %s",
                        outbox_id,
                        exc.code or exc,
                        row.next_attempt_at.isoformat(timespec="seconds"),
                    )
                else:
                    log.warning(
                        "sender: outbox %d dropped: the provider did not take it while it was of use (%s)",
                        outbox_id,
                        exc.code or exc,
                    )
            if exc.opted_out and row.purpose != "requester":
                team = session.get(Team, row.team_id)
                assert team is not None
                members.opt_out(session, self.env, now, team, to, "STOP")
            if exc.permanent and row.page_id and row.channel == "sms":
                page = session.get(Page, row.page_id)
                if page is not None:
                    escalation.delivery_failed(session, self.env, now, page, "failed")
        self.wake()  # a failed page may have paged the next person
