"""Informed consent: where confidentiality ends is said at the outset, within each text's SMS budget."""

from __future__ import annotations

import tomllib
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from callout import consent, durations, messages
from callout.config import ConfigError, TeamConfig
from callout.env import Env
from callout.models import Member, Request
from callout.segments import Encoding, count
from cli import cli
from tests.conftest import (
    Clock,
    RecordingTransport,
    TwilioClient,
    add_roster,
    last_to,
    make_config,
    send,
    team_table,
    tick,
)
from tests.e2e import ROOT as ROOT_DIR

REQUESTER = "+14325559876"
CUSTOM = "Peer support here is confidential except for a threat of harm to anyone, or a crime."
# The wording of Mesquite's General Order (II.G), nearly whole: too long for any SMS budget.
LONG = (
    "Contacts will remain confidential to the extent allowed by law, except when the peer needs to refer you"
    " to or consult about you with another member of the team or a professional, when you are or appear to"
    " be an imminent threat to yourself or anyone else, or when you tell of a past, present or future crime."
)


def texas_example() -> str:
    """Return the Texas example that config.example.toml documents (a commented line)."""
    text = (ROOT_DIR / "config.example.toml").read_text()
    line = next(row for row in text.splitlines() if row.startswith("# confidentiality_limits = "))
    return str(tomllib.loads(line.removeprefix("# "))["confidentiality_limits"])


def team_config(database_url: str, **overrides: Any) -> TeamConfig:
    return make_config(database_url, team_table(**overrides)).teams[0]


# --- the texts and their budgets -------------------------------------------------------------------


@pytest.mark.parametrize("limits", [messages.DEFAULT_LIMITS, texas_example()], ids=["default", "texas"])
def test_the_first_reply_says_the_limits_and_fits_two_gsm7_segments(limits: str) -> None:
    ack = messages.requester_ack("Odessa PD Peer Support", limits)
    counted = count(ack)
    assert counted.encoding is Encoding.GSM and counted.count <= messages.ACK_SEGMENTS, counted
    assert limits in ack and "911" in ack and "988" in ack
    assert ack.endswith("Text PRIVACY for details.")


@pytest.mark.parametrize(
    ("team", "limits", "room"),
    [
        ("PSS", messages.DEFAULT_LIMITS, True),
        ("Odessa PD Peer Support", messages.DEFAULT_LIMITS, True),
        ("Odessa PD Peer Support", texas_example(), False),
        ("Mesquite PD Peer Support Team", messages.DEFAULT_LIMITS, False),
    ],
)
def test_the_first_reply_to_someone_trying_the_line_stays_in_two_segments(
    team: str, limits: str, room: bool
) -> None:
    plain = messages.requester_ack(team, limits)
    assert count(plain).count <= messages.ACK_SEGMENTS  # a team start-up accepts
    ack = messages.requester_ack(team, limits, testing=True)
    assert count(ack).count <= messages.ACK_SEGMENTS
    if room:
        assert ack == plain.replace(": a peer will contact", ": it works. A peer will contact")
    else:  # no room to say it works: the plain first reply, which always fits
        assert ack == plain


@pytest.mark.parametrize("limits", [messages.DEFAULT_LIMITS, texas_example()], ids=["default", "texas"])
def test_the_privacy_answer_says_the_limits_and_what_is_kept_in_two_segments(limits: str) -> None:
    answer = messages.privacy_statement(durations.short(timedelta(hours=24)), limits)
    counted = count(answer)
    assert counted.encoding is Encoding.GSM and counted.count <= messages.PRIVACY_SEGMENTS, counted
    assert answer.startswith(limits) and "erased 24 h after your request ends" in answer


def test_the_default_applies_when_the_key_is_left_out(database_url: str) -> None:
    assert team_config(database_url).confidentiality_limits == messages.DEFAULT_LIMITS


def test_the_texas_example_of_config_example_toml_is_accepted(database_url: str) -> None:
    assert team_config(
        database_url, confidentiality_limits=texas_example()
    ).confidentiality_limits.startswith("Texas law")


def test_a_sentence_too_long_for_the_first_reply_is_refused_naming_the_key(database_url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        team_config(database_url, confidentiality_limits=LONG)
    message = str(refused.value)
    assert message.startswith(
        "teams[0].confidentiality_limits: the first reply to someone who texts the line"
    )
    assert (
        "would take 4 segments (GSM-7, 467 characters), more than 2" in message
        and "shorten this sentence" in message
    )


def test_a_sentence_that_fits_the_first_reply_but_not_the_privacy_answer_is_refused(
    database_url: str,
) -> None:
    limits = "Confidential, except " + "a threat, " * 13 + "or a crime."  # 161 characters
    assert count(messages.requester_ack("PSS", limits)).count == 2
    with pytest.raises(ConfigError, match=r"^teams\[0\]\.confidentiality_limits: the answer to PRIVACY"):
        team_config(database_url, name="PSS", confidentiality_limits=limits)


def test_a_long_team_name_is_named_as_the_other_thing_to_shorten(database_url: str) -> None:
    name = "Mesquite Police Department Peer Support Team"
    with pytest.raises(
        ConfigError, match=r"shorten this sentence \(or teams\[0\]\.name\) by at least 6 characters"
    ):
        team_config(database_url, name=name)


def test_a_curly_apostrophe_is_refused_with_the_plain_one_to_type(database_url: str) -> None:
    with pytest.raises(ConfigError, match=r"confidentiality_limits: \u2019 \(use \"'\"\) is not a plain SMS"):
        team_config(database_url, confidentiality_limits=messages.DEFAULT_LIMITS.replace("'", "\u2019"))


def test_a_team_name_outside_gsm7_is_refused_naming_the_name(database_url: str) -> None:
    with pytest.raises(ConfigError, match=r"^teams\[0\]\.name: ë is not a plain SMS character"):
        team_config(database_url, name="Zoë County Peer Support")


@pytest.mark.parametrize("blank", ["", "   \n "])
def test_an_empty_sentence_is_refused(database_url: str, blank: str) -> None:
    with pytest.raises(ConfigError, match=r"confidentiality_limits: must say where confidentiality ends"):
        team_config(database_url, confidentiality_limits=blank)


def test_a_sentence_over_several_lines_is_one_line_ending_with_a_stop(database_url: str) -> None:
    limits = team_config(
        database_url, confidentiality_limits="Confidential,\n   except a crime"
    ).confidentiality_limits
    assert limits == "Confidential, except a crime."


def test_start_up_refuses_a_sentence_that_does_not_fit_with_one_line(tmp_path: Any) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\ndatabase_url = "sqlite:///{tmp_path / "c.db"}"\n[[teams]]\nslug = "odessa"\n'
        f'support_number = "+14325550100"\nconfidentiality_limits = "{LONG}"\n'
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "db", "upgrade"], env={"CALLOUT_CONFIG": None})
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.startswith(
        "callout: configuration error: teams[0].confidentiality_limits: the first"
    )
    assert not (tmp_path / "c.db").exists()


# --- through the webhooks ----------------------------------------------------------------------------


@pytest.fixture
def config(database_url: str) -> Any:
    """The test team, with limits of its own."""
    return make_config(database_url, team_table(confidentiality_limits=CUSTOM))


@pytest.fixture
def roster(rt: Any) -> dict[str, Member]:
    return add_roster(rt, rivera=("Rivera", "peer"), chen=("Chen", "peer"), nguyen=("Lt. Nguyen", "director"))


def reply_of(response: Any) -> str:
    """Return the text of the <Message> a webhook answered with."""
    message = ET.fromstring(response.get_data(as_text=True)).find("Message")
    assert message is not None and message.text
    return message.text


def test_the_first_reply_to_a_text_carries_the_configured_limits(
    twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    ack = reply_of(twilio.sms(REQUESTER, "rough night"))
    assert ack == messages.requester_ack("Odessa PD Peer Support", CUSTOM)
    assert CUSTOM in ack and ack.endswith("Text PRIVACY for details.")
    assert "Peer support here is confidential" not in reply_of(twilio.sms(REQUESTER, "still there?"))


def test_the_privacy_answer_carries_the_configured_limits_and_opens_nothing(
    rt: Any, twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    answer = reply_of(twilio.sms(REQUESTER, "PRIVACY"))
    assert answer.startswith(CUSTOM) and "We keep only the time, outcome and topic." in answer
    with rt.sessions() as session:
        assert session.scalar(select(Request)) is None


def test_the_voice_greeting_says_the_limits_before_the_first_phone_rings(
    twilio: TwilioClient, roster: dict[str, Member], clock: Clock
) -> None:
    params = {"CallSid": "CA" + "1" * 32, "From": REQUESTER, "To": "+14325550100"}
    root = ET.fromstring(twilio.post("/twilio/voice", params).get_data(as_text=True))
    children = [child.tag for child in root]
    first_say = root.find("Say")
    assert first_say is not None and first_say.text == messages.voice_greeting(
        "Odessa PD Peer Support", CUSTOM
    )
    assert children.index("Say") < children.index("Dial")


def test_a_peer_is_reminded_of_the_limits_the_first_time_they_accept_each_local_day(
    rt: Any, twilio: TwilioClient, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    rivera = roster["rivera"].phone
    reminder = messages.limits_reminder(CUSTOM)

    def accept_one(requester: str) -> str:
        twilio.sms(requester, "can someone talk")
        send(rt)
        twilio.sms(rivera, "1")
        text = last_to(rt, transport, rivera)  # it holds the number: it comes by the outbox
        assert requester in text
        twilio.sms(rivera, "DONE work")
        return text

    clock.now = clock.now.replace(hour=4, minute=50)  # 23:50 in Odessa (CDT, UTC-5), Monday
    first = accept_one("+14325559801")
    assert first.endswith("\n" + reminder) and first.count(CUSTOM) == 1
    clock.advance(minutes=5)
    assert reminder not in accept_one("+14325559802")  # the same local day: trained, not nagged
    clock.advance(minutes=15)  # 00:10 Tuesday in Odessa, the same day in UTC
    assert accept_one("+14325559803").endswith(reminder)


def test_a_debrief_yes_is_no_acceptance_to_remind(
    twilio: TwilioClient, rt: Any, roster: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(roster["nguyen"].phone, "DEBRIEF OIS debrief 19:00 at Station 2")
    send(rt)
    answer = reply_of(twilio.sms(roster["rivera"].phone, "1"))
    assert "responding to DEBRIEF" in answer and CUSTOM not in answer


def test_an_acceptance_someone_else_won_is_no_reminder(
    twilio: TwilioClient, rt: Any, transport: RecordingTransport, roster: dict[str, Member], clock: Clock
) -> None:
    twilio.sms(REQUESTER, "hello")
    send(rt)
    clock.advance(minutes=5, seconds=1)
    tick(rt)  # Chen is paged too
    twilio.sms(roster["chen"].phone, "1")
    assert CUSTOM in last_to(rt, transport, roster["chen"].phone)
    late = reply_of(twilio.sms(roster["rivera"].phone, "1"))
    assert "already with Chen" in late and CUSTOM not in late
    with rt.sessions() as session:
        assert session.get(Member, roster["rivera"].id).limits_reminded_on is None


def test_the_day_is_kept_in_the_database_so_another_process_does_not_remind_again(
    rt: Any, roster: dict[str, Member], clock: Clock
) -> None:
    def remind(session: Any, env: Env, now: Any) -> str:
        member = session.get(Member, roster["rivera"].id)
        request = Request(code="K7QD", kind="support", accepted_by_id=member.id)  # never added: read only
        return consent.with_reminder(session, env, now, member, request, "You have K7QD.")

    assert rt.run(remind).endswith(messages.limits_reminder(CUSTOM))  # one transaction, committed
    assert rt.run(remind) == "You have K7QD."  # a fresh session, as another process would have
