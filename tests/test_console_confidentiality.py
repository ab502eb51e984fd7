"""No console page shows a requester's number or words, in any format, to any role."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from callout.models import Member, Request
from tests.conftest import Clock, ConsoleClient, TwilioClient, add_roster, make_user, send

REQUESTERS = ("+14325559876", "+14325554321")
CALLBACK = "+14325557788"
WORDS = ("Rough night after the crash on the interstate", "my sergeant keeps calling me names")
NOTE = "Officer Hendricks at Station 4 after the fatal crash"


def formats(e164: str) -> list[str]:
    """Return a US number as people and programs write it."""
    digits = e164.removeprefix("+1")
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    return [
        e164,
        digits,
        "1" + digits,
        f"({area}) {exchange}-{line}",
        f"({area})&nbsp;{exchange}-{line}",
        f"{area}-{exchange}-{line}",
        f"{area}.{exchange}.{line}",
        f"{area} {exchange} {line}",
        f"+1 {area}-{exchange}-{line}",
        f"+1 {area} {exchange} {line}",
        f"{exchange}-{line}",
        "%2B1" + digits,  # in a URL
        "&#43;1" + digits,  # an escaped +
        "&#x2B;1" + digits,
    ]


def every_page(app: Any, codes: list[str], member_ids: list[int]) -> list[str]:
    """Return every GET page of the console, filled in for team odessa, each code and each member."""
    urls = []
    for rule in app.url_map.iter_rules():
        if (
            not rule.endpoint.startswith("console.")
            or "GET" not in rule.methods
            or rule.endpoint == "console.static"
        ):
            continue
        args = set(rule.arguments)
        known = {"slug", "code", "fmt", "user_id", "member_id"}
        assert args <= known, f"{rule.rule}: teach this test what to put in {args - known}"
        base = rule.rule.replace("<slug>", "odessa")
        if "<fmt>" in base:
            urls += [
                base.replace("<fmt>", fmt) + "?start=2026-03-01&end=2026-03-31"
                for fmt in ("csv", "json", "html")
            ]
        elif "<code>" in base:
            urls += [base.replace("<code>", code) for code in codes]
        elif "member_id" in args:
            urls += [re.sub(r"<id:member_id>", str(member), base) for member in member_ids]
        elif "user_id" not in args:
            urls.append(base)
    return urls


@pytest.mark.parametrize("role", ["admin", "director", "dispatch", "viewer"])
def test_no_page_shows_a_requesters_number_or_words(
    app: Any, rt: Any, twilio: TwilioClient, clock: Clock, role: str
) -> None:
    roster = add_roster(
        rt,
        rivera=("Ofc. Dana Rivera", "peer"),
        chen=("Sgt. Mei Chen", "peer"),
        nguyen=("Lt. Sam Nguyen", "director"),
        diaz=("Dispatch Diaz", "dispatch"),
    )
    make_user(rt, "someone", role, None if role == "admin" else "odessa")
    client = ConsoleClient(app)
    client.login("someone")
    make_user(rt, "desk", "dispatch")
    desk = ConsoleClient(app)
    desk.login("desk")
    for number, words in zip(REQUESTERS, WORDS, strict=True):
        twilio.sms(number, words)
    desk.post("/console/odessa/dispatch", {"kind": "page", "note": NOTE, "callback": CALLBACK})
    twilio.sms(roster["diaz"].phone, f"PAGE {NOTE} call {CALLBACK}")
    twilio.sms(roster["chen"].phone, "TALK")
    send(rt)
    codes = rt.run(lambda s, e, n: [r.code for r in s.scalars(select(Request))])
    twilio.sms(roster["rivera"].phone, f"1 {codes[0]}")
    clock.advance(minutes=3)
    pages = every_page(app, codes, [m.id for m in roster.values()])
    assert any("/dispatch/" in url for url in pages) and any("report.csv" in url for url in pages)
    assert any("/roster/members/" in url for url in pages) and any(url.endswith("/calendar") for url in pages)
    seen = 0
    for url in pages:
        for viewer in (client, desk):
            response = viewer.get(url)
            assert response.status_code in (200, 302, 403, 404), url
            body = response.get_data(as_text=True)
            seen += len(body)
            for number in (*REQUESTERS, CALLBACK):
                for written in formats(number):
                    assert written not in body, f"{url} shows {written}"
            for words in (*WORDS, NOTE, "Hendricks", "Station 4"):
                assert words not in body, f"{url} shows the words {words!r}"
    assert seen > 10_000


def test_a_talk_request_never_shows_the_member_who_asked(
    app: Any, rt: Any, twilio: TwilioClient, clock: Clock
) -> None:
    roster: dict[str, Member] = add_roster(
        rt,
        rivera=("Ofc. Dana Rivera", "peer"),
        chen=("Sgt. Mei Chen", "peer"),
        ortiz=("Det. Luis Ortiz", "peer"),
    )
    make_user(rt, "lt.nguyen", "director")
    client = ConsoleClient(app)
    client.login("lt.nguyen")
    twilio.sms(roster["chen"].phone, "TALK")
    codes = rt.run(lambda s, e, n: [r.code for r in s.scalars(select(Request))])
    for url in ("/console/odessa/", "/console/odessa/board/live"):
        body = client.get(url).get_data(as_text=True)
        assert "Chen" not in body and roster["chen"].phone not in body
        assert codes[0] in body
