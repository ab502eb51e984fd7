"""A small fake of Twilio's REST API, served on 127.0.0.1 in a thread, for end-to-end tests and the benchmark.

Run standalone with `python -m tests.fake_twilio --port 8089 --latency 0.2`; it prints its base URL and
serves until killed. `GET /_fake/records` returns what it received, as JSON.
"""

from __future__ import annotations

import argparse
import secrets
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import requests
from flask import Flask, Response, g, jsonify, request
from twilio.request_validator import RequestValidator
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "test-auth-token"
API = "/2010-04-01/Accounts/<account>"
MAX_BODY = 1600


class _QuietHandler(WSGIRequestHandler):
    """Serve requests without logging a line for each; keep connections open between them, as Twilio does."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log nothing: the benchmark sends thousands of requests."""


def _error(status: int, code: int, message: str) -> tuple[Response, int]:
    """Return an error shaped like Twilio's."""
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    body = {"code": code, "message": message, "more_info": more_info, "status": status}
    return jsonify(body), status


class FakeTwilio:
    """Answer the Messages and Calls requests TwilioTransport makes, record them, inject faults."""

    def __init__(
        self,
        latency: float = 0.0,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        port: int = 0,
    ) -> None:
        self.latency = latency
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._port = port
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []
        self._calls: list[dict[str, Any]] = []
        self._deleted: list[str] = []
        self._failures: list[tuple[int, int | None, str | None]] = []
        self._down_until = 0.0  # time.monotonic() before which every REST request is refused
        self._down_answer: tuple[int, int | None] = (503, None)
        self._hangs: list[float] = []
        self._bad_numbers: dict[str, tuple[int, int]] = {}
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app = self._make_app()

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        """Start serving in a background thread."""
        self._server = make_server(
            "127.0.0.1", self._port, self.app, threaded=True, request_handler=_QuietHandler
        )
        server = self._server
        # A short poll interval keeps stop() (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05), name="fake-twilio", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Return the URL to put in twilio.api_base_url."""
        assert self._server is not None, "FakeTwilio is not started"
        return f"http://127.0.0.1:{self._server.server_port}"

    # -- what was received -------------------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Return the messages so far: form fields, sid, arrived_at, received_at (after the latency)."""
        with self._lock:
            return list(self._messages)

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Return the calls created so far: form fields, sid, arrived_at, received_at (after the latency)."""
        with self._lock:
            return list(self._calls)

    @property
    def deleted(self) -> list[str]:
        """Return the sids deleted so far."""
        with self._lock:
            return list(self._deleted)

    def messages_to(self, number: str) -> list[dict[str, Any]]:
        """Return the messages created for this number."""
        return [m for m in self.messages if m.get("To") == number]

    def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0) -> bool:
        """Poll predicate until it is true or timeout seconds pass; return whether it came true."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    # -- faults ------------------------------------------------------------------------------------

    def fail_next(
        self, n: int = 1, status: int = 500, code: int | None = None, retry_after: str | None = None
    ) -> None:
        """Answer the next n requests with this HTTP status and Twilio error code (and Retry-After)."""
        with self._lock:
            self._failures.extend([(status, code, retry_after)] * n)

    def down_for(self, seconds: float, status: int = 503, code: int | None = None) -> None:
        """Answer every REST request with this HTTP status for the next seconds: an outage of Twilio's."""
        with self._lock:
            self._down_until = time.monotonic() + seconds
            self._down_answer = (status, code)

    @property
    def down(self) -> bool:
        """Tell whether an outage down_for started is still on."""
        with self._lock:
            return time.monotonic() < self._down_until

    def hang_next(self, n: int, seconds: float) -> None:
        """Hold the next n requests for this many seconds before answering them."""
        with self._lock:
            self._hangs.extend([seconds] * n)

    def fail_number(self, number: str, code: int = 21211, status: int = 400) -> None:
        """Refuse every message and call to this number with this Twilio error."""
        with self._lock:
            self._bad_numbers[number] = (status, code)

    # -- webhooks to our app, signed as Twilio signs them ------------------------------------------

    def post_signed(
        self, app_url: str, public_url: str, auth_token: str, path: str, params: dict[str, str]
    ) -> tuple[int, str]:
        """POST form params to app_url + path, signed for public_url + path; return (status, body)."""
        signature = RequestValidator(auth_token).compute_signature(public_url.rstrip("/") + path, params)
        response = requests.post(
            app_url.rstrip("/") + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=10
        )
        return response.status_code, response.text

    def send_status(
        self, app_url: str, public_url: str, auth_token: str, sid: str, status: str, **extra: str
    ) -> tuple[int, str]:
        """Send our app the status callback Twilio would send for this message or call sid."""
        if sid.startswith("CA"):
            record = next((c for c in self.calls if c["sid"] == sid), {})
            params = {"CallSid": sid, "CallStatus": status}
        else:
            record = next((m for m in self.messages if m["sid"] == sid), {})
            params = {"MessageSid": sid, "MessageStatus": status, "SmsSid": sid, "SmsStatus": status}
        params["AccountSid"] = self.account_sid
        for field in ("To", "From"):
            if isinstance(record.get(field), str):
                params[field] = record[field]
        params.update(extra)
        return self.post_signed(app_url, public_url, auth_token, "/twilio/status", params)

    # -- the REST API ------------------------------------------------------------------------------

    def _make_app(self) -> Flask:
        """Build the Flask app that plays Twilio."""
        app = Flask(__name__)

        @app.before_request
        def check() -> tuple[Response, int] | None:
            """Authenticate, wait, and inject the faults asked for."""
            if request.path.startswith("/_fake/"):
                return None
            g.arrived_at = time.time()  # before the latency: when the call reached Twilio
            auth = request.authorization
            if auth is None or (auth.username, auth.password) != (self.account_sid, self.auth_token):
                return _error(401, 20003, "Authentication Error - invalid username")
            if (request.view_args or {}).get("account") != self.account_sid:
                return _error(404, 20404, "The requested resource was not found")
            with self._lock:
                failure = self._failures.pop(0) if self._failures else None
                if failure is None and time.monotonic() < self._down_until:
                    failure = (*self._down_answer, None)
                hang = self._hangs.pop(0) if self._hangs else 0.0
                bad = self._bad_numbers.get(request.form.get("To", ""))
            time.sleep(self.latency + hang)
            if failure is not None:
                status, code, retry_after = failure
                response, status = _error(status, code or status, "Injected failure")
                if retry_after is not None:
                    response.headers["Retry-After"] = retry_after
                return response, status
            if bad is not None and request.method == "POST":
                to = request.form["To"]
                return _error(bad[0], bad[1], f"The 'To' number {to} is not a valid phone number.")
            return None

        def record(kind: str, prefix: str, into: list[dict[str, Any]]) -> tuple[Response, int]:
            """Store one created resource and answer as Twilio does."""
            fields: dict[str, Any] = {k: v[0] if len(v) == 1 else v for k, v in request.form.lists()}
            sid = prefix + secrets.token_hex(16)
            with self._lock:
                into.append({**fields, "sid": sid, "arrived_at": g.arrived_at, "received_at": time.time()})
            service = fields.get("MessagingServiceSid")
            body = {
                "sid": sid,
                "account_sid": self.account_sid,
                "to": fields.get("To"),
                "from": fields.get("From"),
                "status": "accepted" if service and "From" not in fields else "queued",
                "direction": "outbound-api",
                "date_created": formatdate(usegmt=True),
                "api_version": "2010-04-01",
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/{kind}/{sid}.json",
            }
            if kind == "Messages":
                body.update(body=fields.get("Body"), messaging_service_sid=service, num_segments="1")
                body.update(error_code=None, error_message=None, price=None)
            return jsonify(body), 201

        @app.post(f"{API}/Messages.json")
        def create_message(account: str) -> tuple[Response, int]:
            """Create a message; refuse a body over 1,600 characters (an emoji counts two) as Twilio does."""
            if len(request.form.get("Body", "").encode("utf-16-le")) // 2 > MAX_BODY:
                return _error(400, 21617, "The concatenated message body exceeds the 1600 character limit")
            return record("Messages", "SM", self._messages)

        @app.post(f"{API}/Calls.json")
        def create_call(account: str) -> tuple[Response, int]:
            """Create a call."""
            return record("Calls", "CA", self._calls)

        @app.delete(f"{API}/<any(Messages, Calls):kind>/<sid>.json")
        def delete(account: str, kind: str, sid: str) -> tuple[Response | str, int]:
            """Delete a message or call record; 404 if it is unknown or already deleted."""
            with self._lock:
                known = {r["sid"] for r in (self._messages if kind == "Messages" else self._calls)}
                if sid not in known or sid in self._deleted:
                    return _error(404, 20404, f"The requested resource /{kind}/{sid}.json was not found")
                self._deleted.append(sid)
            return "", 204

        @app.get("/_fake/records")
        def records() -> Response:
            """Return everything received, for a benchmark running the fake in another process."""
            return jsonify(messages=self.messages, calls=self.calls, deleted=self.deleted)

        return app


def main() -> None:
    """Serve a FakeTwilio until killed, printing its base URL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--account-sid", default=ACCOUNT_SID)
    parser.add_argument("--auth-token", default=AUTH_TOKEN)
    args = parser.parse_args()
    fake = FakeTwilio(args.latency, args.account_sid, args.auth_token, port=args.port).start()
    print(fake.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
