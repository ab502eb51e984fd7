"""Twilio's voice webhooks: calls to the support line hunt the on-call list; paged members answer by phone.

URLs below /twilio/voice/ carry our opaque ids (a hunt's token, a page id), never a phone number:
- `/twilio/voice` — an inbound call: the greeting, then `<Dial>` to the first callee.
- `/twilio/voice/hunt/<token>/<n>/whisper` — what callee n hears before the caller is connected.
- `/twilio/voice/hunt/<token>/<n>/answer` — the key callee n pressed: 1 connects, anything else hangs up.
- `/twilio/voice/hunt/<token>/<n>/dialed` — the `<Dial>` to callee n ended: ring the next or give up.
- `/twilio/voice/page/<page_id>` and `.../answer` — a page call (`call_after`): press 1 to accept, 2 to pass.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Blueprint, Response, request
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from callout import members, messages, voice
from callout.env import Env
from callout.teams import get_team
from webhooks.signature import twilio_signed
from webhooks.sms import required, team_for
from webhooks.state import runtime

log = logging.getLogger(__name__)
bp = Blueprint("voice", __name__)


def twiml(answer: VoiceResponse) -> Response:
    """Render a TwiML voice answer."""
    return Response(str(answer), mimetype="application/xml")


def absolute(path: str) -> str:
    """Return the public URL of one of our paths (the URL Twilio signs its callbacks for)."""
    return runtime().config.server.public_url + path


def hunt_path(token: str, position: int, what: str) -> str:
    """Return the path of one step of a hunt's callee."""
    return f"/twilio/voice/hunt/{token}/{position}/{what}"


def say_step(answer: VoiceResponse, step: voice.Step, first: bool = False) -> VoiceResponse:
    """Add what the caller hears next to answer: a ring to the next callee, the crisis lines, or the end."""
    if isinstance(step, voice.Ring):
        if not first:
            answer.say(messages.voice_still_trying())
        dial = answer.dial(
            action=absolute(hunt_path(step.token, step.position, "dialed")),
            timeout=voice.RING_SECONDS,
            answer_on_bridge=True,
            caller_id=step.support_number,  # callees never see the caller's number
        )
        dial.number(step.number, url=absolute(hunt_path(step.token, step.position, "whisper")))
    elif isinstance(step, voice.Unanswered):
        answer.say(messages.voice_unanswered(step.callback))
        answer.hangup()
    else:
        answer.hangup()
    return answer


@bp.post("/twilio/voice")
@twilio_signed
def inbound_call() -> Response:
    """Greet a caller and ring the first callee; the hunt goes on in the dial's action callbacks."""
    team_config = team_for(required("To"))
    call_sid = required("CallSid")
    caller = voice.caller_id(request.form.get("From"))
    rt = runtime()
    answer = VoiceResponse()
    if caller and not rt.per_number.allow(rt.env.vault.lookup_key(caller), rt.clock()):
        log.warning("rate limit: a number exceeded %d contacts per window", rt.config.limits.per_number)
        answer.say(messages.voice_busy())
        return twiml(answer)

    def work(session: Session, env: Env, now: datetime) -> voice.Step | None:
        team = get_team(session, team_config)
        is_member = caller is not None and members.by_phone(session, env, team, caller) is not None
        if not is_member and not rt.per_team.allow(team.slug, now):
            log.warning("rate limit: team %s is flooded; calls get the crisis lines only", team.slug)
            return None
        return voice.start(session, env, now, team, call_sid, caller)

    step = rt.run(work)
    if step is None:
        answer.say(messages.voice_busy())
        return twiml(answer)
    answer.say(messages.voice_greeting(team_config.name, team_config.confidentiality_limits))
    return twiml(say_step(answer, step, first=True))


@bp.post("/twilio/voice/hunt/<token>/<id:position>/dialed")
@twilio_signed
def dialed(token: str, position: int) -> Response:
    """Ring the next callee after one who did not take the call, or end the call once it is over."""
    caller_left = request.form.get("CallStatus", "in-progress") in ("completed", "canceled")
    call_sid = request.form.get("CallSid", "")
    step = runtime().run(
        lambda session, env, now: voice.dialed(session, env, now, token, position, caller_left, call_sid)
    )
    return twiml(say_step(VoiceResponse(), step))


@bp.post("/twilio/voice/hunt/<token>/<id:position>/whisper")
@twilio_signed
def whisper(token: str, position: int) -> Response:
    """Tell the callee what the call is; only a 1 connects the caller, silence hangs up."""
    answer = VoiceResponse()
    if runtime().run(lambda session, env, now: voice.whisper_due(session, token, position)):
        gather = answer.gather(
            num_digits=1,
            timeout=voice.ANSWER_SECONDS,
            action=absolute(hunt_path(token, position, "answer")),
            action_on_empty_result=False,
        )
        gather.say(messages.voice_whisper(), loop=2)
    answer.hangup()
    return twiml(answer)


@bp.post("/twilio/voice/hunt/<token>/<id:position>/answer")
@twilio_signed
def whisper_answer(token: str, position: int) -> Response:
    """Connect the caller to a callee who pressed 1; any other answer, an empty one too, hangs up."""
    digits = request.form.get("Digits", "")
    parent = request.form.get("ParentCallSid", "")  # the caller's call
    answer = VoiceResponse()
    if runtime().run(lambda s, env, now: voice.answer(s, env, now, token, position, digits, parent)):
        answer.say(messages.voice_connecting())
    else:
        answer.hangup()
    return twiml(answer)


def say_prompt(prompt: voice.Prompt, page_id: int) -> Response:
    """Render what a paged member hears: the prompt, with a 1/2 gather when an answer is wanted."""
    answer = VoiceResponse()
    if prompt.gather:
        gather = answer.gather(
            num_digits=1,
            timeout=voice.ANSWER_SECONDS,
            action=absolute(f"/twilio/voice/page/{page_id}/answer"),
            action_on_empty_result=False,
        )
        gather.say(prompt.text, loop=2)
    elif prompt.text:
        answer.say(prompt.text)
    answer.hangup()
    return twiml(answer)


@bp.post("/twilio/voice/page/<id:page_id>")
@twilio_signed
def page_call(page_id: int) -> Response:
    """Ask a paged member who picked up to press 1 or 2; an answering machine hears nothing."""
    answered_by = request.form.get("AnsweredBy", "")
    prompt = runtime().run(lambda session, env, now: voice.page_prompt(session, page_id, answered_by))
    return say_prompt(prompt, page_id)


@bp.post("/twilio/voice/page/<id:page_id>/answer")
@twilio_signed
def page_answer(page_id: int) -> Response:
    """Accept (1) or pass (2) as by SMS; the number to call follows by text."""
    digits = request.form.get("Digits", "")
    prompt = runtime().run(lambda session, env, now: voice.page_answer(session, env, now, page_id, digits))
    return say_prompt(prompt, page_id)
