"""Load: inbound SMS webhooks signed as Twilio signs them, sent at a steady pace from a pool of clients."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from sqlalchemy import text
from twilio.request_validator import RequestValidator

from benchmarks.stack import PUBLIC_URL
from callout.db import make_engine
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN


@dataclass(frozen=True)
class Inbound:
    """One inbound text: who sends it, to which support number, what it says, and why."""

    sender: str
    to: str
    body: str
    kind: str  # open | follow-up | answer | debrief


@dataclass(frozen=True)
class Sent:
    """What happened to one inbound text; times are wall clock (time.time()), comparable with the fake's."""

    inbound: Inbound
    due_at: float  # when Twilio would have sent it (its slot in the paced load)
    sent_at: float  # when a client actually sent it (later than due_at when every client was busy)
    done_at: float  # when the whole answer was read
    status: int  # HTTP status; 0 when the connection failed

    @property
    def latency(self) -> float:
        """Return seconds from the text's slot to its answer (open loop: a backlog counts)."""
        return self.done_at - self.due_at

    @property
    def service(self) -> float:
        """Return seconds from sending the request to reading its answer."""
        return self.done_at - self.sent_at


class Client:
    """Post signed inbound SMS webhooks to the app, one keep-alive session per thread."""

    def __init__(self, app_url: str) -> None:
        self.url = app_url + "/twilio/sms"
        self.validator = RequestValidator(AUTH_TOKEN)
        self._local = threading.local()
        self._sids = itertools.count(1)
        self._sid_prefix = f"SM{time.time_ns() % 10**12:012d}"

    def post(self, inbound: Inbound, due_at: float | None = None) -> Sent:
        """Send one inbound text now; due_at is when it was due (default: now)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        params = {
            "MessageSid": f"{self._sid_prefix}{next(self._sids):020d}",
            "AccountSid": ACCOUNT_SID,
            "From": inbound.sender,
            "To": inbound.to,
            "Body": inbound.body,
            "NumMedia": "0",
        }
        signature = self.validator.compute_signature(PUBLIC_URL + "/twilio/sms", params)
        sent_at = time.time()
        try:
            response = session.post(
                self.url, data=params, headers={"X-Twilio-Signature": signature}, timeout=60
            )
            status = response.status_code
        except requests.RequestException:
            status = 0
        return Sent(inbound, sent_at if due_at is None else due_at, sent_at, time.time(), status)


def paced(
    client: Client, rate: float, seconds: float, next_inbound: Callable[[int], Inbound], clients: int
) -> list[Sent]:
    """Send rate texts a second for seconds, each due at its own slot (open loop: slowness backs up)."""
    total = round(rate * seconds)
    with ThreadPoolExecutor(max_workers=clients, thread_name_prefix="bench-client") as pool:
        start = time.time() + 0.05
        futures = []
        for i in range(total):
            due = start + i / rate
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(client.post, next_inbound(i), due))
        return [future.result() for future in futures]


class Responder:
    """Watch the database for pages that went out, and offer them to the load as members' answers."""

    def __init__(self, database_url: str, every: float = 0.5) -> None:
        self.engine = make_engine(database_url)
        self.every = every
        self.pages: deque[tuple[str, str, str]] = deque()  # (member phone, support number, code)
        self._seen: set[int] = set()
        self._since = datetime(2000, 1, 1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-responder", daemon=True)

    def start(self) -> Responder:
        """Start watching."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching and release the database."""
        self._stop.set()
        self._thread.join(timeout=10)
        self.engine.dispose()

    def take(self) -> tuple[str, str, str] | None:
        """Return a page a member may answer now, or None."""
        try:
            return self.pages.popleft()
        except IndexError:
            return None

    def _loop(self) -> None:
        """Poll for pages handed to Twilio since the last poll (nobody answers a page not yet sent)."""
        query = text(
            "SELECT p.id, m.phone, t.support_number, r.code, o.sent_at FROM pages p"
            " JOIN outbox o ON o.page_id = p.id AND o.status = 'sent' AND o.sent_at >= :since"
            " JOIN members m ON m.id = p.member_id JOIN requests r ON r.id = p.request_id"
            " JOIN teams t ON t.id = r.team_id WHERE p.state = 'pending'"
        )
        while not self._stop.wait(self.every):
            with self.engine.connect() as connection:
                rows = connection.execute(query, {"since": self._since}).all()
            for page_id, phone, number, code, sent_at in rows:
                if page_id not in self._seen:
                    self._seen.add(page_id)
                    self.pages.append((phone, number, code))
                # Sends commit out of order: look back a little behind the newest seen.
                self._since = max(self._since, _naive(sent_at) - timedelta(seconds=5))


def _naive(value: datetime | str) -> datetime:
    """Return a stored timestamp (naive UTC; a string from SQLite) as a naive datetime."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value.replace(tzinfo=None)
