"""Every text Callout sends, in one place: short, friendly, one SMS segment where possible.

Long on purpose: the texts are read together, for their tone and for what they give away, and
tests/test_messages.py counts each one's segments. A text belongs here, not beside the code that sends it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from callout import segments

CRISIS_911 = "In danger now? Call 911."
CRISIS_988 = "988 Suicide & Crisis Lifeline: call or text 988, 24/7."
CRISIS = f"{CRISIS_911} {CRISIS_988}"

# The default of [teams] confidentiality_limits: where confidentiality ends, said at the outset.
DEFAULT_LIMITS = (
    "Peer support is confidential except where the law requires otherwise, such as a threat to your life or"
    " someone else's, or a crime."
)
# The budgets, in SMS segments, that the configuration is checked against at start-up.
ACK_SEGMENTS = 2
PRIVACY_SEGMENTS = 2


def spoken(code: str) -> str:
    """Return a code spelled out for a voice prompt: "K 7 Q D"."""
    return " ".join(code)


def local(at: datetime, zone: str) -> str:
    """Return a short local time such as "Tue 07:00"."""
    return at.astimezone(ZoneInfo(zone)).strftime("%a %H:%M")


def local_day(at: datetime, zone: str, now: datetime) -> str:
    """Return a day and time in zone such as "Tue 24 Mar 10:00 CDT" (with the year when it is not now's)."""
    local = at.astimezone(ZoneInfo(zone))
    year = f" {local.year}" if local.year != now.astimezone(ZoneInfo(zone)).year else ""
    return f"{local.strftime('%a')} {local.day} {local.strftime('%b')}{year} {local.strftime('%H:%M %Z')}"


def local_time(at: datetime, zone: str, now: datetime) -> str:
    """Return a time in zone such as "19:00 CDT", with the day ("Wed 11 Mar 01:00 CDT") when not now's."""
    local, today = at.astimezone(ZoneInfo(zone)), now.astimezone(ZoneInfo(zone))
    return local.strftime("%H:%M %Z") if local.date() == today.date() else local_day(at, zone, now)


def requester_ack(team: str, limits: str, testing: bool = False) -> str:
    """Acknowledge a new request: a peer is coming, the crisis lines, the limits of confidentiality.

    testing (the text was TEST: someone trying the line) adds "it works" where the two segments allow it.
    """
    ack = f"{team}: a peer will contact you soon. {CRISIS} {limits} Text PRIVACY for details."
    if testing:
        tried = ack.replace(": a peer will", ": it works. A peer will", 1)
        if segments.segments(tried) <= ACK_SEGMENTS:
            return tried
    return ack


def line_busy() -> str:
    """Answer a requester when the line is flooded: the crisis lines, at once."""
    return f"The support line is very busy right now. {CRISIS}"


def requester_waiting() -> str:
    """Tell a requester whose request is still being paged that a peer is on the way."""
    return f"We're still reaching a peer for you; they'll contact you soon. {CRISIS}"


def requester_unrelayed() -> str:
    """Tell a requester, once, that their texts reach no peer before one accepts: tell the peer instead."""
    return (
        "We're still reaching a peer for you. Your texts so far don't reach them (nothing you write is kept),"
        f" so tell the peer what you need when they contact you. {CRISIS}"
    )


def relay_failed() -> str:
    """Tell a requester their last text did not reach the peer, who still has their number."""
    return f"We couldn't pass your last text to your peer; they have your number and will call. {CRISIS}"


def requester_accepted() -> str:
    """Tell the requester a peer has their request."""
    return "A peer support member has your request and will contact you shortly."


def requester_exhausted(director_alerted: bool) -> str:
    """Tell the requester nobody can take it now (nobody more is paged): who knows, and the crisis lines.

    True also after a RELEASE: the peer who had it was called away, and the requester was told a peer had it.
    """
    alerted = "The team's director has been alerted, and a" if director_alerted else "A"
    may = f"{alerted} peer may still take it and contact you."
    return f"No peer is free for your request right now. {may} {CRISIS}"


def privacy_statement(purge_after: str, limits: str) -> str:
    """Say where confidentiality ends, and what Callout keeps and for how long (docs/privacy.md in short)."""
    return f"{limits} {privacy_kept(purge_after)}"


def privacy_kept(purge_after: str) -> str:
    """Say what Callout keeps and for how long: the PRIVACY answer's second half, and the poster's."""
    return (
        "Your words go only to the peer and are never stored. Your number is encrypted and erased"
        f" {purge_after} after your request ends. We keep only the time, outcome and topic."
    )


def limits_reminder(limits: str) -> str:
    """Remind a member who accepts, once a day, of the limits the team tells the people it helps."""
    return f"Remember the limits: {limits}"


def page(code: str, kind: str, minutes: str) -> str:
    """Page a member: a request is waiting, and how to answer (digits, not YES/HELP)."""
    if kind == "test":
        return f"TEST page {code}: nobody needs help, this checks your phone. Reply 1 to confirm ({minutes})."
    what = {"support": "Peer support request", "dispatch": "Dispatch page", "debrief": "DEBRIEF call-out"}[
        kind
    ]
    return f"{what} {code}. Reply 1 to accept, 2 to pass ({minutes} to answer)."


def accepted_support(code: str, contact: str | None) -> str:
    """Give the accepting member the requester's number."""
    if contact is None:
        return f"You have {code}, but the contact details were already erased. Reply DONE {code} to close."
    finish = f"When finished reply DONE {code} and an area, e.g. work."
    return f"You have {code}. Call or text them at {contact}. {finish}"


def accepted_dispatch(code: str, note: str | None, callback: str | None) -> str:
    """Give the accepting member the dispatcher's note and callback number."""
    return f"You have {code}: {note or 'no note'}. Call {callback or 'dispatch'}. When finished: DONE {code}."


def relay(code: str, words: str) -> list[str]:
    """Relay a requester's words to the accepting member: one text, or numbered parts if too long for one."""
    whole = f"{code}: {words}"
    if segments.fits(whole):
        return [whole]
    how = segments.encoding(words)
    room = segments.MAX_SEGMENTS * segments.CONCATENATED[how] - len(f"{code} (99/99): ")
    pieces = segments.split(words, room, how)
    return [f"{code} ({i}/{len(pieces)}): {piece}" for i, piece in enumerate(pieces, 1)]


def stand_down(code: str, name: str) -> str:
    """Tell everyone else paged that someone accepted."""
    return f"{code} was accepted by {name}. Stand down, thank you."


def already_taken(code: str, name: str) -> str:
    """Tell a late YES who has the request."""
    return f"{code} is already with {name}. Thank you."


def passed_first(code: str) -> str:
    """Answer a YES from a member whose pass on the request came first (and stands): others are paged."""
    return f"You passed on {code} first, so it stays passed: others are being paged for it. Thank you."


def passed_already(code: str) -> str:
    """Answer a second pass on the same request."""
    return f"You already passed on {code}. Thank you."


def passed_nobody_took(code: str) -> str:
    """Answer a bare YES from a member who passed on a request that nobody took (nobody more is paged)."""
    return f"You passed on {code}, and nobody has taken it. To take it after all, reply 1 {code}."


def yours_already(code: str) -> str:
    """Answer a pass from the member who already accepted the request: it is theirs until they release it."""
    return f"You accepted {code}: it's yours. If you can't follow up, reply RELEASE {code} to hand it back."


def declined_nobody_left(code: str, director_alerted: bool) -> str:
    """Confirm a pass after which nobody was left to page (the request is exhausted)."""
    alerted = " The director was alerted." if director_alerted else ""
    return f"Thanks, passed on {code}. Nobody is left to page.{alerted}"


def declined(code: str, next_paged: bool = True) -> str:
    """Confirm a pass; say the next person is paged only when that is so (others may still be answering)."""
    return f"Thanks, passed on {code}." + (" We're paging the next person." if next_paged else "")


def already_closed(code: str) -> str:
    """Answer a YES for a request that is closed."""
    return f"{code} is already closed."


def dispatch_accepted(code: str, name: str) -> str:
    """Tell the dispatcher (or director) who raised a page who accepted it."""
    return f"{code}: {name} accepted."


def dispatch_paging(code: str) -> str:
    """Confirm a PAGE to the dispatcher who sent it."""
    return f"Paging the on-call peer for {code}; we'll text you who accepts."


def debrief_paging(code: str, paged: int) -> str:
    """Confirm a DEBRIEF to the member who called it."""
    return f"DEBRIEF {code}: paging {paged} members now; tallies follow. DONE {code} ends it."


def page_refused(role: str) -> str:
    """Refuse PAGE or DEBRIEF from a member who may not send them, with their own commands."""
    return "Only dispatch and the director can PAGE or DEBRIEF. " + help_text(role)


def page_needs_note(word: str) -> str:
    """Ask for the note a PAGE or DEBRIEF needs."""
    return f"Add a note: {word} what happened and where to call."


def holding_nothing() -> str:
    """Answer DONE or RELEASE without a code from a member who holds no request."""
    return "You hold no open request."


def away_usage(reason: str, bare_number: str | None = None) -> str:
    """Refuse an AWAY length that cannot be read (never guessed), with examples: nothing changed."""
    n = bare_number
    problem = f"AWAY {n} what? Say AWAY {n}h, {n}d or {n}w." if n is not None else f"{reason}."
    return (
        f"Nothing changed: {problem} AWAY takes a length from 1m to 365d, such as 90m, 6h, 3d or 2 weeks, "
        "or none to stay off until you text BACK."
    )


def no_open_page() -> str:
    """Answer a 1/2 from someone with nothing open."""
    return "You have no open page right now."


def which_page(codes: Sequence[str], word: str) -> str:
    """Ask which request a bare answer is for."""
    return f"You have {len(codes)} open pages: {', '.join(codes)}. Reply {word} CODE, e.g. {word} {codes[0]}."


def which_held(codes: Sequence[str], word: str) -> str:
    """Ask which of the requests a member holds a bare DONE or RELEASE is for."""
    listed = ", ".join(codes)
    return f"You hold {len(codes)} requests: {listed}. Reply {word} CODE, e.g. {word} {codes[0]}."


def unknown_code(code: str) -> str:
    """Answer a code that matches nothing open for this member."""
    return f"No open request {code} for you."


def exhausted_alert(code: str, kind: str, tried: int) -> str:
    """Alert the director that nobody accepted; a director may still take it."""
    return f"ALERT {code} ({kind}): nobody accepted after {tried} pages. Reply 1 {code} to take it."


def exhausted_dispatch(code: str, tried: int) -> str:
    """Tell the dispatcher who raised a page that nobody accepted (the director was alerted)."""
    return (
        f"ALERT {code}: nobody accepted after {tried} pages. The director was alerted; "
        "a peer who answers late still gets your note."
    )


def closed(code: str, area: str | None, overtime: bool) -> str:
    """Confirm a DONE."""
    extra = f" as {area}" if area else ""
    return f"Closed {code}{extra}{' (OT)' if overtime else ''}. Thank you for being there."


def bad_area(areas: Sequence[str]) -> str:
    """List the valid content areas after an unknown one."""
    return f"Unknown area. Use one of: {', '.join(areas)}."


def one_area(areas: Sequence[str]) -> str:
    """Ask for a single content area after DONE named two."""
    return f"One area per contact, please: the main one. Use one of: {', '.join(areas)}."


def not_yours(code: str) -> str:
    """Refuse DONE/RELEASE from someone who does not hold the request."""
    return f"{code} is not yours to close or release."


def released(code: str) -> str:
    """Confirm a RELEASE that paged the next person."""
    return f"Released {code}; we're paging the next person. Thank you."


def released_nobody_left(code: str, director_alerted: bool) -> str:
    """Confirm a RELEASE after which nobody was left to page (the request is exhausted)."""
    alerted = " The director was alerted." if director_alerted else ""
    return f"Released {code}, but nobody is left to page.{alerted} Reply 1 {code} if you can take it back."


def reminder(code: str) -> str:
    """Remind the accepting member to close or release."""
    return f"Reminder: {code} is still open with you. Reply DONE {code} with an area, or RELEASE {code}."


def away(until: str | None) -> str:
    """Confirm AWAY: until when (a day and time), or until BACK."""
    if until is None:
        return "You're off the on-call list until you text BACK."
    return f"You're off the on-call list until {until}. Text BACK to return sooner."


def back(was_away: bool = True) -> str:
    """Confirm BACK."""
    if not was_away:
        return "You weren't away: you're on the on-call list."
    return "Welcome back: you're on the on-call list again."


def away_roles_only() -> str:
    """Refuse AWAY/BACK from a member who is never paged in turn (dispatch)."""
    return "AWAY and BACK are for peers, the psychologist and the director: the people who are paged."


def who(now_names: Sequence[str], shift_end: str, next_name: str | None) -> str:
    """Tell who is on call now and next."""
    current = ", ".join(now_names) if now_names else "nobody available"
    following = f" Next shift from {shift_end}: {next_name}." if next_name else ""
    return f"On call now: {current}.{following}"


def talk_ack() -> str:
    """Acknowledge a member's own TALK request."""
    return f"Got it. Another peer will contact you soon; you won't be paged for this. {CRISIS}"


def handoff(team: str, until: str) -> str:
    """Tell the new primary their shift began."""
    return f"{team}: your on-call shift started; you're first to be paged until {until}."


def nobody_in(roles: Sequence[str]) -> str:
    """Say which roles have nobody available: "no peer", "no peer or psychologist"."""
    names = list(roles)
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"no {listed} available"


def coverage_gaps(team: str, gaps: Sequence[tuple[str | None, str, Sequence[str]]]) -> str:
    """Warn the director, in one text, of the shifts with nobody available in some roles.

    Each gap is (start, end, roles) as local times; start None is the shift running now, listed first.
    """
    parts = [
        f"{'NOW to ' + end if start is None else start + ' to ' + end}: {nobody_in(roles)}."
        for start, end, roles in gaps
    ]
    return f"{team}: please arrange cover. " + " ".join(parts)


def opted_out(name: str) -> str:
    """Tell the director a member opted out of texts."""
    return f"{name} opted out of texts from the support line and can't be paged until they text START."


def help_text(role: str) -> str:
    """List the commands a member may use."""
    lines = [
        "1/2 [CODE] accept/pass",
        "DONE CODE [area] [OT]",
        "RELEASE CODE",
        "WHO",
        "SHIFTS",
        "TEST",
        "TALK",
    ]
    if role in ("peer", "psychologist", "director"):
        lines.insert(3, "AWAY [2d]/BACK")
    if role == "peer":
        lines.insert(4, "COVER [date]")
    if role in ("dispatch", "director"):
        lines += ["PAGE note", "DEBRIEF [#skill] note"]
    return "Commands: " + "; ".join(lines) + ". PRIVACY: what we keep."


# --- voice: spoken prompts (codes letter by letter) and the text a member gets after taking a call ---

VOICE_CRISIS = (
    "If you are in immediate danger, hang up and call 911. "
    "The 988 Suicide and Crisis Lifeline is there day and night: call or text 9 8 8."
)
_WHAT = {"support": "Peer support request", "dispatch": "Dispatch page", "debrief": "Debrief call-out"}


def voice_greeting(team: str, limits: str) -> str:
    """Greet a caller to the support line, with where confidentiality ends, before the first phone rings."""
    return f"{team}. {limits} We're connecting you with a peer, please stay on the line."


def voice_still_trying() -> str:
    """Reassure the caller between two callees."""
    return "Still reaching a peer for you, please stay on the line."


def voice_whisper() -> str:
    """Tell a callee, before the caller is connected, what the call is and how to take it."""
    return "Peer support call from the support line. Press 1 to accept."


def voice_connecting() -> str:
    """Tell a callee who pressed 1 that the caller is being connected."""
    return "Connecting you now."


def voice_unanswered(callback: bool) -> str:
    """Tell a caller nobody could be reached: the crisis lines, and whether a peer will text back."""
    then = (
        "A peer will text you back at this number soon."
        if callback
        else "Your number was withheld, so please call again or text this number."
    )
    return f"We couldn't reach a peer right now. {VOICE_CRISIS} {then}"


def voice_busy() -> str:
    """Answer a caller when the line is flooded: the crisis lines, at once."""
    return f"The support line is very busy right now. {VOICE_CRISIS}"


def voice_page(code: str, kind: str) -> str:
    """Page a member by phone: the request waiting, and the digits that answer it."""
    if kind == "test":
        return (
            f"This is a test page from the peer support line, {spoken(code)}. Nobody needs help. "
            "Press 1 to confirm."
        )
    what = f"{_WHAT[kind]} {spoken(code)}"
    return f"This is the peer support line. {what} is waiting. Press 1 to accept, 2 to pass."


def voice_accepted(code: str) -> str:
    """Confirm a 1 pressed on a page call; the details follow by text."""
    return f"Thank you. You have request {spoken(code)}. We're texting you the details now."


def voice_test_confirmed(code: str) -> str:
    """Confirm a TEST page answered on the call."""
    return f"Thank you. Test {spoken(code)} is confirmed: your phone gets pages. Goodbye."


def voice_declined(code: str, next_paged: bool = True) -> str:
    """Confirm a 2 pressed on a page call; say the next person is paged only when that is so."""
    return f"Thank you, you passed on request {spoken(code)}." + (
        " We'll page the next person." if next_paged else ""
    )


def voice_passed(code: str) -> str:
    """Answer a 1 pressed on a page call after the member had passed by text: the pass stands."""
    return f"You passed on request {spoken(code)} first, so others are being paged for it. Thank you."


def voice_yours(code: str) -> str:
    """Answer a page call for a request the member already holds."""
    return f"You already have request {spoken(code)}. Thank you."


def voice_taken(code: str, name: str) -> str:
    """Tell a member on a page call that someone else took the request."""
    return f"Request {spoken(code)} is already with {name}. Thank you."


def voice_not_waiting(code: str) -> str:
    """Tell a member on a page call that the request no longer needs an answer."""
    return f"Request {spoken(code)} is no longer waiting. Thank you."


def call_taken(code: str, contact: str | None) -> str:
    """Text a member who took a call its code (to close it) and the caller's number (if the call drops)."""
    number = f"If the call drops, their number is {contact}." if contact else "Their number was withheld."
    return f"You took call {code}. {number} When finished reply DONE {code} and an area, e.g. work."


# --- debriefs: critical-incident call-outs of the whole team ---


def debrief_page(code: str, note: str | None, until: str) -> str:
    """Page a member for a debrief: dispatch's note (what, when, where), how to answer, when it ends.

    The note is dispatch's text, not a requester's: the member needs the time and place to answer at all.
    """
    what = (note or "").strip() or "no note"
    what += "" if what[-1] in ".!?" else "."
    return f"DEBRIEF {code}: {what} Reply 1 = I'll be there, 2 = I can't. Call-out open until {until}."


def debrief_started(code: str, by: str, whom: str, paged: int, note: str) -> str:
    """Tell the director a debrief was called, by whom, whom it paged (after any widening) and why."""
    return f"DEBRIEF {code} called by {by} ({whom}, {paged} paged): {note}"


def debrief_yes(code: str, note: str | None, contact: str | None) -> str:
    """Thank a member who will respond to a debrief, with the note and whom to call."""
    return f"Thanks, you're responding to DEBRIEF {code}: {note or 'no note'}. Call {contact or 'dispatch'}."


def debrief_no(code: str) -> str:
    """Confirm that a member is unable to respond to a debrief."""
    return f"Thanks, noted you're unable for DEBRIEF {code}. Reply 1 {code} if that changes."


def debrief_over(code: str) -> str:
    """Answer a late reply to a debrief that has ended."""
    return f"DEBRIEF {code} is over. Thank you."


def debrief_own(code: str) -> str:
    """Answer the member who called a debrief and then replies to it."""
    return f"You called DEBRIEF {code}; you get the tally. DONE {code} ends it."


def debrief_not_yours(code: str) -> str:
    """Refuse DONE on a debrief from anyone but the one who called it."""
    return f"Only the one who called DEBRIEF {code} can end it."


def debrief_unknown_skill(skill: str, known: Sequence[str]) -> str:
    """Refuse a DEBRIEF #SKILL that no active peer has."""
    listed = ", ".join(f"#{s}" for s in known) if known else "none"
    return f"No active peer has #{skill}. Skills: {listed}. DEBRIEF without #skill pages every peer."


def debrief_tally(code: str, yes: Sequence[str], unable: int, waiting: int, limit: int = 300) -> str:
    """Tell the initiator who responds: "3 responding: Rivera, Chen, Ortiz; 1 unable; 4 no answer yet"."""
    names = list(yes)
    shown = ", ".join(names)
    while len(shown) > limit and len(names) > 1:  # a big team: name the first and count the rest
        names.pop()
        shown = ", ".join(names) + f" +{len(yes) - len(names)} more"
    text = f"DEBRIEF {code}: {len(yes)} responding" + (f": {shown}" if yes else "") + f"; {unable} unable"
    return text + (f"; {waiting} no answer yet." if waiting else ".")


def debrief_widened(code: str, yes: int, needed: int, whom: str, count: int) -> str:
    """Tell the initiator and director that too few said yes and more members are being paged."""
    return f"DEBRIEF {code}: {yes} of {needed} needed responding; now also paging {whom} ({count} more)."


def debrief_short(code: str, yes: int, needed: int) -> str:
    """Tell the initiator and director that everyone was paged and still too few said yes."""
    return f"DEBRIEF {code}: {yes} of {needed} needed responding, and everyone we can reach has been paged."


def debrief_closed(tally: str) -> str:
    """Give the final tally when a debrief ends."""
    return f"Ended. {tally}"


# --- members between calls: shift notices, SHIFTS, COVER and TEST ---


def local_zoned(at: datetime, zone: str) -> str:
    """Return a local date and time with the zone's abbreviation, such as "Tue 10 Mar 07:00 CDT"."""
    return at.astimezone(ZoneInfo(zone)).strftime("%a %d %b %H:%M %Z")


def shift_notice(team: str, start: str, end: str, begun: bool) -> str:
    """Tell a member, ahead, that they are on call (or, sent late, that they are on call now)."""
    if begun:
        return f"{team}: you're on call now, until {end}: first to be paged."
    return f"{team}: heads-up, you're on call from {start} to {end}: first to be paged. Can't? Text COVER."


def now_primary(team: str, start: str, end: str, begun: bool, reason: str | None) -> str:
    """Tell a member a change made them primary now (or within the heads-up time)."""
    why = f" ({reason})" if reason else ""
    if begun:
        return f"{team}: you're on call now, until {end}{why}: first to be paged."
    return f"{team}: you're now on call from {start} to {end}{why}: first to be paged."


def no_longer_primary(team: str, start: str, end: str, begun: bool, taker: str | None) -> str:
    """Tell a member a change took their shift (or what is left of it) from them."""
    instead = f"; {taker} is first to be paged instead" if taker else ""
    if begun:
        return f"{team}: you're off call now, until {end}{instead}."
    return f"{team}: you're no longer on call from {start} to {end}{instead}."


def shifts_list(starts_ends: Sequence[tuple[str, str]], link: str, fallback_role: str | None = None) -> str:
    """List a member's next shifts and their calendar link (SHIFTS).

    fallback_role, for a member paged after the peers (the psychologist, say), keeps "no shifts" from
    reading as "never paged".
    """
    if not starts_ends and fallback_role is not None:
        listed = (
            f"You have no shifts as first to be paged; as the {fallback_role} you're paged whenever the peers"
            " on call don't answer."
        )
    elif not starts_ends:
        listed = "You have no on-call shifts in the next 90 days."
    else:
        listed = "Your next shifts: " + "; ".join(f"{start} to {end}" for start, end in starts_ends) + "."
    return f"{listed} Your calendar: {link}"


def cover_peers_only() -> str:
    """Refuse COVER from a member who is not a peer."""
    return "COVER is for peers on the rotation: it asks the other peers to take one of your shifts."


def cover_usage() -> str:
    """Explain COVER after a date it could not read."""
    return "COVER takes a date such as 12/24, Thu or tomorrow, or nothing for your next shift."


def cover_none() -> str:
    """Answer COVER from a peer with no coming shift."""
    return "You have no on-call shift in the next 90 days to cover."


def cover_begun(end: str) -> str:
    """Refuse COVER of a shift that has begun: AWAY hands it on at once."""
    return (
        f"Your shift has begun (until {end}), so there's no time to ask. Text AWAY to hand it to the next "
        "peer now, or call the director."
    )


def cover_not_yours(day: str, mine: Sequence[str]) -> str:
    """Refuse COVER of a day that is not the member's, naming their next shifts."""
    if not mine:
        return f"{day} isn't your shift. You have no shift in the next 90 days."
    return f"{day} isn't your shift. Your next: {', '.join(mine)}. Text COVER with one of those dates."


def cover_past(day: str) -> str:
    """Refuse COVER of a day gone by."""
    return (
        f"{day} has passed. COVER asks about a shift to come: your next, or the one of a date such as 12/24."
    )


def cover_too_far(day: str, ask_from: str) -> str:
    """Refuse COVER of a day beyond the 90 days the rotation is worked out for."""
    return f"{day} is more than 90 days ahead, too far to know whose shift it is. Ask again from {ask_from}."


def cover_again(start: str, code: str | None) -> str:
    """Answer a second COVER of the same shift."""
    which = f" ({code})" if code else ""
    return (
        f"You already asked for cover of {start}{which}. We'll text you who takes it; until then it's yours."
    )


def cover_nobody() -> str:
    """Answer COVER when no other peer can be asked."""
    return "No other peer can be asked (all away or opted out). Please call the director to arrange cover."


def cover_asked(code: str, count: int, start: str, end: str, director_told: bool = False) -> str:
    """Confirm a COVER to the peer who asked (and that the director knows, when the shift is near)."""
    peers = f"{count} peer{'s' * (count != 1)}"
    told = " It's less than 12 h away, so the director knows too." if director_told else ""
    return (
        f"Asked {peers} to cover {start} to {end} (COVER {code}). "
        f"We'll text you who takes it; until then it's yours.{told}"
    )


def cover_page(code: str, asker: str, start: str, end: str) -> str:
    """Ask a peer to take another's shift; the code is always needed (a bare 1 answers pages)."""
    return (
        f"{asker} asks: can you take their on-call shift {start} to {end}? "
        f"Reply 1 {code} to take it, 2 {code} to pass."
    )


def cover_needs_code(codes: Sequence[str]) -> str:
    """Answer a bare 1 from a member with covers open to them and no page: covers need their code."""
    return f"To take a shift, reply 1 with its code: 1 {codes[0]}." + (
        f" Open: {', '.join(codes)}." if len(codes) > 1 else ""
    )


def cover_yours(asker: str, start: str, end: str) -> str:
    """Confirm a cover to the peer who took it."""
    return f"Thank you: {asker}'s shift {start} to {end} is yours. It's on your calendar (SHIFTS)."


def cover_taken(code: str, name: str) -> str:
    """Tell a late 1 who took the cover."""
    return f"COVER {code} was already taken by {name}. Thank you."


def cover_away(code: str, start: str) -> str:
    """Refuse a 1 CODE from a peer who will be AWAY when the shift begins: they would not be paged."""
    return f"You're AWAY at {start}, so COVER {code} can't be yours. Text BACK first, then 1 {code}."


def cover_own(code: str) -> str:
    """Answer the asker who replies to their own cover."""
    return f"COVER {code} is your own ask; we'll text you who takes it."


def cover_over(code: str) -> str:
    """Answer a reply to a cover that has ended."""
    return f"COVER {code} is over: its shift has begun. Thank you."


def cover_changed(code: str, holder: str | None = None, yours: bool = False) -> str:
    """Tell a peer asked that a cover is no longer needed: its shift changed hands (to whom, when known)."""
    if yours:
        now = "that shift is yours now (SHIFTS lists yours)"
    elif holder:
        now = f"{holder} has that shift now"
    else:
        now = "that shift changed hands"
    return f"COVER {code} is no longer needed: {now}. Thank you."


def cover_moot_asker(code: str, start: str, holder: str | None = None) -> str:
    """Tell the asker their cover ended because the shift is no longer theirs (an override, an AWAY)."""
    has_it = f" ({holder} has it now)" if holder else ""
    return (
        f"COVER {code} is closed: {start} is no longer your shift{has_it}, so nobody needs to take it."
        " SHIFTS lists yours."
    )


def cover_passed(code: str) -> str:
    """Confirm a pass on a cover."""
    return f"Thanks, passed on COVER {code}."


def cover_stand_down(code: str, taker: str) -> str:
    """Tell the other peers asked that someone took the cover."""
    return f"COVER {code} was taken by {taker}. No need to answer, thank you."


def cover_done_asker(code: str, taker: str, start: str, end: str) -> str:
    """Tell the asker who took their shift."""
    return f"{taker} takes your shift {start} to {end} (COVER {code}). You're off it."


def cover_done_director(code: str, taker: str, asker: str, start: str, end: str) -> str:
    """Tell the director a cover was taken."""
    return f"COVER {code}: {taker} takes {asker}'s shift {start} to {end}."


def cover_alert(code: str, asker: str, start: str, everyone_passed: bool) -> str:
    """Alert the director that nobody has taken a cover."""
    why = "every peer asked passed" if everyone_passed else "nobody has taken it yet"
    return f"COVER {code}: {asker} asked for cover of {start} and {why}. Please arrange it (an override)."


def cover_alert_soon(code: str, asker: str, start: str) -> str:
    """Tell the director, at once, of a cover asked less than 12 h before its shift."""
    return (
        f"COVER {code}: {asker} asks for cover of {start}, less than 12 h away; the other peers are asked."
        " You'll hear if one takes it; if not, please arrange it (an override)."
    )


def cover_alert_asker(code: str, start: str) -> str:
    """Tell the asker nobody has taken their shift yet and the director knows."""
    return (
        f"Nobody has taken your shift {start} yet (COVER {code}); the director knows. Until then it's yours."
    )


def cover_unanswered(code: str, end: str) -> str:
    """Tell the asker, when the shift begins, that nobody took it."""
    return f"Nobody took COVER {code}: you're on call now, until {end}. Text AWAY if you can't be paged."


def test_started(call_after: str | None) -> str:
    """Confirm a TEST: the page follows, answer it like a real one."""
    call = f"; no answer in {call_after} and we call you, as for a real page" if call_after else ""
    return f"A test page is on its way{call}. Answer it with 1, as you would a real one."


def test_waiting(code: str) -> str:
    """Answer a second TEST while one is waiting."""
    return f"Your test page {code} is waiting: reply 1 {code} to confirm it."


def test_opted_out() -> str:
    """Answer TEST from a member who opted out of texts."""
    return "You opted out of texts from this line (STOP), so pages can't reach you. Text START, then TEST."


def test_confirmed(code: str, channel: str) -> str:
    """Confirm a test page answered."""
    how = "by phone" if channel == "voice" else "by text"
    return f"Test {code} confirmed {how}: your phone gets pages. Thank you."


def test_over(code: str) -> str:
    """Answer a late 1 to a test that ended."""
    return f"Test {code} has ended; text TEST for a new one."


def test_two(code: str) -> str:
    """Answer a 2 to a test page."""
    return f"That was a test page, so nobody is waiting. Reply 1 {code} to confirm your phone gets pages."


def test_unanswered(code: str, timeout: str) -> str:
    """Tell a member their test page got no answer."""
    return (
        f"Test {code} got no answer in {timeout}. Text TEST to try again; "
        "if the page never came, tell the director."
    )
