"""SMS lengths by the GSM-7 / UCS-2 rules (checked against an independent GSM 03.38 codec), and long relays
cut into parts that Twilio takes, in order, each marked with the code."""

from __future__ import annotations

import re

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
import pytest
from hypothesis import given
from hypothesis import strategies as st

from callout import messages, segments
from callout.segments import GSM_BASIC, GSM_EXTENDED, Encoding, count, outside_gsm7, suggestion

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


# --- counting, segment by segment ------------------------------------------------------------------


def test_the_tables_hold_the_128_basic_characters_and_the_10_of_the_extension() -> None:
    assert len(GSM_BASIC) == 128 and len(GSM_EXTENDED) == 10
    assert not GSM_BASIC & GSM_EXTENDED


@pytest.mark.parametrize(
    ("length", "segments"), [(0, 1), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)]
)
def test_gsm7_fits_160_in_one_segment_then_153_in_each(length: int, segments: int) -> None:
    result = count("a" * length)
    assert (result.encoding, result.units, result.count) == (Encoding.GSM, length, segments)


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
def test_ucs2_fits_70_in_one_segment_then_67_in_each(length: int, segments: int) -> None:
    result = count("Zoë" + "a" * (length - 3))
    assert (result.encoding, result.units, result.count, result.outside) == (
        Encoding.UCS2,
        length,
        segments,
        "ë",
    )


def test_the_extension_table_counts_two_septets_each() -> None:
    assert count("€" * 80).units == 160 and count("€" * 80).count == 1
    assert count("[" * 81).count == 2
    assert count("{}").encoding is Encoding.GSM


def test_an_escaped_character_is_never_split_across_two_segments() -> None:
    # 152 septets, then a two-septet euro sign that cannot start in the first segment's last septet.
    text = "a" * 152 + "€" + "a" * 152
    assert count(text).units == 306
    assert count(text).count == 3  # 152 | 2 + 151 | 1: the euro moved whole into the second segment
    assert count("a" * 151 + "€" + "a" * 153).count == 2  # 153 | 153


def test_a_character_outside_the_basic_plane_takes_two_code_units_and_is_not_split() -> None:
    assert count("🙂").units == 2
    assert count("a" * 66 + "🙂" + "a" * 5).count == 2  # 73 units: the pair moves whole to the second
    assert count("a" * 66 + "🙂" + "a" * 66).count == 3


@pytest.mark.parametrize("char", ["\u2019", "\u201c", "\u2013", "\u2014", "\u2026", "\u00a0", "ç", "ë"])
def test_curly_quotes_dashes_and_ellipses_force_ucs2(char: str) -> None:
    assert count(f"It{char}s ok").encoding is Encoding.UCS2
    assert outside_gsm7(f"a{char}b{char}") == char


def test_a_suggestion_names_the_character_and_what_to_type_instead() -> None:
    assert suggestion("\u2019") == '\u2019 (use "\'")'
    assert suggestion("\u2026ë") == "\u2026 (use '...'), ë"
    assert suggestion("\u00a0") == "\\xa0 (use ' ')"


@given(st.text(alphabet=st.sampled_from(sorted(GSM_BASIC | GSM_EXTENDED)), max_size=400))
def test_septets_agree_with_an_independent_gsm_codec(text: str) -> None:
    assert count(text).units == len(text.encode("gsm03.38"))


@given(st.text(max_size=300))
def test_a_text_the_codec_cannot_encode_is_ucs2(text: str) -> None:
    try:
        text.encode("gsm03.38")
        encodable = True
    except UnicodeEncodeError:
        encodable = False
    assert (count(text).encoding is Encoding.GSM) == encodable
