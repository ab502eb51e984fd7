"""The one interface through which Callout sends SMS and places calls (Twilio or the console)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class TransportError(Exception):
    """A send that failed, and whose failure it was.

    permanent: this recipient cannot take it (an invalid or unreachable number, one that opted out), so
    retrying cannot help and a page counts as undelivered. Otherwise the provider failed (unreachable, slow,
    5xx, throttling, or refusing every number, as a bad account setting does): nobody's page failed, and the
    message is tried again while it is of use. retry_after is how long the provider asked us to wait (the
    Retry-After of a 429), in seconds.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: int | None = None,
        opted_out: bool = False,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.opted_out = opted_out
        self.retry_after = retry_after


@dataclass(frozen=True)
class Sms:
    """An SMS to hand to the provider."""

    to: str
    from_: str
    body: str
    status_callback: str | None = None
    validity: int | None = None  # seconds the carrier may keep trying; None for the provider's default
    requester: bool = (
        False  # a requester's text, number or words: ask the provider to keep neither text nor address
    )


@dataclass(frozen=True)
class Call:
    """An outbound call whose TwiML is fetched from url."""

    to: str
    from_: str
    url: str
    status_callback: str | None = None
    timeout: int = 30
    machine_detection: bool = True


class Transport(Protocol):
    """Send SMS and place calls; return the provider's id; raise TransportError."""

    def send_sms(self, sms: Sms) -> str:
        """Hand one SMS to the provider and return its id."""
        ...

    def place_call(self, call: Call) -> str:
        """Place one call and return its id."""
        ...

    def delete_records(self, sids: list[str]) -> list[str]:
        """Delete the provider's records of these messages and calls; return the ids it could not delete."""
        ...
