"""End to end: the configured limits in the first reply, and one reminder a day across two processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from callout import messages
from tests.e2e import Stack

pytestmark = pytest.mark.e2e

RIVERA, CHEN, NGUYEN = (f"+1432555{n:04d}" for n in (1101, 1102, 1105))
LIMITS = "Peer support here is confidential except for a threat of harm to anyone, or a crime."


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    stack = Stack(tmp_path, database_url, {"ack_timeout": "30s", "peers": 2, "call_after": "0"})
    text = stack.config.read_text()
    stack.config.write_text(
        text.replace('slug = "odessa"', f'slug = "odessa"\nconfidentiality_limits = "{LIMITS}"')
    )
    stack.roster([("Rivera", RIVERA, "peer"), ("Chen", CHEN, "peer"), ("Lt. Nguyen", NGUYEN, "director")])
    yield stack
    stack.close()


def test_the_limits_reach_the_requester_and_the_peer_is_reminded_once_a_day(stack: Stack) -> None:
    first, second = stack.serve(2)
    reminder = messages.limits_reminder(LIMITS)

    status, ack = stack.sms("+14325559801", "rough night", server=first)
    assert status == 200 and LIMITS in ack and "Text PRIVACY for details." in ack
    stack.wait(lambda: len([b for b in stack.bodies_to(RIVERA) if "Reply 1" in b]) == 1)
    stack.sms(RIVERA, "1", server=first)  # the number (and the reminder) come by a text of their own
    stack.wait(lambda: any("+14325559801" in b for b in stack.bodies_to(RIVERA)))
    [accepted] = [b for b in stack.bodies_to(RIVERA) if "+14325559801" in b]
    assert reminder in accepted
    stack.sms(RIVERA, "DONE work", server=first)

    stack.sms("+14325559802", "can we talk", server=second)
    stack.wait(lambda: len([b for b in stack.bodies_to(RIVERA) if "Reply 1" in b]) == 2)
    stack.sms(RIVERA, "1", server=second)  # another process: the day is in the database
    stack.wait(lambda: any("+14325559802" in b for b in stack.bodies_to(RIVERA)))
    [accepted] = [b for b in stack.bodies_to(RIVERA) if "+14325559802" in b]
    assert LIMITS not in accepted
    assert "+14325559801" not in stack.logs() and "rough night" not in stack.logs()
