"""SMS lengths: how a text is encoded and counted, and how a long one is cut into parts that go through.

A text of GSM-7 characters alone travels at 7 bits a character (160 in one segment, 153 per segment once
concatenated; the characters of GSM's extension table take two); any other character makes the whole text
UCS-2 (70, then 67 per segment, and a character beyond the Basic Multilingual Plane, an emoji, takes two).
Twilio refuses a body over 1,600 characters (error 21617), counting such characters as more than one, and
long concatenations are where carriers drop parts. So a part is at most MAX_SEGMENTS segments: about 1,530
GSM-7 characters or 670 UCS-2 units, within 1,600 whichever way they are counted.
"""

from __future__ import annotations

import math

MAX_BODY = 1600  # Twilio's cap on a message body
MAX_SEGMENTS = 10  # what one part may take

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("\f^{}\\[~]|€")
SINGLE = {"gsm": 160, "ucs2": 70}
CONCATENATED = {"gsm": 153, "ucs2": 67}


def encoding(text: str) -> str:
    """Return "gsm" when every character of text is in GSM-7 (basic or extension table), else "ucs2"."""
    return "gsm" if all(c in GSM_BASIC or c in GSM_EXTENDED for c in text) else "ucs2"


def cost(char: str, how: str) -> int:
    """Return how many units one character takes: GSM-7 septets, or UTF-16 code units."""
    if how == "gsm":
        return 2 if char in GSM_EXTENDED else 1
    return 2 if ord(char) > 0xFFFF else 1


def units(text: str, how: str | None = None) -> int:
    """Return the length of text in its encoding's units (septets or UTF-16 code units)."""
    how = how or encoding(text)
    return sum(cost(c, how) for c in text)


def segments(text: str) -> int:
    """Return how many SMS segments text takes."""
    how = encoding(text)
    length = units(text, how)
    if length <= SINGLE[how]:
        return 1
    return math.ceil(length / CONCATENATED[how])


def fits(text: str) -> bool:
    """Tell whether text can go as one message: under Twilio's cap and at most MAX_SEGMENTS segments."""
    return units(text, "ucs2") <= MAX_BODY and segments(text) <= MAX_SEGMENTS


def split(text: str, room: int, how: str) -> list[str]:
    """Cut text into pieces of at most room units (in how's units), at a space where one is near the end.

    A cut at a space drops that space; a word longer than a piece is cut where the piece is full. Characters
    are never cut in two.
    """
    pieces: list[str] = []
    rest = text
    while units(rest, how) > room:
        used, end = 0, 0
        while end < len(rest) and used + cost(rest[end], how) <= room:
            used += cost(rest[end], how)
            end += 1
        space = rest.rfind(" ", 0, end + 1)  # the character just past a full piece may be the space
        if space > end * 3 // 4:
            pieces.append(rest[:space])
            rest = rest[space + 1 :]
        else:
            pieces.append(rest[:end])
            rest = rest[end:]
    if rest or not pieces:
        pieces.append(rest)
    return pieces
