"""End to end: the real app (sender and scheduler threads) paging through the fake Twilio, 1-second steps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from callout.models import Member, Team
from tests.conftest import TwilioClient, make_config, make_member, team_table
from tests.fake_twilio import FakeTwilio

pytestmark = pytest.mark.e2e

SUPPORT = "+14325550100"
PUBLIC = "https://peer.example.org"
CALLBACK = "+14325550123"
PAGE = "Reply 1 to accept, 2 to pass"
DEBRIEF_PAGE = "Reply 1 = I'll be there, 2 = I can't"
AUTH = {"Authorization": "Bearer dispatch-secret"}
NOTE = "OIS debrief 19:00 at Station 2"
ESCALATION = {
    "ack_timeout": "1s",
    "peers": 2,
    "call_after": "0",
    "fallback": ["psychologist", "director"],
    "fallback_timeout": "1s",
}


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def start(database_url: str, fake: FakeTwilio) -> Iterator[Callable[..., Any]]:
    """Start the real app with these [teams.debrief] settings, against the fake Twilio."""
    import service

    started: list[Any] = []

    def run(**debrief: str | int) -> Any:
        settings = {
            "window": "1h",
            "min_responders": 2,
            "widen_after": "1s",
            "tally_every": "0.5s",
            **debrief,
        }
        config = make_config(
            database_url,
            team_table(escalation=ESCALATION, debrief=settings),
            twilio={"api_base_url": fake.base_url, "timeout": "2s"},
            server={"tick": "0.2s"},
        )
        app = service.wsgi_app(config)
        started.append(app)
        return app

    yield run
    for app in started:
        app.extensions["callout"].close()


def add_roster(app: Any, peers: int = 0) -> dict[str, Member]:
    with app.extensions["callout"].sessions() as session, session.begin():
        team = session.scalar(select(Team).where(Team.slug == "odessa"))
        members = {
            "rivera": make_member(session, team, "Rivera", skills=["post-shooting"]),
            "chen": make_member(session, team, "Chen", skills=["post-shooting"]),
            "ortiz": make_member(session, team, "Ortiz"),
            "park": make_member(session, team, "Park"),
            "patel": make_member(session, team, "Dr. Patel", role="psychologist"),
            "nguyen": make_member(session, team, "Lt. Nguyen", role="director"),
            "diaz": make_member(session, team, "Diaz", role="dispatch"),
        }
        for n in range(peers):
            members[f"peer{n}"] = make_member(session, team, f"Peer {n}")
        return members


def bodies(fake: FakeTwilio, member: Member | str) -> list[str]:
    number = member if isinstance(member, str) else member.phone
    return [str(m.get("Body", "")) for m in fake.messages_to(number)]


def paged(fake: FakeTwilio, member: Member) -> bool:
    return any(PAGE in b or DEBRIEF_PAGE in b for b in bodies(fake, member))


def wait(fake: FakeTwilio, predicate: Callable[[], object], timeout: float = 10.0) -> None:
    assert fake.wait_for(predicate, timeout), "timed out"


def said(response: Any) -> str:
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def test_an_api_page_reaches_the_on_call_peer_and_the_api_shows_who_accepted(
    start: Callable[..., Any], fake: FakeTwilio
) -> None:
    app = start()
    roster = add_roster(app)
    api, twilio = app.test_client(), TwilioClient(app.test_client())
    created = api.post(
        "/api/v1/pages", json={"kind": "page", "note": NOTE, "callback": CALLBACK}, headers=AUTH
    )
    assert created.status_code == 201
    code = created.get_json()["code"]
    wait(fake, lambda: paged(fake, roster["rivera"]))
    [page] = fake.messages_to(roster["rivera"].phone)
    assert page["From"] == SUPPORT and page["StatusCallback"] == f"{PUBLIC}/twilio/status"
    assert code in page["Body"] and NOTE not in page["Body"] and CALLBACK not in page["Body"]
    wait(fake, lambda: paged(fake, roster["chen"]))  # Rivera's 1 s ran out
    assert NOTE not in said(twilio.sms(roster["chen"].phone, "1"))  # by a text of its own, not the reply
    wait(fake, lambda: any(NOTE in b and CALLBACK in b for b in bodies(fake, roster["chen"])))
    wait(fake, lambda: any("Stand down" in b for b in bodies(fake, roster["rivera"])))
    body = api.get(f"/api/v1/pages/{code}", headers=AUTH).get_json()
    assert body["status"] == "accepted" and body["accepted_by"] == "Chen"
    assert CALLBACK not in str(body) and bodies(fake, CALLBACK) == []


def test_an_sms_page_nobody_accepts_alerts_the_dispatcher(
    start: Callable[..., Any], fake: FakeTwilio
) -> None:
    app = start()
    roster = add_roster(app)
    twilio = TwilioClient(app.test_client())
    assert "Paging the on-call peer" in said(twilio.sms(roster["diaz"].phone, "PAGE officer needs a peer"))
    wait(fake, lambda: any("ALERT" in b for b in bodies(fake, roster["diaz"])), timeout=15)
    wait(fake, lambda: any("ALERT" in b for b in bodies(fake, roster["nguyen"])))
    assert all(paged(fake, roster[name]) for name in ("rivera", "chen", "patel"))
    assert not paged(fake, roster["diaz"])


def test_a_debrief_pages_everyone_widens_tallies_and_ends_on_done(
    start: Callable[..., Any], fake: FakeTwilio
) -> None:
    app = start()
    roster = add_roster(app)
    api, twilio = app.test_client(), TwilioClient(app.test_client())
    reply = said(twilio.sms(roster["diaz"].phone, f"DEBRIEF #post-shooting {NOTE}"))
    assert "paging 2 members now" in reply
    wait(fake, lambda: paged(fake, roster["rivera"]) and paged(fake, roster["chen"]))
    wait(fake, lambda: any("called by Diaz" in b for b in bodies(fake, roster["nguyen"])))
    assert NOTE in said(twilio.sms(roster["rivera"].phone, "1"))
    wait(fake, lambda: any("1 responding: Rivera" in b for b in bodies(fake, roster["diaz"])))
    # Chen stays silent: after widen_after (1 s) every peer is paged, and the initiator and director told.
    wait(fake, lambda: paged(fake, roster["ortiz"]) and paged(fake, roster["park"]))
    for who in ("diaz", "nguyen"):
        wait(fake, lambda who=who: any("now also paging all peers" in b for b in bodies(fake, roster[who])))
    twilio.sms(roster["ortiz"].phone, "1")
    twilio.sms(roster["park"].phone, "2")
    wait(
        fake, lambda: any("2 responding: Rivera, Ortiz; 1 unable" in b for b in bodies(fake, roster["diaz"]))
    )
    code = reply.split("DEBRIEF ")[1][:4]
    done = said(twilio.sms(roster["diaz"].phone, f"DONE {code}"))
    assert "Ended. DEBRIEF" in done and "2 responding: Rivera, Ortiz" in done
    body = api.get(f"/api/v1/pages/{code}", headers=AUTH).get_json()
    assert body["status"] == "closed" and body["responders"] == {"yes": ["Rivera", "Ortiz"], "no": ["Park"]}
    assert not paged(fake, roster["patel"])  # two said yes: no need for the fallback


def test_a_debrief_pages_a_large_team_at_once(start: Callable[..., Any], fake: FakeTwilio) -> None:
    app = start()
    roster = add_roster(app, peers=40)
    twilio = TwilioClient(app.test_client())
    peers = [m for m in roster.values() if m.role == "peer"]
    assert "paging 44 members" in said(twilio.sms(roster["diaz"].phone, f"DEBRIEF {NOTE}"))
    wait(fake, lambda: all(paged(fake, peer) for peer in peers))
    assert all(len(bodies(fake, peer)) == 1 for peer in peers)


def test_an_api_debrief_ends_after_its_window(start: Callable[..., Any], fake: FakeTwilio) -> None:
    app = start(window="3s")
    roster = add_roster(app)
    api, twilio = app.test_client(), TwilioClient(app.test_client())
    created = api.post("/api/v1/pages", json={"kind": "debrief", "note": NOTE}, headers=AUTH)
    code = created.get_json()["code"]
    wait(fake, lambda: paged(fake, roster["ortiz"]))
    twilio.sms(roster["rivera"].phone, "1")
    twilio.sms(roster["chen"].phone, "1")
    wait(fake, lambda: any(b.startswith("Ended.") for b in bodies(fake, roster["nguyen"])))
    body = api.get(f"/api/v1/pages/{code}", headers=AUTH).get_json()
    assert body["status"] == "closed" and body["responders"]["yes"] == ["Rivera", "Chen"]
    assert f"DEBRIEF {code} is over" in said(twilio.sms(roster["ortiz"].phone, f"1 {code}"))
