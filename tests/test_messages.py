"""Message texts: short enough for one SMS segment where it matters, and never a carrier keyword."""

from __future__ import annotations

import pytest

from callout import messages

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)


@pytest.mark.parametrize(
    "text",
    [
        messages.page("K7QD", "support", "5 min"),
        messages.page("K7QD", "dispatch", "5 min"),
        messages.accepted_support("K7QD", "+14325559876"),
        messages.stand_down("K7QD", "Ofc. Dana Rivera"),
        messages.already_taken("K7QD", "Ofc. Dana Rivera"),
        messages.declined("K7QD"),
        messages.reminder("K7QD"),
        messages.released("K7QD"),
        messages.closed("K7QD", "critical-incident", True),
        messages.requester_accepted(),
        messages.handoff("Odessa PD Peer Support", "Wed 07:00"),
        messages.exhausted_alert("K7QD", "support", 5),
        messages.released_nobody_left("K7QD", director_alerted=True),
        messages.which_held(["K7QD", "M3RT"], "DONE"),
    ],
)
def test_operational_texts_fit_one_gsm_segment(text: str) -> None:
    assert len(text) <= 160 and set(text) <= GSM7, text


@pytest.mark.parametrize(
    "text",
    [
        messages.requester_exhausted(director_alerted=True),
        messages.requester_exhausted(director_alerted=False),
        messages.away("Tue 24 Mar 10:00 CDT"),
        messages.away(None),
        messages.away_usage('can\'t read "soon" as a length'),
        messages.away_usage('"2" has no unit', bare_number="2"),
        messages.away_roles_only(),
        messages.back(was_away=False),
        messages.coverage_gaps(
            "Odessa PD Peer Support",
            [(None, "Wed 07:00", ["peer"]), ("Wed 07:00", "Thu 07:00", ["peer", "psychologist", "director"])],
        ),
    ],
)
def test_texts_are_plain_gsm7(text: str) -> None:
    assert set(text) <= GSM7, text


def test_the_acknowledgement_gives_the_crisis_lines() -> None:
    ack = messages.requester_ack("Odessa PD Peer Support")
    assert "911" in ack and "988" in ack and "confidential" in ack


def test_pages_teach_digits_and_never_say_who_asked() -> None:
    page = messages.page("K7QD", "support", "5 min")
    assert "Reply 1 to accept, 2 to pass" in page
    for keyword in ("YES", "STOP", "HELP"):
        assert keyword not in page.upper().split()
