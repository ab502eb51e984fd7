"""Transports: Twilio's REST API, or the console when no account is configured."""

from __future__ import annotations

from collections.abc import Callable

from callout.config import Config
from callout.transport import Transport

OTHER_CALLERS = 16  # threads besides the senders that may call Twilio at once (relays, calls, deletions)


def make_transport(config: Config, write: Callable[[str], None] = print) -> Transport:
    """Return the Twilio transport when an account is configured, else the console one."""
    # Each imported only when chosen: the Twilio SDK takes a while to load, and the console needs none of it.
    if config.twilio.enabled:
        from transport.twilio import TwilioTransport

        # Every sender thread, and the webhooks' and the scheduler's threads that call Twilio themselves.
        return TwilioTransport(config.twilio, connections=config.server.senders + OTHER_CALLERS)
    from transport.console import ConsoleTransport

    return ConsoleTransport(write=write)
