"""Dispatch: the JSON API (token, errors, pages, debriefs, on-call list) and PAGE by SMS."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from callout import dispatch, messages
from callout.config import Config
from callout.models import Member, Request, Team
from tests.conftest import (
    NOW,
    Clock,
    RecordingTransport,
    TwilioClient,
    last_to,
    make_config,
    make_member,
    send,
    team_table,
    tick,
)

TOKEN = "dispatch-secret"
ODESSA = "Odessa PD Peer Support: "  # two teams are configured: texts about a request name its team
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CALLBACK = "+14325550123"
NOTE = "Officer asking for a peer after a fatal crash, Unit 12"
PAGE = "Reply 1 to accept, 2 to pass"


@pytest.fixture
def config(database_url: str) -> Config:
    return make_config(
        database_url,
        team_table(),
        team_table(
            slug="midland", name="Midland", support_number="+14325550200", dispatch_token="mid-secret"
        ),
        team_table(slug="ector", name="Ector", support_number="+14325550300", dispatch_token=""),
    )


@pytest.fixture
def roster(rt: Any) -> dict[str, Member]:
    with rt.sessions() as session, session.begin():
        team = session.scalar(select(Team).where(Team.slug == "odessa"))
        return {
            "rivera": make_member(session, team, "Rivera", skills=["post-shooting"]),
            "chen": make_member(session, team, "Chen", skills=["post-shooting"]),
            "ortiz": make_member(session, team, "Ortiz"),
            "kim": make_member(session, team, "Kim", away_until=NOW + timedelta(days=1)),
            "patel": make_member(session, team, "Dr. Patel", role="psychologist"),
            "nguyen": make_member(session, team, "Lt. Nguyen", role="director"),
            "diaz": make_member(session, team, "Diaz", role="dispatch"),
        }


@pytest.fixture
def api(app: Any) -> Any:
    return app.test_client()


def post(api: Any, body: Any, headers: dict[str, str] | None = None) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return api.post("/api/v1/pages", data=data, headers=AUTH if headers is None else headers)


def no_numbers(body: Any, roster: dict[str, Member]) -> None:
    text = json.dumps(body)
    assert not re.search(r"\+\d{6,}", text), text
    for number in [CALLBACK, *(m.phone for m in roster.values())]:
        for shape in (number, number[2:], f"{number[5:8]}-{number[8:]}"):
            assert shape not in text, (shape, text)


def said(response: Any) -> str:
    return str(response.get_data(as_text=True))


def requests_in(rt: Any) -> list[Request]:
    with rt.sessions() as session:
        return list(session.scalars(select(Request)).all())


# --- the token ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
)
@pytest.mark.parametrize(
    "method, path", [("post", "/api/v1/pages"), ("get", "/api/v1/pages/K7QD"), ("get", "/api/v1/oncall")]
)
def test_it_refuses_a_request_without_a_valid_token(
    api: Any,
    roster: dict[str, Member],
    transport: RecordingTransport,
    headers: dict[str, str],
    method: str,
    path: str,
) -> None:
    response = getattr(api, method)(path, json={"kind": "page", "note": NOTE}, headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {"error": "a valid dispatch token is required"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert requests_in(api.application.extensions["callout"]) == []


def test_a_team_with_no_token_configured_has_no_api(api: Any) -> None:
    for headers in ({"Authorization": "Bearer "}, {"Authorization": "Bearer x"}, {}):
        assert api.get("/api/v1/oncall", headers=headers).status_code == 401


def test_it_compares_tokens_in_constant_time(monkeypatch: pytest.MonkeyPatch, config: Config) -> None:
    compared: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(dispatch.hmac, "compare_digest", spy)
    found = dispatch.team_for_token(config, "mid-secret")
    assert found is not None and found.slug == "midland"
    assert len(compared) == 2  # both teams with a token, even after a match; never the empty one
    assert dispatch.team_for_token(config, "") is None


def test_the_token_says_which_team(api: Any, rt: Any, roster: dict[str, Member]) -> None:
    created = post(api, {"kind": "page", "note": NOTE}, {"Authorization": "Bearer mid-secret"})
    assert created.status_code == 201
    with rt.sessions() as session:
        request = session.scalar(select(Request))
        assert request is not None and request.team.slug == "midland" and request.pages == []
    code = created.get_json()["code"]
    assert api.get(f"/api/v1/pages/{code}", headers=AUTH).status_code == 404  # not odessa's
    assert api.get(f"/api/v1/pages/{code}", headers={"Authorization": "Bearer mid-secret"}).status_code == 200


# --- bad requests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, message",
    [
        ("{", "the body is not valid JSON"),
        (b"\xff\xfe{", "the body is not valid JSON"),
        ("", "the body must be a JSON object"),
        ("[1, 2]", "the body must be a JSON object"),
        ({"note": NOTE}, 'kind must be "page" or "debrief"'),
        ({"kind": "support", "note": NOTE}, 'kind must be "page" or "debrief"'),
        ({"kind": ["page"], "note": NOTE}, 'kind must be "page" or "debrief"'),
        ({"kind": "page"}, "note is required"),
        ({"kind": "page", "note": "   "}, "note is required"),
        ({"kind": "page", "note": 12}, "note must be a string"),
        ({"kind": "page", "note": "x" * 501}, "note is too long"),
        ({"kind": "page", "note": "\x1f" + "x" * 500}, "note is too long"),  # as sent, not once stripped
        ({"kind": "page", "note": NOTE, "callback": "555"}, "callback: '555' is not a valid phone number"),
        ({"kind": "page", "note": NOTE, "callback": "call me"}, "callback: 'call me' is not a phone number"),
        ({"kind": "page", "note": NOTE, "callback": 4325550123}, "callback must be a string"),
        ({"kind": "page", "note": NOTE, "skill": "post-shooting"}, "skill is for a debrief only"),
        ({"kind": "debrief", "note": NOTE, "skill": "hostage"}, "unknown skill 'hostage'"),
        ({"kind": "page", "note": NOTE, "priority": "high"}, "unknown field 'priority'"),
        # JSON's \ud800 makes a string that is not text (a lone surrogate): nothing can store or send it
        ({"kind": "page", "note": "\ud800"}, "note is not text: it holds a lone surrogate"),
        ({"kind": "page", "note": "help \udfff now"}, "note is not text"),
        (b'{"kind": "page", "note": "raw \xed\xa0\x80 bytes"}', "note is not text"),
        ({"kind": "page", "note": NOTE, "callback": "+1432555\ud83d"}, "callback is not text"),
        ({"kind": "debrief", "note": NOTE, "skill": "\ud83dpost"}, "skill is not text"),
        ({"kind": "page\ud800", "note": NOTE}, 'kind must be "page" or "debrief"'),
        ({"kind": "page", "note": NOTE, "\ud800": 1}, "unknown field '\\ud800'"),
    ],
)
def test_it_answers_400_with_a_message_for_a_bad_order(
    api: Any, rt: Any, roster: dict[str, Member], transport: RecordingTransport, body: Any, message: str
) -> None:
    response = post(api, body)
    assert response.status_code == 400
    assert response.is_json and message in response.get_json()["error"]
    send(rt)
    assert requests_in(rt) == [] and transport.sms == []


def test_it_answers_404_for_an_unknown_code(api: Any, roster: dict[str, Member]) -> None:
    for code in ("K7QD", "nope", "0000", "K7QD1"):
        response = api.get(f"/api/v1/pages/{code}", headers=AUTH)
        assert response.status_code == 404 and response.get_json() == {
            "error": "no page or debrief has this code"
        }


def test_it_never_shows_a_support_request(
    api: Any, twilio: TwilioClient, rt: Any, roster: dict[str, Member]
) -> None:
    twilio.sms("+14325559876", "I need to talk")
    code = requests_in(rt)[0].code
    assert api.get(f"/api/v1/pages/{code}", headers=AUTH).status_code == 404


# --- pages --------------------------------------------------------------------------------------


def test_it_opens_a_page_and_pages_the_on_call_peer_at_once(
    api: Any, rt: Any, roster: dict[str, Member], transport: RecordingTransport, clock: Clock
) -> None:
    response = post(api, {"kind": "page", "note": NOTE, "callback": "(432) 555-0123"})
    assert response.status_code == 201
    body = response.get_json()
    code = body["code"]
    assert body == {"code": code, "kind": "page", "status": "open", "paged": 1}
    assert response.headers["Location"].endswith(f"/api/v1/pages/{code}")
    send(rt)
    assert transport.to(roster["rivera"].phone) == [ODESSA + messages.page(code, "dispatch", "5 min")]
    request = requests_in(rt)[0]
    assert (request.kind, request.channel, request.initiator_id) == ("dispatch", "api", None)
    assert request.contact_enc is not None and CALLBACK not in request.contact_enc


def test_it_reads_the_json_whatever_the_content_type_says(api: Any, roster: dict[str, Member]) -> None:
    body = json.dumps({"kind": "page", "note": NOTE})
    for content_type in ("application/x-www-form-urlencoded", "text/plain", None):
        response = api.post("/api/v1/pages", data=body, headers=AUTH, content_type=content_type)
        assert response.status_code == 201, content_type  # curl -d sends a form content type


def test_the_accepting_peer_gets_the_note_and_the_callback_and_the_api_shows_who(
    api: Any,
    twilio: TwilioClient,
    rt: Any,
    roster: dict[str, Member],
    transport: RecordingTransport,
    clock: Clock,
) -> None:
    code = post(api, {"kind": "page", "note": NOTE, "callback": CALLBACK}).get_json()["code"]
    send(rt)
    assert "passed" in said(twilio.sms(roster["rivera"].phone, "2"))
    clock.advance(seconds=30)
    send(rt)
    twilio.sms(roster["chen"].phone, "1")
    accepted = last_to(rt, transport, roster["chen"].phone)  # by the outbox, as a requester's number goes
    assert NOTE in accepted and CALLBACK in accepted
    assert transport.to(CALLBACK) == []  # the callback is for the peer to call; Callout never texts it
    shown = api.get(f"/api/v1/pages/{code.lower()}", headers=AUTH)
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    body = shown.get_json()
    assert body == {
        "code": code,
        "kind": "page",
        "status": "accepted",
        "paged": 2,
        "channel": "api",
        "skill": None,
        "opened_at": "2026-03-10T15:00:00Z",
        "accepted_at": "2026-03-10T15:00:30Z",
        "accepted_by": "Chen",
        "exhausted_at": None,
        "closes_at": None,
        "closed_at": None,
        "responders": {"yes": ["Chen"], "no": ["Rivera"]},
    }
    no_numbers(body, roster)
    assert NOTE not in json.dumps(body)


def test_an_api_page_nobody_accepts_alerts_the_director(
    api: Any, rt: Any, roster: dict[str, Member], transport: RecordingTransport, clock: Clock
) -> None:
    code = post(api, {"kind": "page", "note": NOTE, "callback": CALLBACK}).get_json()["code"]
    send(rt)
    for minutes in (5, 5, 5, 10, 10):
        clock.advance(minutes=minutes, seconds=1)
        tick(rt)
    alert = ODESSA + messages.exhausted_alert(code, "dispatch", 5)
    assert alert in transport.to(roster["nguyen"].phone)
    assert transport.to(CALLBACK) == [] and transport.to(roster["diaz"].phone) == []
    body = api.get(f"/api/v1/pages/{code}", headers=AUTH).get_json()
    assert body["status"] == "exhausted" and body["exhausted_at"] is not None


# --- debriefs -----------------------------------------------------------------------------------


def test_it_calls_out_a_debrief_and_shows_who_responds(
    api: Any,
    twilio: TwilioClient,
    rt: Any,
    roster: dict[str, Member],
    transport: RecordingTransport,
    clock: Clock,
) -> None:
    response = post(api, {"kind": "debrief", "note": NOTE, "skill": "#Post-Shooting", "callback": CALLBACK})
    assert response.status_code == 201
    code = response.get_json()["code"]
    assert response.get_json() == {"code": code, "kind": "debrief", "status": "open", "paged": 2}
    send(rt)
    assert transport.to(roster["nguyen"].phone) == [
        f"DEBRIEF {code} called by dispatch (API) (#post-shooting peers, 2 paged): {NOTE}"
    ]
    yes = said(twilio.sms(roster["chen"].phone, "1"))
    assert NOTE in yes and CALLBACK in yes
    twilio.sms(roster["rivera"].phone, "2")
    tick(rt)  # an API debrief has no member to text the tally to: the API shows it
    body = api.get(f"/api/v1/pages/{code}", headers=AUTH).get_json()
    assert body["status"] == "open" and body["skill"] == "post-shooting"
    assert body["responders"] == {"yes": ["Chen"], "no": ["Rivera"]}
    assert body["accepted_by"] is None and body["closes_at"] == "2026-03-10T17:00:00Z"
    no_numbers(body, roster)
    # With no initiator to end it, the director may.
    assert "Ended." in said(twilio.sms(roster["nguyen"].phone, f"DONE {code}"))
    body = api.get(f"/api/v1/pages/{code}", headers=AUTH).get_json()
    assert body["status"] == "closed" and body["closes_at"] is None and body["closed_at"] is not None


def test_the_api_shows_a_debrief_called_by_sms(
    api: Any, twilio: TwilioClient, rt: Any, roster: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(roster["diaz"].phone, "DEBRIEF all hands at station 2")
    code = requests_in(rt)[0].code
    twilio.sms(roster["ortiz"].phone, "1")
    body = api.get(f"/api/v1/pages/{code}", headers=AUTH).get_json()
    assert (body["kind"], body["channel"], body["paged"]) == ("debrief", "sms", 3)
    assert body["responders"] == {"yes": ["Ortiz"], "no": []}
    no_numbers(body, roster)


# --- the on-call list ---------------------------------------------------------------------------


def test_it_shows_who_is_on_call_in_paging_order_without_numbers(
    api: Any, rt: Any, roster: dict[str, Member], clock: Clock
) -> None:
    response = api.get("/api/v1/oncall", headers=AUTH)
    assert response.status_code == 200
    body = response.get_json()
    assert body == {
        "team": "odessa",
        "at": "2026-03-10T15:00:00Z",
        "shift": {"start": "2026-03-10T12:00:00Z", "end": "2026-03-11T12:00:00Z"},
        "peers_paged": 3,
        "oncall": [
            {"name": "Rivera", "role": "peer"},
            {"name": "Chen", "role": "peer"},
            {"name": "Ortiz", "role": "peer"},
        ],
        "fallback": [
            {"name": "Dr. Patel", "role": "psychologist"},
            {"name": "Lt. Nguyen", "role": "director"},
        ],
    }
    no_numbers(body, roster)


def test_the_on_call_list_follows_the_rotation(
    api: Any, rt: Any, roster: dict[str, Member], clock: Clock
) -> None:
    def names() -> list[str]:
        return [p["name"] for p in api.get("/api/v1/oncall", headers=AUTH).get_json()["oncall"]]

    assert names() == ["Rivera", "Chen", "Ortiz"]
    clock.advance(days=1)
    assert names() == ["Chen", "Ortiz", "Kim", "Rivera"]  # Kim is back; Chen is primary today


# --- PAGE by SMS --------------------------------------------------------------------------------


def test_a_page_by_sms_gives_the_note_and_dispatchers_number_and_tells_dispatch_who(
    twilio: TwilioClient, rt: Any, roster: dict[str, Member], transport: RecordingTransport, clock: Clock
) -> None:
    reply = said(twilio.sms(roster["diaz"].phone, f"PAGE {NOTE}"))
    code = requests_in(rt)[0].code
    assert f"Paging the on-call peer for {code}" in reply
    send(rt)
    assert transport.to(roster["rivera"].phone) == [ODESSA + messages.page(code, "dispatch", "5 min")]
    clock.advance(minutes=5, seconds=1)
    tick(rt)
    twilio.sms(roster["chen"].phone, "1")
    accepted = last_to(rt, transport, roster["chen"].phone)
    assert NOTE in accepted and roster["diaz"].phone in accepted
    assert transport.to(roster["diaz"].phone) == [f"{code}: Chen accepted."]
    assert messages.stand_down(code, "Chen") in transport.to(roster["rivera"].phone)
    assert "Chen" in said(twilio.sms(roster["rivera"].phone, f"1 {code}"))
    assert "Closed" in said(twilio.sms(roster["chen"].phone, f"DONE {code}"))


def test_a_page_by_sms_nobody_accepts_alerts_the_dispatcher_and_the_director(
    twilio: TwilioClient, rt: Any, roster: dict[str, Member], transport: RecordingTransport, clock: Clock
) -> None:
    twilio.sms(roster["diaz"].phone, f"PAGE {NOTE}")
    code = requests_in(rt)[0].code
    send(rt)
    for minutes in (5, 5, 5, 10, 10):
        clock.advance(minutes=minutes, seconds=1)
        tick(rt)
    alert = ODESSA + messages.exhausted_alert(code, "dispatch", 5)
    assert transport.to(roster["diaz"].phone) == [messages.exhausted_dispatch(code, 5)]
    assert "Reply 1" not in transport.to(roster["diaz"].phone)[0]  # dispatch may not take a page itself
    assert alert in transport.to(roster["nguyen"].phone)
    assert transport.to(roster["kim"].phone) == []


@pytest.mark.parametrize("who", ["rivera", "patel"])
@pytest.mark.parametrize("text", [f"PAGE {NOTE}", f"DEBRIEF {NOTE}"])
def test_only_dispatch_and_the_director_may_page(
    twilio: TwilioClient,
    rt: Any,
    roster: dict[str, Member],
    transport: RecordingTransport,
    who: str,
    text: str,
) -> None:
    reply = said(twilio.sms(roster[who].phone, text))
    assert "Only dispatch and the director can PAGE or DEBRIEF" in reply
    send(rt)
    assert requests_in(rt) == [] and transport.sms == []


def test_a_page_needs_a_note(twilio: TwilioClient, rt: Any, roster: dict[str, Member]) -> None:
    assert "Add a note" in said(twilio.sms(roster["diaz"].phone, "PAGE"))
    assert requests_in(rt) == []


def test_a_strangers_page_text_is_a_support_request(
    twilio: TwilioClient, rt: Any, roster: dict[str, Member]
) -> None:
    assert "988" in said(twilio.sms("+14325559876", f"PAGE {NOTE}"))
    assert [r.kind for r in requests_in(rt)] == ["support"]


def test_a_peer_cannot_see_another_requests_details(
    twilio: TwilioClient, rt: Any, roster: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(roster["diaz"].phone, f"PAGE {NOTE}")
    code = requests_in(rt)[0].code
    for who in ("ortiz", "patel"):  # never paged for it
        for text in (f"1 {code}", f"2 {code}", f"DONE {code}", f"RELEASE {code}"):
            reply = said(twilio.sms(roster[who].phone, text))
            assert NOTE not in reply and roster["diaz"].phone not in reply, text
    assert requests_in(rt)[0].status == "open"
