"""The Twilio transport: the only module that talks to Twilio's REST API (through the twilio SDK)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from callout.config import TwilioConfig
from callout.transport import Call, Sms, TransportError

log = logging.getLogger(__name__)

# Twilio accepts a ValidityPeriod of 1 to 36,000 seconds (10 hours); see its error 21624.
MIN_VALIDITY = 1
MAX_VALIDITY = 36_000

OPTED_OUT = 21610  # the recipient replied STOP to this sender
RETENTION_UNAVAILABLE = frozenset(
    {30029, 30030}
)  # ContentRetention/AddressRetention without Message Redaction
# Failures of one recipient: this number will never take the message or call, so retrying cannot help and
# the next person is paged at once. Every other failure is the provider's (see to_transport_error).
PER_NUMBER_CODES = frozenset(
    {
        21211,  # invalid 'To' phone number
        21214,  # 'To' phone number cannot be reached (calls)
        21215,  # geo permissions do not allow calling this number
        21216,  # the account may not call this number (premium, blocked)
        21217,  # phone number does not appear to be valid (calls)
        21219,  # 'To' number not verified (trial account, calls)
        21265,  # 'To' number cannot be a short code
        21408,  # SMS permission not enabled for the number's region
        21608,  # 'To' number not verified (trial account, SMS)
        21612,  # 'To' number is not reachable by SMS from this sender
        21614,  # 'To' number is not a valid mobile number (landline or invalid)
        21635,  # 'To' number is a landline
        30003,  # unreachable handset
        30004,  # message blocked by the recipient
        30005,  # unknown or inactive destination
        30006,  # landline or unreachable carrier
    }
)


def to_transport_error(exc: Exception, retry_after: float | None = None) -> TransportError:
    """Map a Twilio or network failure to a TransportError; the message never carries numbers or text.

    Only a failure of the recipient (PER_NUMBER_CODES, an opt-out) is permanent. Everything else is the
    provider's: unreachable, timing out, 5xx, 429, or a 4xx that would refuse every number alike (a bad
    token, a From number or Messaging Service the account cannot use). Those must not count against the
    member paged: they page nobody else, and the message is tried again.
    """
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    if not isinstance(exc, TwilioException) or not isinstance(status, int):
        # Timeouts, refused connections, DNS: the message may still go through on a later try.
        return TransportError(f"cannot reach Twilio ({type(exc).__name__})", permanent=False)
    code = code if isinstance(code, int) else None
    # Twilio's own message may quote the recipient's number, so only the code and status are kept.
    message = f"Twilio error {code} (HTTP {status})"
    if code == OPTED_OUT:
        return TransportError(message, permanent=True, code=code, opted_out=True)
    if code in PER_NUMBER_CODES:
        return TransportError(message, permanent=True, code=code)
    return TransportError(message, permanent=False, code=code, retry_after=retry_after)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Return the seconds a Retry-After header asks for (delay-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _HttpClient(TwilioHttpClient):  # type: ignore[misc]  # the SDK has no type hints
    """The SDK's HTTP client, remembering for each thread the Retry-After of its last throttled answer."""

    def __init__(self, timeout: float, logger: logging.Logger) -> None:
        super().__init__(timeout=timeout, logger=logger)
        self._local = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> Response:
        """Make the request; keep the Retry-After of a 429 for retry_after()."""
        self._local.retry_after = None
        response = super().request(*args, **kwargs)
        if response.status_code == 429 and response.headers is not None:
            self._local.retry_after = response.headers.get("Retry-After")
        return response

    def retry_after(self) -> float | None:
        """Return the seconds this thread's last throttled answer asked to wait, or None."""
        return parse_retry_after(getattr(self._local, "retry_after", None))


class TwilioTransport:
    """Send SMS and place calls through Twilio's REST API (or a compatible endpoint at api_base_url)."""

    def __init__(self, config: TwilioConfig, connections: int = 32) -> None:
        """Talk to Twilio with up to connections requests at once, each thread keeping its connection."""
        self.connections = connections
        # The SDK logs every request's URL and headers at INFO: ten lines per page, in every worker's log.
        # Callout logs each send itself (by outbox id and sid); keep the SDK's to warnings.
        sdk_log = logging.getLogger("twilio.http_client")
        sdk_log.setLevel(max(sdk_log.getEffectiveLevel(), logging.WARNING))
        http_client = _HttpClient(timeout=config.timeout.total_seconds(), logger=sdk_log)
        self._http = http_client
        if http_client.session is not None:
            # Senders run in parallel threads: let each keep its connection (the SDK sizes only https). A pool
            # smaller than the threads opens a connection per message and logs a warning for each.
            adapter = HTTPAdapter(pool_maxsize=connections)
            http_client.session.mount("http://", adapter)
            http_client.session.mount("https://", adapter)
        self._client = Client(config.account_sid, config.auth_token, http_client=http_client)
        if config.api_base_url:
            self._client.api.base_url = config.api_base_url.rstrip("/")
            # TWILIO_EDGE/TWILIO_REGION would rewrite the host name of the other endpoint.
            self._client.edge = None
            self._client.region = None
        self._account = self._client.api.v2010.account
        self._messaging_service_sid = config.messaging_service_sid

    def send_sms(self, sms: Sms) -> str:
        """Hand one SMS to Twilio and return its sid; raise TransportError."""
        params: dict[str, Any] = {"to": sms.to, "body": sms.body}
        if self._messaging_service_sid and not sms.requester:
            params["messaging_service_sid"] = self._messaging_service_sid
        else:
            # A requester's texts go from the support number itself, never through the service's sender
            # pool: Sticky Sender would keep which pool number texted them, for a year. (They come back to
            # the number they texted, too.)
            params["from_"] = sms.from_
        if sms.status_callback:
            params["status_callback"] = sms.status_callback
        if sms.validity is not None:
            params["validity_period"] = min(max(sms.validity, MIN_VALIDITY), MAX_VALIDITY)
        if sms.requester:
            # Ask Twilio to keep neither the text nor the requester's number once it is delivered.
            params["content_retention"] = "discard"
            params["address_retention"] = "obfuscate"
        try:
            message = self._call("sms", lambda: self._account.messages.create(**params))
        except TransportError as exc:
            if exc.code not in RETENTION_UNAVAILABLE or "content_retention" not in params:
                raise
            # The account has no Message Redaction: a support message must still go out, so send it
            # without the retention controls (README tells operators to enable redaction).
            log.warning("twilio: retention controls refused (%s); sending without them", exc.code)
            del params["content_retention"], params["address_retention"]
            message = self._call("sms", lambda: self._account.messages.create(**params))
        return str(message.sid)

    def place_call(self, call: Call) -> str:
        """Place one call whose TwiML Twilio fetches from call.url; return its sid; raise TransportError."""
        params: dict[str, Any] = {
            "to": call.to,
            "from_": call.from_,
            "url": call.url,
            "timeout": call.timeout,
        }
        if call.status_callback:
            params["status_callback"] = call.status_callback
            params["status_callback_event"] = ["completed"]
        if call.machine_detection:
            params["machine_detection"] = "Enable"
        created = self._call("call", lambda: self._account.calls.create(**params))
        return str(created.sid)

    def delete_records(self, sids: list[str]) -> list[str]:
        """Delete Twilio's records of these messages and calls; return the sids it could not delete."""
        failed = []
        for sid in sids:
            if sid.startswith(("SM", "MM")):
                resource = self._account.messages(sid)
            elif sid.startswith("CA"):
                resource = self._account.calls(sid)
            else:
                log.warning("cannot delete %s: not a message or call sid", sid)
                failed.append(sid)
                continue
            try:
                resource.delete()
            except (TwilioException, requests.RequestException) as exc:
                if getattr(exc, "status", None) == 404:
                    continue  # already gone
                log.warning("cannot delete %s: %s", sid, to_transport_error(exc))
                failed.append(sid)
        return failed

    def _call(self, what: str, request: Callable[[], Any]) -> Any:
        """Run one SDK request; log and raise a TransportError when it fails."""
        try:
            return request()
        except (TwilioException, requests.RequestException) as exc:
            error = to_transport_error(exc, self._http.retry_after())
            log.warning(
                "%s failed: %s (%s)", what, error, "the recipient's" if error.permanent else "the provider's"
            )
            # Twilio's exception text can quote the number: do not chain it into tracebacks.
            raise error from None
