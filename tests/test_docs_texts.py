"""The texts the docs quote are the texts Callout sends: each quote is checked against callout/messages.py.

QUOTES pairs each quote, as a doc gives it ("..." where the doc cuts it), with the messages.py call that
makes the text, on the values the doc shows. Every blockquote of the docs, and every backquoted phrase of five
words or more, must be in QUOTES (or, if Callout does not send it, in NOT_SENT): new quotes are checked too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callout import durations, messages
from tests.test_docs import DOCS, ROOT, lines_of

TEAM = "Odessa PD Peer Support"
ZONE = "America/Chicago"
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # Tue 10 Mar 2026, 10:00 CDT
LIMITS = messages.DEFAULT_LIMITS


def local(text: str) -> str:
    """Return an ISO time (UTC) as a shift's start or end reads in a text: "Wed 11 Mar 07:00 CDT"."""
    return messages.local_zoned(datetime.fromisoformat(text), ZONE)


WED, THU = local("2026-03-11T12:00Z"), local("2026-03-12T12:00Z")
SHIFTS = [(WED, THU), (local("2026-03-14T12:00Z"), local("2026-03-15T12:00Z"))]
SHIFTS.append((local("2026-03-17T12:00Z"), local("2026-03-18T12:00Z")))
FIVE_MIN = durations.short(timedelta(minutes=5))

# (doc, the quote as the doc gives it, the text Callout sends)
QUOTES: list[tuple[str, str, str]] = [
    # members.md
    (
        "members.md",
        "Peer support request K7QD. Reply 1 to accept, 2 to pass (5 min to answer).",
        messages.page("K7QD", "support", FIVE_MIN),
    ),
    (
        "members.md",
        "You have K7QD. Call or text them at +14325559876. When finished reply DONE K7QD and an "
        "area, e.g. work.",
        messages.accepted_support("K7QD", "+14325559876"),
    ),
    (
        "members.md",
        "Remember the limits: Peer support is confidential except where the law requires otherwise, ...",
        messages.limits_reminder(LIMITS),
    ),
    (
        "members.md",
        "K7QD was accepted by Rivera. Stand down, thank you.",
        messages.stand_down("K7QD", "Rivera"),
    ),
    (
        "members.md",
        "Reminder: K7QD is still open with you. Reply DONE K7QD with an area, or RELEASE K7QD.",
        messages.reminder("K7QD"),
    ),
    (
        "members.md",
        "You're off the on-call list until Tue 24 Mar 10:00 CDT. Text BACK to return sooner.",
        messages.away(messages.local_day(datetime(2026, 3, 24, 15, tzinfo=UTC), ZONE, NOW)),
    ),
    (
        "members.md",
        "You hold 2 requests: K7QD, M3RT. Reply DONE CODE, e.g. DONE K7QD.",
        messages.which_held(["K7QD", "M3RT"], "DONE"),
    ),
    (
        "members.md",
        "Released K7QD, but nobody is left to page. The director was alerted. Reply 1 K7QD if you "
        "can take it back.",
        messages.released_nobody_left("K7QD", director_alerted=True),
    ),
    (
        "members.md",
        "Commands: 1/2 [CODE] accept/pass; DONE CODE [area] [OT]; RELEASE CODE; AWAY [2d]/BACK; "
        "COVER [date]; WHO; SHIFTS; TEST; TALK. PRIVACY: what we keep.",
        messages.help_text("peer"),
    ),
    (
        "members.md",
        "Odessa PD Peer Support: heads-up, you're on call from Wed 11 Mar 07:00 CDT to Thu 12 Mar "
        "07:00 CDT: first to be paged. Can't? Text COVER.",
        messages.shift_notice(TEAM, WED, THU, begun=False),
    ),
    (
        "members.md",
        "Sat 31 Oct 07:00 CDT to Sun 01 Nov 07:00 CST",
        f"{local('2026-10-31T12:00Z')} to {local('2026-11-01T13:00Z')}",
    ),
    (
        "members.md",
        "you're on call now, until ...",
        messages.shift_notice(TEAM, WED, THU, begun=True),
    ),
    (
        "members.md",
        "Odessa PD Peer Support: you're on call now, until Tue 10 Mar 13:00 CDT (Ofc. Dana Rivera "
        "can't be paged then): first to be paged.",
        messages.now_primary(
            TEAM, WED, local("2026-03-10T18:00Z"), True, "Ofc. Dana Rivera can't be paged then"
        ),
    ),
    (
        "members.md",
        "you're off call now, until ...; Det. Kim Moss is first to be paged instead.",
        messages.no_longer_primary(TEAM, WED, THU, True, "Det. Kim Moss"),
    ),
    (
        "members.md",
        "Your next shifts: Wed 11 Mar 07:00 CDT to Thu 12 Mar 07:00 CDT; Sat 14 Mar 07:00 CDT to "
        "Sun 15 Mar 07:00 CDT; Tue 17 Mar 07:00 CDT to Wed 18 Mar 07:00 CDT. Your calendar: "
        "https://peer.example.org/calendar/....ics",
        messages.shifts_list(SHIFTS, "https://peer.example.org/calendar/Zt3q9XbK.ics"),
    ),
    (
        "members.md",
        "Asked 3 peers to cover Wed 11 Mar 07:00 CDT to Thu 12 Mar 07:00 CDT (COVER Q9C9). We'll "
        "text you who takes it; until then it's yours.",
        messages.cover_asked("Q9C9", 3, WED, THU),
    ),
    (
        "members.md",
        "Sgt. Lee Park asks: can you take their on-call shift Wed 11 Mar 07:00 CDT to Thu 12 Mar "
        "07:00 CDT? Reply 1 Q9C9 to take it, 2 Q9C9 to pass.",
        messages.cover_page("Q9C9", "Sgt. Lee Park", WED, THU),
    ),
    (
        "members.md",
        "Det. Kim Moss takes your shift ... You're off it",
        messages.cover_done_asker("Q9C9", "Det. Kim Moss", WED, THU),
    ),
    (
        "members.md",
        "COVER takes a date such as 12/24, Thu or tomorrow",
        messages.cover_usage(),
    ),
    (
        "members.md",
        "Thu 12 Mar isn't your shift. Your next: ...",
        messages.cover_not_yours(datetime(2026, 3, 12).strftime("%a %d %b"), [WED]),
    ),
    (
        "members.md",
        "You already asked ...",
        messages.cover_again(WED, "Q9C9"),
    ),
    (
        "members.md",
        "TEST page K7QD: nobody needs help, this checks your phone. Reply 1 to confirm (5 min).",
        messages.page("K7QD", "test", FIVE_MIN),
    ),
    (
        "members.md",
        "Test K7QD confirmed by text: your phone gets pages. Thank you.",
        messages.test_confirmed("K7QD", "sms"),
    ),
    (
        "members.md",
        "Peer support call from the support line. Press 1 to accept.",
        messages.voice_whisper(),
    ),
    (
        "members.md",
        "This is the peer support line. Peer support request K 7 Q D is waiting. Press 1 to accept,"
        " 2 to pass.",
        messages.voice_page("K7QD", "support"),
    ),
    (
        "members.md",
        "DEBRIEF K7QD: OIS debrief 19:00 at Station 2. Reply 1 = I'll be there, 2 = I can't. Call-out open"
        " until 21:00 CDT.",
        messages.debrief_page("K7QD", "OIS debrief 19:00 at Station 2", "21:00 CDT"),
    ),
    (
        "members.md",
        "We're still reaching a peer for you. Your texts so far don't reach them (nothing you write is kept),"
        " so tell the peer what you need when they contact you.",
        messages.requester_unrelayed(),
    ),
    (
        "members.md",
        "Odessa PD Peer Support: a peer will contact you soon. In danger now? Call 911. 988 Suicide"
        " & Crisis Lifeline: call or text 988, 24/7. Peer support is confidential except where the "
        "law requires otherwise, such as a threat to your life or someone else's, or a crime. Text "
        "PRIVACY for details.",
        messages.requester_ack(TEAM, LIMITS),
    ),
    # director.md
    (
        "director.md",
        "Peer support request K7QD. Reply 1 to accept, 2 to pass (5 min to answer).",
        messages.page("K7QD", "support", FIVE_MIN),
    ),
    (
        "director.md",
        "ALERT K7QD (support): nobody accepted after 5 pages. Reply 1 K7QD to take it.",
        messages.exhausted_alert("K7QD", "support", 5),
    ),
    (
        "director.md",
        "Ofc. Dana Rivera opted out of texts from the support line and can't be paged until they text START.",
        messages.opted_out("Ofc. Dana Rivera"),
    ),
    (
        "director.md",
        "your on-call shift started",
        messages.handoff(TEAM, THU),
    ),
    (
        "director.md",
        "COVER Q9C9: Det. Kim Moss takes Sgt. Lee Park's shift Wed 11 Mar 07:00 CDT to Thu 12 Mar 07:00 CDT.",
        messages.cover_done_director("Q9C9", "Det. Kim Moss", "Sgt. Lee Park", WED, THU),
    ),
    (
        "director.md",
        "COVER Q9C9: Sgt. Lee Park asked for cover of Wed 11 Mar 07:00 CDT and nobody has taken it "
        "yet. Please arrange it (an override).",
        messages.cover_alert("Q9C9", "Sgt. Lee Park", WED, False),
    ),
    (
        "director.md",
        "Odessa PD Peer Support: please arrange cover. NOW to Wed 07:00: no peer available. Wed "
        "07:00 to Thu 07:00: no peer or psychologist available.",
        messages.coverage_gaps(
            TEAM,
            [
                (None, messages.local(datetime.fromisoformat("2026-03-11T12:00Z"), ZONE), ["peer"]),
                (
                    messages.local(datetime.fromisoformat("2026-03-11T12:00Z"), ZONE),
                    messages.local(datetime.fromisoformat("2026-03-12T12:00Z"), ZONE),
                    ["peer", "psychologist"],
                ),
            ],
        ),
    ),
    (
        "director.md",
        "Still reaching a peer for you",
        messages.voice_still_trying(),
    ),
    (
        "director.md",
        "You have K7QD: Ofc. Lee asking for a peer ... Call +14325550150. When finished: DONE K7QD.",
        messages.accepted_dispatch("K7QD", "Ofc. Lee asking for a peer after the crash", "+14325550150"),
    ),
    (
        "director.md",
        "K7QD: Rivera accepted.",
        messages.dispatch_accepted("K7QD", "Rivera"),
    ),
    (
        "director.md",
        "ALERT K7QD (dispatch): nobody accepted after 5 pages. Reply 1 K7QD to take it.",
        messages.exhausted_alert("K7QD", "dispatch", 5),
    ),
    (
        "director.md",
        "ALERT K7QD: nobody accepted after 5 pages. The director was alerted; a peer who answers "
        "late still gets your note.",
        messages.exhausted_dispatch("K7QD", 5),
    ),
    (
        "director.md",
        "DEBRIEF K7QD: paging 6 members now; tallies follow. DONE K7QD ends it.",
        messages.debrief_paging("K7QD", 6),
    ),
    (
        "director.md",
        "DEBRIEF K7QD called by Diaz (#post-shooting peers, 6 paged): ...",
        messages.debrief_started("K7QD", "Diaz", "#post-shooting peers", 6, "OIS debrief 19:00 at Station 2"),
    ),
    (
        "director.md",
        "(#k9 peers, then all peers, 9 paged)",
        messages.debrief_started("K7QD", "Diaz", "#k9 peers, then all peers", 9, "OIS debrief 19:00"),
    ),
    (
        "director.md",
        "DEBRIEF K7QD: OIS debrief 19:00 at Station 2. Reply 1 = I'll be there, 2 = I can't. Call-out open"
        " until 21:00 CDT.",
        messages.debrief_page("K7QD", "OIS debrief 19:00 at Station 2", "21:00 CDT"),
    ),
    (
        "director.md",
        "Midland PD Peer Support: Peer support request K7QD. Reply 1 to accept, ...",
        "Midland PD Peer Support: " + messages.page("K7QD", "support", FIVE_MIN),  # requests.named
    ),
    (
        "director.md",
        "DEBRIEF K7QD: 3 responding: Rivera, Chen, Ortiz; 1 unable; 2 no answer yet.",
        messages.debrief_tally("K7QD", ["Rivera", "Chen", "Ortiz"], 1, 2),
    ),
    (
        "director.md",
        "DEBRIEF K7QD: 1 of 2 needed responding; now also paging all peers (5 more).",
        messages.debrief_widened("K7QD", 1, 2, "all peers", 5),
    ),
    # privacy.md
    (
        "privacy.md",
        "Peer support is confidential except where the law requires otherwise, such as a threat to "
        "your life or someone else's, or a crime. Your words go only to the peer and are never "
        "stored. Your number is encrypted and erased 24 h after your request ends. We keep only the"
        " time, outcome and topic.",
        messages.privacy_statement(durations.short(timedelta(hours=24)), LIMITS),
    ),
    (
        "privacy.md",
        "Remember the limits: ...",
        messages.limits_reminder(LIMITS),
    ),
    (
        "members.md",
        "Peer support is confidential except where the law requires otherwise, such as a threat to "
        "your life or someone else's, or a crime. Your words go only to the peer and are never "
        "stored. Your number is encrypted and erased 24 h after your request ends. We keep only the"
        " time, outcome and topic.",
        messages.privacy_statement(durations.short(timedelta(hours=24)), LIMITS),
    ),
    (
        "members.md",
        "COVER Q9C9 is closed: Wed 11 Mar 07:00 CDT is no longer your shift (Ofc. Mei Chen has it now), "
        "so nobody needs to take it. SHIFTS lists yours.",
        messages.cover_moot_asker("Q9C9", WED, "Ofc. Mei Chen"),
    ),
    (
        "members.md",
        "Odessa PD Peer Support: it works. A peer will contact you soon.",
        messages.requester_ack(TEAM, LIMITS, testing=True),
    ),
    (
        "director.md",
        "... asks for cover of Wed 11 Mar 07:00 CDT, less than 12 h away; the other peers are asked.",
        messages.cover_alert_soon("Q9C9", "Ofc. Sam Park", WED),
    ),
    # twilio.md
    (
        "twilio.md",
        "Reply 1 to accept, 2 to pass",
        messages.page("K7QD", "support", FIVE_MIN),
    ),
]

# Backquoted phrases of five words or more that are not texts Callout sends.
NOT_SENT = {
    # what members and dispatch text to the line
    "PAGE Ofc. Lee asking for a peer after the crash on I-20, at Station 2",
    "DEBRIEF #post-shooting OIS debrief 19:00 at Station 2, conference room",
    # what the command line prints or logs (cli/, callout/roster.py, callout/config.py)
    'configuration error: teams[0].escalation.ack_timeout: expected a duration such as "90s"...',
    "note: odessa has no active psychologist",
    "roster odessa: 0 added, 1 updated, ...",
    "skipped: Sgt. Lee Park, away until they text BACK",
    "created the schema at revision 0010",
    "migrated the schema from revision 0009 to 0010",
    "database is up to date (revision 0010)",
    # what the server logs
    "request K7QD step 2: paging a peer",
    # shell, SQL and settings
    "UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)",
    "pg_dump --format=custom callout > callout.dump",
    'python -c "import secrets; print(secrets.token_urlsafe(32))"',
    "... WHERE accepted_by_id IS NULL",
}


def prose(doc: Path) -> str:
    """Return a doc's text outside code blocks, blockquote marks dropped, whitespace made single spaces."""
    kept = [
        line.lstrip("> ") if line.startswith(">") else line for _, line, fence in lines_of(doc) if not fence
    ]
    return " ".join(" ".join(kept).split())


def says(quote: str, sent: str) -> bool:
    """Tell whether a quote is the sent text, "..." standing for what the quote leaves out."""
    at = 0
    for piece in filter(None, (piece.strip() for piece in quote.split("..."))):
        found = sent.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    return True


@pytest.mark.parametrize(("doc", "quote", "sent"), QUOTES, ids=[f"{d}: {q[:40]}" for d, q, _ in QUOTES])
def test_each_quote_is_in_its_doc_as_callout_sends_it(doc: str, quote: str, sent: str) -> None:
    assert quote in prose(ROOT / "docs" / doc), f"docs/{doc} no longer quotes this; update QUOTES"
    assert says(quote, sent), f"docs/{doc} quotes:\n  {quote}\nCallout sends:\n  {sent}"


def blockquotes(doc: Path) -> list[str]:
    """Return each blockquote of a doc, its lines joined."""
    quotes: list[list[str]] = []
    previous = False
    for _, line, fence in lines_of(doc):
        quoted = not fence and line.startswith(">")
        if quoted:
            if not previous:
                quotes.append([])
            quotes[-1].append(line.lstrip("> "))
        previous = quoted
    return [" ".join(" ".join(q).split()) for q in quotes]


def long_phrases(doc: Path) -> list[str]:
    """Return the backquoted phrases of five words or more outside code blocks, but command lines and keys."""
    phrases = re.findall(r"`([^`]+)`", prose(doc))
    return [
        p for p in phrases if len(p.split()) >= 5 and not p.startswith(("callout ", "[")) and " = " not in p
    ]


def unchecked(docs: list[Path]) -> list[str]:
    """Return the blockquotes and long backquoted phrases of docs that neither QUOTES nor NOT_SENT has."""
    checked = {(doc, quote) for doc, quote, _ in QUOTES}
    return [
        f"{doc.name}: {quote}"
        for doc in docs
        for quote in blockquotes(doc) + long_phrases(doc)
        if (doc.name, quote) not in checked and quote not in NOT_SENT
    ]


def test_every_quote_of_the_docs_is_checked() -> None:
    assert sum(len(blockquotes(doc)) for doc in DOCS) >= 10
    assert sum(len(long_phrases(doc)) for doc in DOCS) >= 30
    missing = unchecked(DOCS)
    assert not missing, "quotes not checked against messages.py (add them to QUOTES):\n" + "\n".join(missing)


def test_a_quote_that_drifted_from_the_text_is_caught(tmp_path: Path) -> None:
    doc = tmp_path / "drift.md"
    doc.write_text(
        "# Drift\n\n> Peer support request K7QD.\n> Reply YES to accept.\n\n"
        "Then `K7QD is yours now, thank you.`\n"
    )
    assert unchecked([doc]) == [
        "drift.md: Peer support request K7QD. Reply YES to accept.",
        "drift.md: K7QD is yours now, thank you.",
    ]
    sent = messages.page("K7QD", "support", FIVE_MIN)
    assert says("Peer support request K7QD. Reply 1 to accept, ...", sent)
    assert not says("Peer support request K7QD. Reply YES to accept, 2 to pass (5 min to answer).", sent)
    assert not says("Reply 1 to accept, 2 to pass. Peer support request K7QD.", sent)
    assert not says("Peer support request K7QD. ... (4 min to answer).", sent)
