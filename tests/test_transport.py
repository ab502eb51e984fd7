"""The transports: Twilio (mocked at HTTP with responses, and against the fake server) and the console."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from twilio.request_validator import RequestValidator

from callout.config import TwilioConfig
from callout.transport import Call, Sms, Transport, TransportError
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from transport.console import ConsoleTransport, mask
from transport.twilio import TwilioTransport

API = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}"
MESSAGES = f"{API}/Messages.json"
CALLS = f"{API}/Calls.json"
SERVICE = "MG" + "2" * 32
PEER = "+14325550101"
REQUESTER = "+14325550177"
SUPPORT = "+14325550100"
STATUS_URL = "https://peer.example.org/twilio/status"
MESSAGE_SID = "SM" + "a" * 32
CALL_SID = "CA" + "b" * 32


def make_twilio_config(**overrides: object) -> TwilioConfig:
    """Return a TwilioConfig for tests, with overrides."""
    values: dict[str, object] = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}
    values.update(overrides)
    return TwilioConfig(**values)  # type: ignore[arg-type]


def make_sms(**overrides: object) -> Sms:
    """Return a page to a peer, with overrides."""
    values: dict[str, object] = {"to": PEER, "from_": SUPPORT, "body": "Request K7QD waiting. Reply 1 or 2."}
    values.update(overrides)
    return Sms(**values)  # type: ignore[arg-type]


def make_call(**overrides: object) -> Call:
    """Return a call to a peer, with overrides."""
    values: dict[str, object] = {
        "to": PEER,
        "from_": SUPPORT,
        "url": "https://peer.example.org/twilio/voice/page",
    }
    values.update(overrides)
    return Call(**values)  # type: ignore[arg-type]


def twilio_error(status: int, code: int, message: str = "Twilio says no") -> dict[str, object]:
    """Return an error body shaped like Twilio's."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def posted(mock: responses.RequestsMock, index: int = 0) -> dict[str, list[str]]:
    """Return the form fields of the index-th request the mock saw."""
    body = mock.calls[index].request.body
    assert isinstance(body, str)
    return parse_qs(body)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    """Mock Twilio at HTTP; answer message and call creation with 201."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(MESSAGES, json={"sid": MESSAGE_SID, "status": "queued"}, status=201)
        mock.post(CALLS, json={"sid": CALL_SID, "status": "queued"}, status=201)
        yield mock


@pytest.fixture
def twilio() -> TwilioTransport:
    """Return a TwilioTransport on the real API address."""
    transport: Transport = TwilioTransport(make_twilio_config())  # mypy checks it meets the protocol
    assert isinstance(transport, TwilioTransport)
    return transport


# -- TwilioTransport, mocked at HTTP --------------------------------------------------------------


def test_the_sdk_does_not_log_every_request(
    mocked: responses.RequestsMock, twilio: TwilioTransport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    twilio.send_sms(make_sms())
    assert [r for r in caplog.records if r.name == "twilio.http_client"] == []


def test_it_posts_to_from_body_and_status_callback(
    mocked: responses.RequestsMock, twilio: TwilioTransport
) -> None:
    sid = twilio.send_sms(make_sms(status_callback=STATUS_URL))

    assert sid == MESSAGE_SID
    assert posted(mocked) == {
        "To": [PEER],
        "From": [SUPPORT],
        "Body": ["Request K7QD waiting. Reply 1 or 2."],
        "StatusCallback": [STATUS_URL],
    }
    assert mocked.calls[0].request.headers["Authorization"].startswith("Basic ")


def test_it_sends_through_the_messaging_service_instead_of_from(mocked: responses.RequestsMock) -> None:
    TwilioTransport(make_twilio_config(messaging_service_sid=SERVICE)).send_sms(make_sms())

    fields = posted(mocked)
    assert fields["MessagingServiceSid"] == [SERVICE]
    assert "From" not in fields


def test_it_texts_a_requester_from_the_support_number_never_through_the_service_pool(
    mocked: responses.RequestsMock,
) -> None:
    # Sticky Sender would map the requester's number to a pool number, kept for up to a year.
    TwilioTransport(make_twilio_config(messaging_service_sid=SERVICE)).send_sms(
        make_sms(to=REQUESTER, requester=True)
    )

    fields = posted(mocked)
    assert fields["From"] == [SUPPORT] and "MessagingServiceSid" not in fields
    assert fields["ContentRetention"] == ["discard"] and fields["AddressRetention"] == ["obfuscate"]


@pytest.mark.parametrize(("validity", "sent"), [(600, "600"), (0, "1"), (100_000, "36000")])
def test_it_keeps_the_validity_period_within_twilios_range(
    mocked: responses.RequestsMock, twilio: TwilioTransport, validity: int, sent: str
) -> None:
    twilio.send_sms(make_sms(validity=validity))

    assert posted(mocked)["ValidityPeriod"] == [sent]


def test_it_asks_twilio_to_keep_neither_a_requesters_text_nor_number(
    mocked: responses.RequestsMock, twilio: TwilioTransport
) -> None:
    twilio.send_sms(make_sms(to=REQUESTER, requester=True))

    fields = posted(mocked)
    assert fields["ContentRetention"] == ["discard"]
    assert fields["AddressRetention"] == ["obfuscate"]


def test_it_keeps_the_default_retention_for_members(
    mocked: responses.RequestsMock, twilio: TwilioTransport
) -> None:
    twilio.send_sms(make_sms())

    assert "ContentRetention" not in posted(mocked)
    assert "AddressRetention" not in posted(mocked)
    assert "ValidityPeriod" not in posted(mocked)


def test_it_places_a_call_with_status_callback_timeout_and_machine_detection(
    mocked: responses.RequestsMock, twilio: TwilioTransport
) -> None:
    sid = twilio.place_call(make_call(status_callback=STATUS_URL, timeout=25))

    assert sid == CALL_SID
    assert posted(mocked) == {
        "To": [PEER],
        "From": [SUPPORT],
        "Url": ["https://peer.example.org/twilio/voice/page"],
        "StatusCallback": [STATUS_URL],
        "StatusCallbackEvent": ["completed"],
        "Timeout": ["25"],
        "MachineDetection": ["Enable"],
    }


def test_it_leaves_machine_detection_off_when_not_asked(
    mocked: responses.RequestsMock, twilio: TwilioTransport
) -> None:
    twilio.place_call(make_call(machine_detection=False))

    assert "MachineDetection" not in posted(mocked)
    assert "StatusCallback" not in posted(mocked)


def test_it_uses_the_configured_timeout(mocked: responses.RequestsMock) -> None:
    TwilioTransport(make_twilio_config(timeout=timedelta(seconds=3))).send_sms(make_sms())

    request = mocked.calls[0].request
    assert getattr(request, "req_kwargs", {}).get("timeout") == 3.0


def test_it_sends_every_request_to_the_api_base_url() -> None:
    base = "https://twilio.example.net/api"
    twilio = TwilioTransport(make_twilio_config(api_base_url=base))
    prefix = f"{base}/2010-04-01/Accounts/{ACCOUNT_SID}"
    with responses.RequestsMock() as mock:
        mock.post(f"{prefix}/Messages.json", json={"sid": MESSAGE_SID}, status=201)
        mock.post(f"{prefix}/Calls.json", json={"sid": CALL_SID}, status=201)
        mock.delete(f"{prefix}/Messages/{MESSAGE_SID}.json", status=204)
        mock.delete(f"{prefix}/Calls/{CALL_SID}.json", status=204)

        assert twilio.send_sms(make_sms()) == MESSAGE_SID
        assert twilio.place_call(make_call()) == CALL_SID
        assert twilio.delete_records([MESSAGE_SID, CALL_SID]) == []


@pytest.mark.parametrize("code", [21211, 21214, 21217, 21408, 21612, 21614])
def test_it_marks_unreachable_numbers_permanent(
    mocked: responses.RequestsMock, twilio: TwilioTransport, code: int
) -> None:
    mocked.replace(responses.POST, MESSAGES, json=twilio_error(400, code), status=400)

    with pytest.raises(TransportError) as caught:
        twilio.send_sms(make_sms())

    assert (caught.value.permanent, caught.value.code, caught.value.opted_out) == (True, code, False)


def test_it_marks_a_recipient_who_replied_stop_as_opted_out(
    mocked: responses.RequestsMock, twilio: TwilioTransport
) -> None:
    mocked.replace(responses.POST, MESSAGES, json=twilio_error(400, 21610), status=400)

    with pytest.raises(TransportError) as caught:
        twilio.send_sms(make_sms())

    assert (caught.value.permanent, caught.value.code, caught.value.opted_out) == (True, 21610, True)


@pytest.mark.parametrize(("status", "code"), [(500, 20500), (503, 20503), (429, 20429), (400, 21611)])
def test_it_marks_server_errors_and_throttling_as_worth_retrying(
    mocked: responses.RequestsMock, twilio: TwilioTransport, status: int, code: int
) -> None:
    mocked.replace(responses.POST, CALLS, json=twilio_error(status, code), status=status)

    with pytest.raises(TransportError) as caught:
        twilio.place_call(make_call())

    assert not caught.value.permanent
    assert caught.value.code == code


@pytest.mark.parametrize(("status", "code"), [(401, 20003), (400, 21606), (400, 21212), (404, 20404)])
def test_it_counts_a_client_error_that_refuses_every_number_as_the_providers_failure(
    mocked: responses.RequestsMock, twilio: TwilioTransport, status: int, code: int
) -> None:
    # A bad token, a From number or Messaging Service the account cannot use: no member's number is at fault.
    mocked.replace(responses.POST, MESSAGES, json=twilio_error(status, code), status=status)

    with pytest.raises(TransportError) as caught:
        twilio.send_sms(make_sms())

    assert (caught.value.permanent, caught.value.code) == (False, code)


def test_it_passes_on_the_retry_after_of_a_429(
    mocked: responses.RequestsMock, twilio: TwilioTransport
) -> None:
    mocked.replace(
        responses.POST, MESSAGES, json=twilio_error(429, 20429), status=429, headers={"Retry-After": "7"}
    )

    with pytest.raises(TransportError) as caught:
        twilio.send_sms(make_sms())

    assert (caught.value.permanent, caught.value.retry_after) == (False, 7.0)


def test_it_reads_a_retry_after_given_as_a_date() -> None:
    from datetime import UTC, datetime

    from transport.twilio import parse_retry_after

    now = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    assert parse_retry_after("Tue, 10 Mar 2026 15:00:30 GMT", now) == 30.0
    assert parse_retry_after("Tue, 10 Mar 2026 14:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None


def test_it_keeps_no_retry_after_from_an_answer_that_was_not_a_429(
    mocked: responses.RequestsMock, twilio: TwilioTransport
) -> None:
    mocked.replace(
        responses.POST, MESSAGES, json=twilio_error(503, 20503), status=503, headers={"Retry-After": "60"}
    )

    with pytest.raises(TransportError) as caught:
        twilio.send_sms(make_sms())

    assert (caught.value.permanent, caught.value.retry_after) == (False, None)


@pytest.mark.parametrize("failure", [requests.ConnectionError("refused"), requests.ReadTimeout("slow")])
def test_it_marks_network_failures_as_worth_retrying(
    mocked: responses.RequestsMock, twilio: TwilioTransport, failure: Exception
) -> None:
    mocked.replace(responses.POST, MESSAGES, body=failure)

    with pytest.raises(TransportError) as caught:
        twilio.send_sms(make_sms())

    assert not caught.value.permanent
    assert caught.value.code is None


def test_it_never_logs_or_repeats_a_requesters_number_or_words(
    mocked: responses.RequestsMock, twilio: TwilioTransport, caplog: pytest.LogCaptureFixture
) -> None:
    words = "I need to talk to someone"
    message = f"The 'To' number {REQUESTER} is not a valid phone number."
    mocked.replace(responses.POST, MESSAGES, json=twilio_error(400, 21211, message), status=400)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(TransportError) as caught:
        twilio.send_sms(make_sms(to=REQUESTER, body=words, requester=True))

    assert "21211" in caplog.text
    for secret in (REQUESTER, REQUESTER[2:], words):
        assert secret not in caplog.text
        assert secret not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_it_deletes_messages_and_calls_and_counts_a_missing_one_as_deleted(twilio: TwilioTransport) -> None:
    gone = "MM" + "c" * 32
    stuck = "SM" + "d" * 32
    with responses.RequestsMock() as mock:
        mock.delete(f"{API}/Messages/{MESSAGE_SID}.json", status=204)
        mock.delete(f"{API}/Calls/{CALL_SID}.json", status=204)
        mock.delete(f"{API}/Messages/{gone}.json", json=twilio_error(404, 20404), status=404)
        mock.delete(f"{API}/Messages/{stuck}.json", json=twilio_error(409, 20009), status=409)

        failed = twilio.delete_records([MESSAGE_SID, CALL_SID, gone, stuck, "XX123"])

    assert failed == [stuck, "XX123"]


def test_it_reports_a_delete_that_cannot_reach_twilio_as_failed(twilio: TwilioTransport) -> None:
    with responses.RequestsMock() as mock:
        mock.delete(f"{API}/Calls/{CALL_SID}.json", body=requests.ConnectionError("refused"))

        assert twilio.delete_records([CALL_SID]) == [CALL_SID]


# -- TwilioTransport against the fake Twilio server -----------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    """Serve a fake Twilio for the test."""
    with FakeTwilio() as server:
        yield server


def transport_for(fake: FakeTwilio, **overrides: object) -> TwilioTransport:
    """Return a TwilioTransport pointed at the fake."""
    return TwilioTransport(make_twilio_config(api_base_url=fake.base_url, **overrides))


def test_it_sends_through_the_fake_twilio_which_records_it(fake: FakeTwilio) -> None:
    twilio = transport_for(fake)

    sid = twilio.send_sms(make_sms(status_callback=STATUS_URL, validity=300))
    call_sid = twilio.place_call(make_call())

    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)
    [message] = fake.messages_to(PEER)
    assert message["sid"] == sid
    assert (message["From"], message["Body"], message["ValidityPeriod"]) == (SUPPORT, make_sms().body, "300")
    assert [c["sid"] for c in fake.calls] == [call_sid]
    assert fake.calls[0]["MachineDetection"] == "Enable"


def test_it_deletes_records_on_the_fake_and_counts_a_repeat_as_deleted(fake: FakeTwilio) -> None:
    twilio = transport_for(fake)
    sid = twilio.send_sms(make_sms())

    assert twilio.delete_records([sid]) == []
    assert twilio.delete_records([sid]) == []
    assert fake.deleted == [sid]


def test_it_recovers_after_the_failures_the_fake_injects(fake: FakeTwilio) -> None:
    twilio = transport_for(fake)
    fake.fail_next(1, status=503)

    with pytest.raises(TransportError) as caught:
        twilio.send_sms(make_sms())
    assert not caught.value.permanent
    assert fake.messages == []

    twilio.send_sms(make_sms())
    assert len(fake.messages) == 1


def test_it_gets_a_permanent_error_for_a_number_the_fake_refuses(fake: FakeTwilio) -> None:
    fake.fail_number(PEER)

    with pytest.raises(TransportError) as caught:
        transport_for(fake).send_sms(make_sms())

    assert (caught.value.permanent, caught.value.code) == (True, 21211)


def test_it_gives_up_on_a_hanging_request_after_the_timeout(fake: FakeTwilio) -> None:
    fake.hang_next(1, 1.0)

    with pytest.raises(TransportError) as caught:
        transport_for(fake, timeout=timedelta(seconds=0.2)).send_sms(make_sms())

    assert not caught.value.permanent


def test_it_is_refused_by_the_fake_with_the_wrong_token(fake: FakeTwilio) -> None:
    with pytest.raises(TransportError) as caught:
        transport_for(fake, auth_token="wrong").send_sms(make_sms())

    # A wrong token refuses every number alike: the account's failure, not the recipient's.
    assert (caught.value.permanent, caught.value.code) == (False, 20003)


def test_it_signs_status_callbacks_as_twilio_does(fake: FakeTwilio) -> None:
    sid = transport_for(fake).send_sms(make_sms())
    app_url, public_url = "http://127.0.0.1:5999", "https://peer.example.org"
    with responses.RequestsMock() as mock:
        mock.post(f"{app_url}/twilio/status", body="<Response/>")

        status, text = fake.send_status(app_url, public_url, AUTH_TOKEN, sid, "delivered")

        request = mock.calls[0].request
    assert (status, text) == (200, "<Response/>")
    assert isinstance(request.body, str)
    params = {key: values[0] for key, values in parse_qs(request.body).items()}
    assert params["MessageStatus"] == "delivered"
    assert params["To"] == PEER
    signature = request.headers["X-Twilio-Signature"]
    assert RequestValidator(AUTH_TOKEN).validate(f"{public_url}/twilio/status", params, signature)


# -- ConsoleTransport -----------------------------------------------------------------------------


def test_it_prints_each_sms_and_call_as_one_line() -> None:
    lines: list[str] = []
    console = ConsoleTransport(write=lines.append)

    sms_sid = console.send_sms(make_sms(body="Request K7QD waiting.\nReply 1 or 2."))
    call_sid = console.place_call(make_call())

    assert (sms_sid, call_sid) == ("SMconsole000001", "CAconsole000002")
    assert len(lines) == 2
    assert mask(PEER) in lines[0] and "Request K7QD waiting. ↵ Reply 1 or 2." in lines[0]
    assert "\n" not in lines[0]
    assert mask(PEER) in lines[1] and "/twilio/voice/page" in lines[1]


def test_the_console_prints_no_phone_number_and_no_requesters_words() -> None:
    lines: list[str] = []
    console = ConsoleTransport(write=lines.append)

    console.send_sms(make_sms(to=PEER, body=f"K7QD: I'm at {REQUESTER}, please call", requester=True))
    console.send_sms(make_sms(to=PEER, body=f"You took call K7QD. Their number is {REQUESTER}."))

    printed = "\n".join(lines)
    assert REQUESTER not in printed and PEER not in printed and "please call" not in printed
    assert "confidential message" in lines[0] and "Their number is +1432•••••77" in lines[1]


def test_the_demo_console_shows_the_made_up_requesters_words() -> None:
    lines: list[str] = []
    ConsoleTransport(write=lines.append, reveal_words=True).send_sms(
        make_sms(body="K7QD: I'm in the lot", requester=True)
    )
    assert "I'm in the lot" in lines[0]


def test_it_masks_a_requesters_number_on_the_console() -> None:
    lines: list[str] = []

    ConsoleTransport(write=lines.append).send_sms(make_sms(to=REQUESTER, requester=True))

    assert REQUESTER not in lines[0]
    assert REQUESTER[2:] not in lines[0]
    assert "+1432•••••77" in lines[0]


def test_it_masks_short_numbers_too() -> None:
    assert mask("+14325550177") == "+1432•••••77"
    assert mask("12345") == "•••45"
    assert mask("1") == "•"


def test_it_gives_every_console_message_its_own_id_across_threads() -> None:
    console = ConsoleTransport(write=lambda line: None)
    sids: list[str] = []

    def send() -> None:
        for _ in range(50):
            sids.append(console.send_sms(make_sms()))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(sids)) == 400


def test_it_keeps_nothing_on_the_console_to_delete() -> None:
    console: Transport = ConsoleTransport(write=lambda line: None)

    assert console.delete_records(["SMconsole000001"]) == []


def test_it_resends_without_retention_controls_when_the_account_has_no_message_redaction() -> None:
    with responses.RequestsMock() as mock:
        mock.post(MESSAGES, json=twilio_error(400, 30029, "Invalid ContentRetention"), status=400)
        mock.post(MESSAGES, json={"sid": MESSAGE_SID, "status": "queued"}, status=201)
        sid = TwilioTransport(make_twilio_config()).send_sms(make_sms(to=REQUESTER, requester=True))
        assert sid == MESSAGE_SID
        assert posted(mock, 0)["ContentRetention"] == ["discard"]
        assert "ContentRetention" not in posted(mock, 1) and "AddressRetention" not in posted(mock, 1)
        assert posted(mock, 1)["To"] == [REQUESTER]


def test_as_many_threads_as_it_was_sized_for_keep_their_connections(
    fake: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    fake.latency = 0.2  # every thread's request is in flight at once
    twilio = TwilioTransport(make_twilio_config(api_base_url=fake.base_url), connections=40)
    senders = [threading.Thread(target=twilio.send_sms, args=(make_sms(),)) for _ in range(40)]
    with caplog.at_level(logging.WARNING, logger="urllib3"):
        for _ in range(2):  # the second round reuses the first round's connections
            for thread in senders:
                thread.start()
            for thread in senders:
                thread.join()
            senders = [threading.Thread(target=twilio.send_sms, args=(make_sms(),)) for _ in range(40)]
    assert len(fake.messages_to(PEER)) == 80
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]


def test_the_service_sizes_twilios_connections_for_its_senders() -> None:
    from callout.config import parse_config
    from callout.crypto import new_key
    from transport import OTHER_CALLERS, make_transport

    config = parse_config(
        {
            "server": {"public_url": "https://peer.example.org", "senders": 64},
            "twilio": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
            "privacy": {"data_key": new_key()},
            "teams": [],
        },
        env={},
    )
    twilio = make_transport(config)
    assert isinstance(twilio, TwilioTransport)
    assert twilio.connections == 64 + OTHER_CALLERS
