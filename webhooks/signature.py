"""One guard for every Twilio webhook: a valid X-Twilio-Signature, or 403 and nothing happens."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, request
from twilio.request_validator import RequestValidator

from webhooks.state import runtime

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def signed_url() -> str:
    """Return the URL Twilio signed: public_url plus the path and query of this request."""
    query = request.query_string.decode("latin-1")
    return runtime().config.server.public_url + request.path + (f"?{query}" if query else "")


def twilio_signed(view: F) -> F:
    """Let the view run only for requests Twilio signed with our auth token."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        config = runtime().config
        if config.server.verify_signatures:
            validator = RequestValidator(config.twilio.auth_token)
            signature = request.headers.get("X-Twilio-Signature", "")
            if not signature or not validator.validate(signed_url(), request.form, signature):
                log.warning("rejected a request to %s without a valid Twilio signature", request.path)
                abort(403)
        return view(*args, **kwargs)

    return cast(F, guarded)
