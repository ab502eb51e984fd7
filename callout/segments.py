"""SMS lengths: how a text is encoded and counted, and how a long one is cut into parts that go through.

A text of GSM-7 characters alone (GSM 03.38, 3GPP TS 23.038) travels at 7 bits a character: 160 in one
segment, 153 per segment once concatenated; the characters of GSM's extension table take two (an escape,
then the character), and a segment never ends between the two. Any other character makes the whole text
UCS-2: 70 UTF-16 code units, then 67 per segment; a character beyond the Basic Multilingual Plane (an emoji)
takes two, never split either. Twilio refuses a body over 1,600 characters (error 21617), counting such
characters as more than one, and long concatenations are where carriers drop parts. So a part is at most
MAX_SEGMENTS segments: about 1,530 GSM-7 characters or 670 UCS-2 units, within 1,600 whichever way counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_BODY = 1600  # Twilio's cap on a message body
MAX_SEGMENTS = 10  # what one part may take

# The basic set in code order, 0x00 to 0x7F (0x1B, the escape, counts one septet as GSM 03.38 codecs do).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: form feed, ^ { } \ [ ~ ] | and the euro sign, two septets each.
GSM_EXTENDED = frozenset("\f^{}\\[~]|€")


class Encoding(StrEnum):
    """The two encodings an SMS is sent in."""

    GSM = "gsm"
    UCS2 = "ucs2"


SINGLE = {Encoding.GSM: 160, Encoding.UCS2: 70}
CONCATENATED = {Encoding.GSM: 153, Encoding.UCS2: 67}
LABELS = {Encoding.GSM: "GSM-7", Encoding.UCS2: "UCS-2"}

# What a word processor puts where a GSM-7 character would do: the suggestion a refusal names.
LOOKALIKES = {
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark (the curly apostrophe)
    "\u201c": '"',  # left double quotation mark
    "\u201d": '"',  # right double quotation mark
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2026": "...",  # ellipsis
    "\u00a0": " ",  # no-break space
    "\u2022": "-",  # bullet
}


@dataclass(frozen=True)
class Segments:
    """How a text is sent: its encoding, its length in septets or code units, and its segments."""

    encoding: Encoding
    units: int
    count: int
    outside: str  # the characters, in order of appearance, that forced UCS-2 ("" for GSM-7)

    def __str__(self) -> str:
        """Describe the count as a person reads it: "2 segments (GSM-7, 290 characters)"."""
        unit = "characters" if self.encoding is Encoding.GSM else "UCS-2 characters"
        plural = "" if self.count == 1 else "s"
        return f"{self.count} segment{plural} ({LABELS[self.encoding]}, {self.units} {unit})"


def outside_gsm7(text: str) -> str:
    """Return the distinct characters of text that GSM-7 cannot carry, in order of appearance."""
    seen: dict[str, None] = {}
    for char in text:
        if char not in GSM_BASIC and char not in GSM_EXTENDED:
            seen.setdefault(char)
    return "".join(seen)


def encoding(text: str) -> Encoding:
    """Return GSM when every character of text is in GSM-7 (basic or extension table), else UCS2."""
    return Encoding.UCS2 if outside_gsm7(text) else Encoding.GSM


def cost(char: str, how: str) -> int:
    """Return how many units one character takes: GSM-7 septets, or UTF-16 code units."""
    if how == Encoding.GSM:
        return 2 if char in GSM_EXTENDED else 1
    return 2 if ord(char) > 0xFFFF else 1


def units(text: str, how: str | None = None) -> int:
    """Return the length of text in its encoding's units (septets or UTF-16 code units)."""
    how = how or encoding(text)
    return sum(cost(c, how) for c in text)


def count(text: str) -> Segments:
    """Count the segments of text; an empty text is one segment, as carriers bill it."""
    outside = outside_gsm7(text)
    how = Encoding.UCS2 if outside else Encoding.GSM
    sizes = [cost(char, how) for char in text]
    length = sum(sizes)
    if length <= SINGLE[how]:
        return Segments(how, length, 1, outside)
    room, used, parts = CONCATENATED[how], 0, 1
    for size in sizes:
        if used + size > room:  # an escaped character or a surrogate pair moves whole to the next segment
            parts, used = parts + 1, 0
        used += size
    return Segments(how, length, parts, outside)


def segments(text: str) -> int:
    """Return how many SMS segments text takes."""
    return count(text).count


def fits(text: str) -> bool:
    """Tell whether text can go as one message: under Twilio's cap and at most MAX_SEGMENTS segments."""
    return units(text, Encoding.UCS2) <= MAX_BODY and segments(text) <= MAX_SEGMENTS


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


def suggestion(chars: str) -> str:
    """Name characters outside GSM-7 and what to type instead: "’ (use ')"."""
    named = []
    for char in chars:
        instead = LOOKALIKES.get(char)
        shown = repr(char)[1:-1] if not char.isprintable() or char.isspace() else char
        named.append(f"{shown} (use {instead!r})" if instead else shown)
    return ", ".join(named)
