"""SMS lengths, and long relays cut into parts that Twilio takes, in order, each marked with the code."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from callout import messages, segments

PART = re.compile(r"K7QD \((\d+)/(\d+)\): (.*)", re.S)


def reassembled(original: str, parts: list[str]) -> bool:
    """Tell whether the parts' words, in order, are the original (a cut at a space drops that space)."""
    rest = original
    for part in parts:
        found = PART.fullmatch(part)
        assert found is not None, part[:40]
        words = found.group(3)
        if not rest.startswith(words):
            return False
        rest = rest[len(words) :]
        if rest.startswith(" ") and part is not parts[-1]:
            rest = rest[1:]
    return rest == ""


def test_it_counts_gsm_and_ucs2_segments_as_carriers_do() -> None:
    assert segments.segments("x" * 160) == 1 and segments.segments("x" * 161) == 2
    assert segments.segments("x" * 306) == 2 and segments.segments("x" * 307) == 3
    assert segments.segments("€" * 80) == 1 and segments.segments("€" * 81) == 2  # two septets each
    assert segments.segments("é" * 160) == 1  # in GSM-7's own table
    assert segments.segments("ê" * 70) == 1 and segments.segments("ê" * 71) == 2  # not: UCS-2
    assert segments.segments("😢" * 35) == 1 and segments.segments("😢" * 36) == 2  # two UTF-16 units each


def test_a_relay_that_fits_one_message_goes_as_one_as_before() -> None:
    assert messages.relay("K7QD", "I'm at the lake") == ["K7QD: I'm at the lake"]
    assert messages.relay("K7QD", "x" * 1524) == ["K7QD: " + "x" * 1524]  # 10 segments exactly


def test_a_relay_over_1600_characters_goes_in_numbered_parts_twilio_takes() -> None:
    words = ("I can't sleep since the shooting and I keep going over it. " * 30)[:1606]
    parts = messages.relay("K7QD", words)
    assert len(parts) == 2 and parts[0].startswith("K7QD (1/2): ") and parts[1].startswith("K7QD (2/2): ")
    assert all(len(part) <= segments.MAX_BODY and segments.segments(part) <= 10 for part in parts)
    assert reassembled(words, parts)
    assert not parts[0].endswith(" ") and parts[0][-1].isalpha()  # cut between words, not inside one


def test_emoji_and_accents_make_smaller_parts_never_cut_in_two() -> None:
    words = "Désolé 😢 " * 200
    parts = messages.relay("K7QD", words)
    assert len(parts) == 4  # 2,200 UTF-16 units, at most 670 a part
    for part in parts:
        assert segments.units(part, "ucs2") <= 10 * 67 and segments.segments(part) <= 10
        part.encode("utf-8")  # no half of a character anywhere
    assert reassembled(words, parts)


def test_a_word_longer_than_a_part_is_cut_where_the_part_is_full() -> None:
    parts = messages.relay("K7QD", "y" * 4000)
    assert len(parts) == 3 and reassembled("y" * 4000, parts)


@given(st.text(max_size=1600) | st.text(alphabet="ab €😢\n", max_size=1600))
def test_every_part_of_any_relay_fits_and_together_they_are_the_words(words: str) -> None:
    parts = messages.relay("K7QD", words)
    for part in parts:
        assert segments.fits(part), (segments.segments(part), segments.units(part, "ucs2"))
    if len(parts) == 1:
        assert parts == [f"K7QD: {words}"]
    else:
        assert [PART.fullmatch(p).group(1, 2) for p in parts] == [  # type: ignore[union-attr]
            (str(i), str(len(parts))) for i in range(1, len(parts) + 1)
        ]
        assert reassembled(words, parts)
