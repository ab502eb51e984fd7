"""The SMS command parser: every keyword, and never an exception whatever the text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callout.commands import CODE_ALPHABET, Command, is_privacy, looks_like_code, parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", Command("accept")),
        ("yes", Command("accept")),
        ("Y", Command("accept")),
        ("accept k7qd", Command("accept", "K7QD")),
        ("1 K7QD", Command("accept", "K7QD")),
        ("1K7QD", Command("accept", "K7QD")),
        ("2", Command("decline")),
        ("no", Command("decline")),
        ("PASS k7qd", Command("decline", "K7QD")),
        ("done", Command("done")),
        ("DONE K7QD work OT", Command("done", "K7QD", ("work", "ot"))),
        ("done family", Command("done", None, ("family",))),
        ("release", Command("release")),
        ("Release K7QD", Command("release", "K7QD")),
        ("who", Command("who")),
        ("AWAY 3d", Command("away", args=("3d",))),
        ("away", Command("away")),
        ("back", Command("back")),
        ("talk", Command("talk")),
        ("TALK I am not ok", Command("talk")),
        (
            "PAGE welfare check caller at 5th and Main",
            Command("page", note="welfare check caller at 5th and Main"),
        ),
        (
            "DEBRIEF #Post-Shooting OIS at Elm St",
            Command("debrief", note="OIS at Elm St", skill="post-shooting"),
        ),
        ("DEBRIEF LODD briefing 1400", Command("debrief", note="LODD briefing 1400")),
        ("?", Command("help")),
        ("help", Command("help")),
        ("commands", Command("help")),
        ("what is going on", Command("help")),
        ("yes I need to talk", Command("help")),
        ("", Command("help")),
    ],
)
def test_it_parses_each_keyword(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "word", ["STOP", "CANCEL", "END", "QUIT", "UNSUBSCRIBE", "START", "UNSTOP", "STOPALL"]
)
def test_carrier_keywords_are_never_commands(word: str) -> None:
    assert parse(word).name == "help"


def test_codes_avoid_characters_that_read_alike() -> None:
    for confusable in "0O1IL2Z5S8B":
        assert confusable not in CODE_ALPHABET
    assert looks_like_code("k7qd") and not looks_like_code("K0QD") and not looks_like_code("K7Q")


def test_privacy_is_exact() -> None:
    assert is_privacy(" privacy ") and not is_privacy("privacy please")


@given(st.text())
def test_it_never_raises_and_always_names_a_known_command(text: str) -> None:
    command = parse(text)
    assert command.name in {
        "accept",
        "decline",
        "done",
        "release",
        "who",
        "away",
        "back",
        "talk",
        "page",
        "debrief",
        "help",
    }
    assert command.code is None or looks_like_code(command.code)
