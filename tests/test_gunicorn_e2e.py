"""The app as production serves it, under gunicorn: a worker told to stop leaves no error in the log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e import Stack, free_port
from tests.fake_twilio import AUTH_TOKEN

pytestmark = pytest.mark.e2e

RIVERA, NGUYEN = "+14325552101", "+14325552105"


def test_a_worker_stopped_while_a_page_is_in_flight_sends_it_and_logs_no_error(
    tmp_path: Path, database_url: str
) -> None:
    stack = Stack(tmp_path, database_url, {"ack_timeout": "5m", "peers": 1, "call_after": "0"})
    stack.roster([("Rivera", RIVERA, "peer"), ("Lt. Nguyen", NGUYEN, "director")])
    stack.fake.latency = 3.0  # the page is still being handed to Twilio when the worker is told to stop
    port, log = free_port(), tmp_path / "gunicorn.log"
    env = {**os.environ, "CALLOUT_CONFIG": str(stack.config), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "4"]
    command += ["-b", f"127.0.0.1:{port}", "webhooks:create_app()"]
    with log.open("ab") as out:
        gunicorn = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _healthy(url):
            assert gunicorn.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        params = {"From": "+14325559876", "To": stack.support, "Body": "help", "MessageSid": "SM" + "1" * 32}
        assert stack.fake.post_signed(url, stack.public_url, AUTH_TOKEN, "/twilio/sms", params)[0] == 200
        time.sleep(0.5)  # the page's REST call is under way
        gunicorn.send_signal(signal.SIGTERM)
        assert gunicorn.wait(timeout=30) == 0
    finally:
        if gunicorn.poll() is None:
            gunicorn.kill()
            gunicorn.wait(timeout=10)
        stack.close()
    text = log.read_text()
    assert [body for body in stack.bodies_to(RIVERA) if body.startswith("Peer support request")]
    assert "Traceback" not in text and " ERROR " not in text, text[-3000:]


def _healthy(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=1).status_code == 200
    except (requests.ConnectionError, requests.Timeout):  # not listening yet, or its worker still loading
        return False
