"""Phone numbers: parsed once at the edge into E.164, and kept so."""

from __future__ import annotations

import phonenumbers


class InvalidPhone(ValueError):
    """A phone number that cannot be parsed, or that cannot exist."""


def to_e164(text: str, region: str = "US") -> str:
    """Return text as an E.164 number; raise InvalidPhone saying why it is not one."""
    if not text or not text.strip():
        raise InvalidPhone("no phone number given")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(f"{text!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"{text!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def maybe_e164(text: str) -> str | None:
    """Return a number Twilio sends us as E.164, or None if it is no phone number (a short code, say).

    Lenient on purpose: Twilio's own caller ID is to be trusted, and phonenumbers' metadata lags behind
    new number ranges; someone texting for help from one must still be answered.
    """
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(number: str) -> str:
    """Return a phone number with all but its country/area prefix and last two digits hidden."""
    keep_head = 5 if len(number) >= 9 else 0
    hidden = len(number) - keep_head - 2
    if hidden <= 0:
        return "•" * len(number)
    return number[:keep_head] + "•" * hidden + number[-2:]
