"""Message texts: short enough for one SMS segment where it matters, and never a carrier keyword."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta

import pytest

from callout import messages
from callout.segments import outside_gsm7

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
        messages.declined_nobody_left("K7QD", director_alerted=True),
        messages.passed_first("K7QD"),
        messages.passed_already("K7QD"),
        messages.passed_nobody_took("K7QD"),
        messages.yours_already("K7QD"),
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
    ack = messages.requester_ack("Odessa PD Peer Support", messages.DEFAULT_LIMITS)
    assert "911" in ack and "988" in ack and "confidential" in ack


def test_pages_teach_digits_and_never_say_who_asked() -> None:
    page = messages.page("K7QD", "support", "5 min")
    assert "Reply 1 to accept, 2 to pass" in page
    for keyword in ("YES", "STOP", "HELP"):
        assert keyword not in page.upper().split()


# Sample arguments for every parameter of messages.py, by name (and annotation where a name has two).
SAMPLES: dict[str, object] = {
    "area": "critical-incident",
    "areas": ["work", "family", "critical-incident"],
    "at": datetime(2026, 3, 10, 15, 0, tzinfo=UTC),
    "by": "Dispatch (J. Brooks)",
    "callback:bool": True,
    "callback:str | None": "+14325550150",
    "code": "K7QD",
    "codes": ["K7QD", "M4TR"],
    "contact": "+14325559876",
    "count": 5,
    "delta": timedelta(hours=24),
    "director_alerted": True,
    "kind": "support",
    "known": ["post-shooting"],
    "limit": 300,
    "limits": messages.DEFAULT_LIMITS,
    "minutes": "5 min",
    "name": "Ofc. Dana Rivera",
    "needed": 2,
    "next_name": "Sgt. Mei Chen",
    "next_paged": True,
    "note": "OIS debrief 19:00 at Station 2",
    "now_names": ["Ofc. Dana Rivera", "Sgt. Mei Chen"],
    "overtime": True,
    "paged": 6,
    "purge_after": "24 h",
    "role": "director",
    "shift_end": "Wed 07:00",
    "skill": "post-shooting",
    "start": "Tue 07:00",
    "testing": True,
    "holder": "Ofc. Mei Chen",
    "yours": False,
    "director_told": True,
    "ask_from": "Sat 26 Sep",
    "fallback_role": "psychologist",
    "tally": "DEBRIEF K7QD: 2 responding: Rivera, Chen; 1 unable.",
    "team": "Odessa PD Peer Support",
    "tried": 5,
    "unable": 1,
    "until": "Thu 12 Mar 19:00",
    "waiting": 2,
    "whom": "all peers",
    "word": "DONE",
    "words": "Thank you. I'm in the lot behind the station.",
    "yes:Sequence[str]": ["Ofc. Dana Rivera", "Sgt. Mei Chen"],
    "yes:int": 1,
    "zone": "America/Chicago",
    "reason": "That length could not be read",
    "bare_number": "3",
    "was_away": True,
    "gaps": [(None, "Wed 07:00", ["peer"]), ("Wed 07:00", "Thu 07:00", ["peer", "psychologist"])],
    "now": datetime(2026, 3, 10, 15, 0, tzinfo=UTC),
    "roles": ["peer", "psychologist"],
    "asker": "Sgt. Lee Park",
    "end": "Thu 12 Mar 07:00 CDT",
    "taker": "Det. Kim Moss",
    "day": "Thu 12 Mar",
    "starts_ends": [("Wed 11 Mar 07:00 CDT", "Thu 12 Mar 07:00 CDT")],
    "channel": "voice",
    "call_after": "2 min",
    "timeout": "5 min",
    "begun": False,
    "everyone_passed": True,
    "mine": ["Wed 11 Mar 07:00 CDT", "Sat 14 Mar 07:00 CDT"],
    "link": "https://peer.example.org/calendar/kKuCXTxfDzqyAB7RPJPQDHx9mk4AONmY.ics",
}


TEXT_FUNCTIONS = sorted(
    name
    for name, function in inspect.getmembers(messages, inspect.isfunction)
    if function.__module__ == messages.__name__ and not name.startswith("_")
)


@pytest.mark.parametrize("name", TEXT_FUNCTIONS)
def test_every_text_is_plain_gsm7_so_no_character_triples_its_cost(name: str) -> None:
    function = getattr(messages, name)
    arguments = {}
    for parameter in inspect.signature(function).parameters.values():
        keys = (f"{parameter.name}:{parameter.annotation}", parameter.name)
        key = next((k for k in keys if k in SAMPLES), None)
        if key is None:
            pytest.fail(
                f"add a sample for messages.{name}({parameter.name}) to SAMPLES in tests/test_messages.py"
            )
        arguments[parameter.name] = SAMPLES[key]
    result = function(**arguments)
    for text in result if isinstance(result, list) else [str(result)]:
        assert not outside_gsm7(text), (
            f"messages.{name} sends {outside_gsm7(text)!r}, outside GSM-7: {text!r}"
        )
