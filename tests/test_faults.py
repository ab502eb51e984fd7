"""Faults and hostile input at the webhook: bad bodies, floods, a database that is briefly gone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from callout import notices
from callout.config import Config
from callout.db import make_engine, make_sessionmaker
from callout.housekeeping import handoff_notices
from callout.models import Member, Outbox, Request
from callout.ratelimit import RateLimiter
from tests.conftest import RecordingTransport, TwilioClient, add_roster, make_config, team_table

REQUESTER = "+14325559876"


@pytest.fixture
def members(rt: Any) -> dict[str, Member]:
    return add_roster(
        rt,
        rivera=("Rivera", "peer"),
        nguyen=("Lt. Nguyen", "director"),
    )


def count(rt: Any, model: Any) -> int:
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_an_oversized_body_gets_413_and_changes_nothing(rt: Any, twilio: TwilioClient) -> None:
    response = twilio.sms(REQUESTER, "x" * 70_000)
    assert response.status_code == 413
    assert count(rt, Request) == 0


@pytest.mark.parametrize("missing", ["From", "To"])
def test_a_webhook_missing_a_field_gets_400(rt: Any, twilio: TwilioClient, missing: str) -> None:
    params = {"From": REQUESTER, "To": "+14325550100", "Body": "hi", "MessageSid": "SM" + "1" * 32}
    del params[missing]
    response = twilio.post("/twilio/sms", params)
    assert response.status_code == 400 and "Traceback" not in response.get_data(as_text=True)
    assert count(rt, Request) == 0


def test_an_unknown_support_number_gets_404(rt: Any, twilio: TwilioClient) -> None:
    assert twilio.sms(REQUESTER, "hi", to="+14325550199").status_code == 404
    assert count(rt, Request) == 0


def test_a_replayed_signature_with_changed_parameters_gets_403(rt: Any, twilio: TwilioClient) -> None:
    from tests.conftest import sign

    params = {"From": REQUESTER, "To": "+14325550100", "Body": "hi", "MessageSid": "SM" + "2" * 32}
    signature = sign("https://peer.example.org/twilio/sms", params)
    changed = {**params, "Body": "something else"}
    response = twilio.client.post("/twilio/sms", data=changed, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    elsewhere = twilio.client.post("/twilio/status", data=params, headers={"X-Twilio-Signature": signature})
    assert elsewhere.status_code == 403
    assert count(rt, Request) == 0


def test_a_member_command_from_an_unknown_number_opens_a_request_and_commands_nothing(
    rt: Any, twilio: TwilioClient, members: dict[str, Member]
) -> None:
    body = twilio.sms(REQUESTER, "DEBRIEF #post-shooting all hands").get_data(as_text=True)
    assert "988" in body
    with rt.sessions() as session:
        [request] = session.scalars(select(Request)).all()
        assert request.kind == "support"


def test_non_utf8_and_emoji_texts_are_handled(
    rt: Any, twilio: TwilioClient, members: dict[str, Member]
) -> None:
    from urllib.parse import urlencode

    from tests.conftest import sign

    params = {"From": REQUESTER, "To": "+14325550100", "MessageSid": "SM" + "3" * 32}
    raw = urlencode(params) + "&Body=%FF%FE%00bad%C3"  # not UTF-8: werkzeug keeps the escapes
    seen = {**params, "Body": "%FF%FE\x00bad%C3"}  # how werkzeug hands undecodable bytes over
    response = twilio.client.post(
        "/twilio/sms",
        data=raw,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": sign("https://peer.example.org/twilio/sms", seen)},
    )
    assert response.status_code == 200 and "988" in response.get_data(as_text=True)
    response = twilio.sms(REQUESTER, "😢😢😢 \x00 " * 20)
    assert response.status_code == 200
    response = twilio.sms(members["rivera"].phone, "🙂" * 200)
    assert response.status_code == 200 and "Commands" in response.get_data(as_text=True)


def test_one_number_flooding_is_ignored_past_its_limit(
    rt: Any, twilio: TwilioClient, members: dict[str, Member]
) -> None:
    rt.per_number = RateLimiter(5, timedelta(minutes=10))
    client = twilio
    replies = [client.sms(REQUESTER, f"msg {i}").get_data(as_text=True) for i in range(8)]
    assert sum("<Message>" in r for r in replies) == 5
    assert count(rt, Request) == 1


def test_a_team_flooded_by_many_numbers_pages_no_more_than_its_limit(
    rt: Any, twilio: TwilioClient, members: dict[str, Member]
) -> None:
    rt.per_team = RateLimiter(3, timedelta(minutes=10))
    client = twilio
    replies = [client.sms(f"+1432555{7000 + i:04d}", "help").get_data(as_text=True) for i in range(6)]
    assert count(rt, Request) == 3
    assert sum("very busy" in r for r in replies) == 3 and all("988" in r for r in replies)
    assert "Commands" in client.sms(members["rivera"].phone, "?").get_data(
        as_text=True
    )  # members still served


def test_the_database_briefly_gone_answers_503_then_recovers(rt: Any, twilio: TwilioClient) -> None:
    good = rt.sessions
    dead = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", pool_pre_ping=False)
    rt.sessions = make_sessionmaker(dead)
    try:
        response = twilio.sms(REQUESTER, "hello")
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert twilio.client.get("/healthz").status_code == 503
    finally:
        rt.sessions = good
        dead.dispose()
    assert twilio.sms(REQUESTER, "hello").status_code == 200
    assert count(rt, Request) == 1


def test_a_handoff_notice_goes_out_once_however_many_processes_tick(
    sessions: sessionmaker[Session], config: Config, rt: Any, members: dict[str, Member]
) -> None:
    now = datetime(2026, 3, 10, 12, 5, tzinfo=UTC)  # 07:05 in Odessa (CDT), just after the 07:00 handoff
    for _ in range(3):  # the handoff text is off with heads-ups on; the late heads-up goes in its place
        rt.run(lambda s, e, n: handoff_notices(s, e, now))
        rt.run(lambda s, e, n: notices.shift_notices(s, e, now))
    with rt.sessions() as session:
        queued = session.scalars(select(Outbox).where(Outbox.purpose == "notice")).all()
    assert len(queued) == 1


def test_a_second_config_team_is_isolated(database_url: str, transport: RecordingTransport) -> None:
    import service
    from webhooks import create_app

    config = make_config(
        database_url, team_table(), team_table(slug="midland", name="Midland", support_number="+14325550200")
    )
    app = create_app(service.build(config, transport=transport))
    try:
        client = TwilioClient(app.test_client())
        assert client.sms(REQUESTER, "hi", to="+14325550200").status_code == 200
        with app.extensions["callout"].sessions() as session:
            [request] = session.scalars(select(Request)).all()
            assert request.team.slug == "midland"
    finally:
        app.extensions["callout"].close()


def test_a_reply_to_another_number_of_the_sender_pool_reaches_the_team(
    database_url: str, transport: RecordingTransport
) -> None:
    import service
    from webhooks import create_app

    messaging_service = "MG" + "3" * 32
    config = make_config(database_url, team_table(), twilio={"messaging_service_sid": messaging_service})
    app = create_app(service.build(config, transport=transport))
    try:
        client = TwilioClient(app.test_client())
        pooled = client.sms(REQUESTER, "hi", to="+14325550177", MessagingServiceSid=messaging_service)
        assert pooled.status_code == 200 and "988" in pooled.get_data(as_text=True)
        assert client.sms(REQUESTER, "hi", to="+14325550178").status_code == 404
    finally:
        app.extensions["callout"].close()


def test_a_lone_surrogate_sent_to_a_webhook_is_read_as_the_bytes_that_carried_it(
    rt: Any, twilio: TwilioClient, members: dict[str, Member]
) -> None:
    # Over HTTP a surrogate can only come as the UTF-8 bytes no codec accepts (%ED%A0%80); werkzeug keeps
    # them as the escapes, so nothing that is not text reaches the engine (the dispatch API's JSON can carry
    # one: see test_dispatch_api).
    from urllib.parse import urlencode

    from tests.conftest import sign

    for path, fields in [
        ("/twilio/sms", {"Body": "help %ED%A0%80 me", "MessageSid": "SM" + "4" * 32}),
        ("/twilio/voice", {"CallSid": "CA%ED%A0%80", "CallStatus": "ringing"}),
        ("/twilio/status", {"MessageSid": "SM%ED%A0%80", "MessageStatus": "failed%ED%B0%80"}),
    ]:
        raw = (
            urlencode({"From": REQUESTER, "To": "+14325550100"})
            + "&"
            + "&".join(f"{k}={v}" for k, v in fields.items())
        )
        seen = {"From": REQUESTER, "To": "+14325550100", **fields}  # the escapes, as werkzeug hands them over
        response = twilio.client.post(
            path,
            data=raw,
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": sign("https://peer.example.org" + path, seen)},
        )
        assert response.status_code in (200, 204), (path, response.get_data(as_text=True))
    assert count(rt, Request) == 1
