"""Parse a member's SMS into a command; never raises, whatever the text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"  # no 0/O, 1/I/L, 2/Z, 5/S, 8/B: easy to read aloud
CODE_LENGTH = 4

ACCEPT_WORDS = {"1", "YES", "Y", "ACCEPT"}
DECLINE_WORDS = {"2", "NO", "N", "PASS"}
HELP_WORDS = {"?", "HELP", "COMMANDS"}
_CODE = re.compile(rf"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")


@dataclass(frozen=True)
class Command:
    """A parsed member command: its name, an optional request code and the remaining words."""

    # accept | decline | done | release | who | away | back | talk | page | debrief | shifts | cover | test
    # | help
    name: str
    code: str | None = None
    args: tuple[str, ...] = field(default_factory=tuple)
    note: str = ""
    skill: str | None = None


def looks_like_code(word: str) -> bool:
    """Tell whether word has the shape of a request code."""
    return bool(_CODE.match(word.upper()))


def parse(text: str) -> Command:
    """Return the command in text; anything unrecognised is help."""
    stripped = " ".join(text.split())
    words = stripped.split(" ") if stripped else []
    if not words:
        return Command("help")
    head = words[0].upper().rstrip(".!,?") or words[0]  # "who?" is WHO; a lone "?" stays help
    rest = words[1:]
    # "1K7QD" or "YES K7QD": allow a code glued to a digit answer too.
    glued = re.match(rf"^([12])([{CODE_ALPHABET}]{{{CODE_LENGTH}}})$", head)
    if glued:
        head, rest = glued.group(1), [glued.group(2), *rest]
    if head in ACCEPT_WORDS or head in DECLINE_WORDS:
        name = "accept" if head in ACCEPT_WORDS else "decline"
        code = rest[0].upper() if rest and looks_like_code(rest[0]) else None
        if rest and code is None and name == "accept" and head not in ("1",):
            return Command("help")  # "yes I need help": not an answer to a page
        return Command(name, code)
    if head in ("DONE", "RELEASE"):
        code = rest[0].upper() if rest and looks_like_code(rest[0]) else None
        args = tuple(w.lower() for w in (rest[1:] if code else rest))
        return Command(head.lower(), code, args)
    if head in ("WHO", "BACK", "TALK") and not rest:
        return Command(head.lower())
    if head == "TALK":
        return Command("talk")
    if head in ("SHIFTS", "SHIFT") and not rest:
        return Command("shifts")
    if head == "COVER":
        return Command("cover", note=" ".join(rest))  # the date, in as many words as it takes ("Dec 24")
    if head == "TEST" and not rest:
        return Command("test")
    if head == "AWAY":
        return Command("away", args=tuple(rest))  # "AWAY 2 weeks": the whole length
    if head in ("PAGE", "DEBRIEF"):
        skill = None
        if head == "DEBRIEF" and rest and rest[0].startswith("#") and len(rest[0]) > 1:
            skill, rest = rest[0][1:].lower(), rest[1:]
        return Command(head.lower(), note=" ".join(rest), skill=skill)
    return Command("help")


OPT_IN_ONLY = {"START", "UNSTOP"}


def is_opt_in_only(text: str) -> bool:
    """Tell whether the text is just a carrier opt-in word (START, UNSTOP), with nothing to act on."""
    return text.strip().upper() in OPT_IN_ONLY


def is_privacy(text: str) -> bool:
    """Tell whether the text is exactly PRIVACY (any case, surrounding spaces ignored)."""
    return text.strip().upper() == "PRIVACY"
