"""`callout demo`: the whole scenario plays through and tells the story it promises."""

from __future__ import annotations

from cli.demo import run_demo


def test_the_demo_plays_request_timeout_pass_fallback_acceptance_relay_close_and_a_debrief() -> None:
    lines: list[str] = []
    run_demo(speed=0.5, echo=lines.append)
    story = "\n".join(lines)
    order = [
        "Officer texts the support line",
        "→ Rivera: Peer support request",
        "→ Chen: Peer support request",
        "reply to Chen: Thanks, passed",
        "→ Ortiz: Peer support request",
        "→ Dr. Patel: Peer support request",
        "reply to Dr. Patel: You have",
        "Officer (requester, number masked): A peer support member has your request",
        ": Thank you. I'm in the lot",  # the officer's follow-up, relayed to the peer
        "Closed",
        "DEBRIEF",
        "2 responding",
        "Off-duty (OT) first contacts",
    ]
    positions = [story.find(marker) for marker in order]
    assert -1 not in positions, [m for m, p in zip(order, positions, strict=True) if p == -1]
    assert positions == sorted(positions)
    assert "+14325559876" not in story  # the requester's number is never printed in clear
