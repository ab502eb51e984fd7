"""Transports: Twilio's REST API, or the console when no account is configured."""

from __future__ import annotations

from collections.abc import Callable

from callout.config import Config
from callout.transport import Transport


def make_transport(config: Config, write: Callable[[str], None] = print) -> Transport:
    """Return the Twilio transport when an account is configured, else the console one."""
    # Each imported only when chosen: the Twilio SDK takes a while to load, and the console needs none of it.
    if config.twilio.enabled:
        from transport.twilio import TwilioTransport

        return TwilioTransport(config.twilio)
    from transport.console import ConsoleTransport

    return ConsoleTransport(write=write)
