"""Twilio's messaging webhooks: inbound SMS and status callbacks."""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime

from flask import Blueprint, Response, abort, request
from sqlalchemy.orm import Session
from twilio.twiml.messaging_response import MessagingResponse

from callout import conversation, escalation, outbox, privacy
from callout.config import TeamConfig
from callout.env import Env
from callout.phones import maybe_e164
from callout.teams import get_team
from webhooks.signature import twilio_signed
from webhooks.state import runtime

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__)


XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed in XML 1.0 at all


STATUS_WAITS = 20  # tries, 0.1 s apart, to find the message or call a status callback is about
SID = re.compile(r"[A-Za-z]{2}[0-9A-Za-z]{1,62}")  # a provider id: two letters, then letters and digits
STATUS = re.compile(r"[a-z][a-z-]{0,19}")  # Twilio's statuses ("delivered", "no-answer"); others ignored


def twiml(text: str | None = None) -> Response:
    """Render a TwiML messaging answer, with an immediate reply when text is given."""
    answer = MessagingResponse()
    if text:
        answer.message(XML_UNSAFE.sub("", text))  # a reply may echo what a member typed
    return Response(str(answer), mimetype="application/xml")


def required(name: str) -> str:
    """Return a form field Twilio always sends; 400 if it is missing."""
    value = request.form.get(name)
    if not value:
        abort(400, f"missing field {name}")
    return value


def team_for(to: str | None) -> TeamConfig:
    """Return the team whose support number was called or texted; 404 if none."""
    config = runtime().config
    number = maybe_e164(to or "")
    team = config.team_by_number(number) if number else None
    service = request.form.get("MessagingServiceSid", "")
    if team is None and service and service == config.twilio.messaging_service_sid and len(config.teams) == 1:
        team = config.teams[0]  # a reply to another number of the sender pool that sent the page
    if team is None:
        abort(404, "unknown support number")
    return team


@bp.post("/twilio/sms")
@twilio_signed
def inbound_sms() -> Response:
    """Answer an inbound SMS at once; pages go out from the sender, never inside this request."""
    team_config = team_for(required("To"))
    sender = maybe_e164(required("From"))
    if sender is None:
        return twiml()  # short codes and alphanumeric senders cannot be answered
    body = request.form.get("Body", "")
    message_sid = request.form.get("MessageSid", "")
    opt_out = request.form.get("OptOutType", "")
    rt = runtime()
    if not rt.per_number.allow(rt.env.vault.lookup_key(sender), rt.clock()):
        log.warning("rate limit: a number exceeded %d texts per window; ignored", rt.config.limits.per_number)
        if rt.config.privacy.delete_provider_records:  # ignored here, but its words are still at Twilio
            rt.run(lambda session, env, now: privacy.forget_at_provider(session, env, now, message_sid))
        return twiml()

    def work(session: Session, env: Env, now: datetime) -> conversation.Reply:
        if not conversation.first_time(session, now, message_sid):
            log.info("duplicate MessageSid ignored")
            return conversation.Reply()
        team = get_team(session, team_config)
        return conversation.handle_sms(
            session,
            env,
            now,
            team,
            sender,
            body,
            message_sid,
            opt_out_type=opt_out,
            requester_allowed=lambda: rt.per_team.allow(team.slug, now),
        )

    reply = rt.run(work)
    for to, parts in reply.relays:
        assert reply.request_id is not None  # words are relayed only for a request
        rt.sender.relay(to, team_config.support_number, parts, reply.request_id)
    return twiml(reply.text)


@bp.post("/twilio/status")
@twilio_signed
def status_callback() -> tuple[str, int]:
    """Record a delivery or call status; a failed page pages the next person at once."""
    sid = request.form.get("MessageSid") or request.form.get("CallSid") or ""
    status = request.form.get("MessageStatus") or request.form.get("CallStatus") or ""
    if SID.fullmatch(sid) and STATUS.fullmatch(status):
        rt = runtime()
        # Twilio may report on a message before the sender has committed its sid: wait a moment for it.
        # Look for sends in flight before looking up the sid: if nothing was in flight then, a sid that
        # is still unknown is not ours; looked at the other way round, a sid committed between the two
        # looks would be taken for a stranger's and the status lost.
        for _ in range(STATUS_WAITS):
            busy = rt.read(lambda session, env, now: outbox.in_flight(session))
            if rt.run(lambda session, env, now: escalation.record_status(session, env, now, sid, status)):
                break
            if not busy:
                break
            time.sleep(0.1)
    return "", 204
