"""The SMS line through the real webhook and engine, with a recording transport and a hand-driven clock."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from callout.models import Member, Request, Team
from tests.conftest import Clock, RecordingTransport, TwilioClient, add_roster, last_to, send, tick

REQUESTER = "+14325559876"


@pytest.fixture
def roster(rt: Any) -> dict[str, Member]:
    return add_roster(
        rt,
        rivera=("Rivera", "peer"),
        chen=("Chen", "peer"),
        ortiz=("Ortiz", "peer"),
        patel=("Dr. Patel", "psychologist"),
        nguyen=("Lt. Nguyen", "director"),
    )


def test_it_acknowledges_and_pages_the_primary_at_once(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    response = twilio.sms(REQUESTER, "I need to talk to someone")
    assert response.status_code == 200
    assert "988" in response.get_data(as_text=True) and "911" in response.get_data(as_text=True)
    send(rt)
    pages = transport.to(roster["rivera"].phone)
    assert len(pages) == 1 and "Reply 1 to accept, 2 to pass" in pages[0]
    assert "I need to talk" not in pages[0] and REQUESTER not in pages[0]


def test_it_walks_the_whole_escalation_to_acceptance(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(REQUESTER, "help")
    send(rt)
    clock.advance(minutes=5, seconds=1)
    tick(rt)
    assert len(transport.to(roster["chen"].phone)) == 1
    reply = twilio.sms(roster["chen"].phone, "2")
    assert "passed" in reply.get_data(as_text=True)
    send(rt)
    assert len(transport.to(roster["ortiz"].phone)) == 1
    clock.advance(minutes=5, seconds=1)
    tick(rt)
    assert len(transport.to(roster["patel"].phone)) == 1
    reply = twilio.sms(roster["patel"].phone, "YES")
    assert REQUESTER not in reply.get_data(as_text=True)  # the number comes by the outbox (issue 10: 10)
    assert REQUESTER in last_to(rt, transport, roster["patel"].phone)
    assert any("has your request" in b for b in transport.to(REQUESTER))
    assert any("Stand down" in b for b in transport.to(roster["rivera"].phone))
    late = twilio.sms(roster["ortiz"].phone, "1")
    assert "Dr. Patel" in late.get_data(as_text=True)
    done = twilio.sms(roster["patel"].phone, "DONE work OT")
    assert "Closed" in done.get_data(as_text=True)
    with rt.sessions() as session:
        request = session.scalar(select(Request))
        assert request.status == "closed" and request.content_area == "work" and request.overtime
        assert request.accepted_by.name == "Dr. Patel"


def test_it_exhausts_with_crisis_lines_and_alerts_the_director(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(REQUESTER, "help")
    send(rt)
    for _ in range(3):
        clock.advance(minutes=5, seconds=1)
        tick(rt)
    for _ in range(2):
        clock.advance(minutes=10, seconds=1)
        tick(rt)
    assert any("988" in b for b in transport.to(REQUESTER))
    assert any("ALERT" in b for b in transport.to(roster["nguyen"].phone))
    with rt.sessions() as session:
        assert session.scalar(select(Request)).status == "exhausted"
    twilio.sms(roster["rivera"].phone, "1")
    assert REQUESTER in last_to(rt, transport, roster["rivera"].phone)


def test_a_failed_status_that_races_the_sender_still_pages_the_next_peer(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from callout import escalation, outbox
    from callout.models import Outbox

    twilio.sms(REQUESTER, "help")
    with rt.sessions() as session, session.begin():
        [page_row] = [o for o in session.scalars(select(Outbox)) if o.purpose == "page"]
        outbox.claim(session, clock(), rt.sender.stuck)  # handed over: Twilio has the sid, we not yet
    sid = "SM" + "f" * 32
    original = escalation.record_status
    calls = []

    def sender_commits_right_after_the_lookup(*args: Any) -> bool:
        found = original(*args)
        if not calls:  # the sender's commit lands just after this lookup missed the sid
            session = args[0]
            outbox.mark_sent(session, page_row.id, clock(), sid)
        calls.append(found)
        return found

    monkeypatch.setattr(escalation, "record_status", sender_commits_right_after_the_lookup)
    response = twilio.post("/twilio/status", {"MessageSid": sid, "MessageStatus": "undelivered"})
    assert response.status_code == 204
    assert calls == [False, True]
    send(rt)
    assert len(transport.to(roster["chen"].phone)) == 1


def test_a_page_whose_sender_died_mid_send_goes_out_once_the_claim_is_stale(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    from callout import outbox

    twilio.sms(REQUESTER, "help")
    with rt.sessions() as session, session.begin():
        assert len(outbox.claim(session, clock(), rt.sender.stuck)) == 1  # the process dies holding it
    clock.advance(seconds=rt.sender.stuck.total_seconds() - 1)
    send(rt)
    assert transport.to(roster["rivera"].phone) == []  # it may still be a slow live send
    clock.advance(seconds=2)
    send(rt)
    assert len(transport.to(roster["rivera"].phone)) == 1


def test_a_page_carries_its_steps_timeout_as_its_validity(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(REQUESTER, "help")
    send(rt)
    [page] = [sms for sms in transport.sms if sms.to == roster["rivera"].phone]
    assert page.validity == 5 * 60  # ack_timeout: a page stuck at the carrier never arrives after its step
    clock.advance(minutes=5, seconds=1)
    tick(rt)
    clock.advance(minutes=5, seconds=1)
    tick(rt)
    clock.advance(minutes=5, seconds=1)
    tick(rt)
    fallback = [sms for sms in transport.sms if sms.to == roster["patel"].phone]
    assert [sms.validity for sms in fallback] == [10 * 60]  # fallback_timeout


def test_a_page_still_queued_when_its_step_is_over_is_dropped_not_sent(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(REQUESTER, "help")  # Rivera's page waits in the outbox (the sender is not run)...
    twilio.sms(roster["rivera"].phone, "2")  # ...and Rivera passes anyway (say, seeing the request elsewhere)
    send(rt)
    assert transport.to(roster["rivera"].phone) == []  # a page for a step that is over would only confuse
    assert len(transport.to(roster["chen"].phone)) == 1
    with rt.sessions() as session:
        from callout.models import Outbox

        statuses = {o.status for o in session.scalars(select(Outbox).where(Outbox.purpose == "page"))}
    assert "expired" in statuses


def test_an_unexpected_send_error_is_logged_without_the_number_it_quotes(
    rt: Any,
    twilio: TwilioClient,
    transport: RecordingTransport,
    roster: dict[str, Member],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    twilio.sms(REQUESTER, "help")
    send(rt)
    transport.fail[REQUESTER] = ValueError(f"cannot text {REQUESTER}")  # a bug, not a TransportError
    twilio.sms(roster["rivera"].phone, "1")  # the requester is told: that send fails unexpectedly
    send(rt)
    assert "failed unexpectedly: ValueError" in caplog.text and REQUESTER not in caplog.text


class TestAPsychologistSharedByTwoTeams:
    """Two teams on one Callout, and one psychologist on both rosters (issue 10: 17)."""

    MIDLAND = "+14325550200"
    SHARED = "+14325550999"

    @pytest.fixture
    def config(self, database_url: str) -> Any:
        from tests.conftest import make_config, team_table

        midland = team_table(slug="midland", name="Midland PD Peer Support", support_number=self.MIDLAND)
        return make_config(database_url, team_table(), midland)

    @pytest.fixture
    def crews(self, rt: Any) -> dict[str, Member]:
        from tests.conftest import make_member

        crews = {}
        with rt.sessions() as session, session.begin():
            for slug, peer in (("odessa", "Rivera"), ("midland", "Moss")):
                team = session.scalar(select(Team).where(Team.slug == slug))
                crews[slug] = make_member(session, team, peer)
                make_member(session, team, "Dr. Patel", role="psychologist", phone=self.SHARED)
            crews["director"] = make_member(session, team, "Lt. Nguyen", role="director")  # Midland's
        return crews

    def test_each_teams_pages_and_alert_name_the_team(
        self,
        rt: Any,
        twilio: TwilioClient,
        transport: RecordingTransport,
        crews: dict[str, Member],
        clock: Clock,
    ) -> None:
        twilio.sms(REQUESTER, "help")  # to Odessa's number
        twilio.sms("+14325559877", "help", to=self.MIDLAND)
        send(rt)
        twilio.sms(crews["odessa"].phone, "2")
        twilio.sms(crews["midland"].phone, "2", to=self.MIDLAND)
        send(rt)
        pages = sorted(body for body in transport.to(self.SHARED) if "Reply 1 to accept" in body)
        assert [page.split(": Peer support request ")[0] for page in pages] == [
            "Midland PD Peer Support",
            "Odessa PD Peer Support",
        ]
        assert [s.from_ for s in transport.sms if s.to == crews["midland"].phone] == [self.MIDLAND]
        assert transport.to(crews["odessa"].phone)[0].startswith(
            "Odessa PD Peer Support: Peer support request"
        )
        twilio.sms(self.SHARED, "2", to=self.MIDLAND)  # Dr. Patel passes on Midland's, then its director
        send(rt)
        director = crews["director"].phone
        assert transport.to(director)[0].startswith("Midland PD Peer Support: Peer support request")
        twilio.sms(director, "2", to=self.MIDLAND)
        send(rt)
        assert any(body.startswith("Midland PD Peer Support: ALERT ") for body in transport.to(director))
