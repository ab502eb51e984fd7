"""The app factory and `callout serve`: start-up checks and health."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RecordingTransport, make_config, make_member, team_table


def test_healthz_is_ok_when_the_database_answers(app: Any) -> None:
    response = app.test_client().get("/healthz")
    assert response.status_code == 503  # no scheduler runs in this test app: a monitor must hear of it
    assert "scheduler is not running" in response.get_json()["problems"]


def test_healthz_turns_unhealthy_when_a_step_is_overdue(
    database_url: str, transport: RecordingTransport, tmp_path: Path
) -> None:
    from datetime import timedelta

    from sqlalchemy import select, update

    import service
    from callout.models import Request, Team
    from tests.conftest import TwilioClient
    from webhooks import create_app

    config = make_config(database_url, team_table(), server={"scheduler": False})
    app = create_app(service.build(config, transport=transport))
    rt = app.extensions["callout"]
    try:
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        rt.run(lambda s, e, n: make_member(s, s.scalar(select(Team)), "Rivera"))
        TwilioClient(client).sms("+14325559876", "hello")
        rt.run(lambda s, e, n: s.execute(update(Request).values(step_deadline=n - timedelta(minutes=2))))
        response = client.get("/healthz")
        assert response.status_code == 503 and "overdue" in response.get_json()["problems"][0]
    finally:
        rt.close()


def test_healthz_turns_unhealthy_when_the_sender_is_stuck(
    database_url: str, transport: RecordingTransport
) -> None:
    from sqlalchemy import select

    import service
    from callout.models import Team
    from tests.conftest import Clock, TwilioClient
    from webhooks import create_app

    config = make_config(database_url, team_table(), server={"scheduler": False})
    app = create_app(service.build(config, transport=transport))  # no sender drains the outbox
    rt = app.extensions["callout"]
    clock = Clock(rt.clock())
    rt.clock = clock
    try:
        client = app.test_client()
        rt.run(lambda s, e, n: make_member(s, s.scalar(select(Team)), "Rivera"))
        TwilioClient(client).sms("+14325559876", "hello")
        assert client.get("/healthz").status_code == 200  # the page is waiting, but not for long
        clock.advance(seconds=61)
        problems = client.get("/healthz").get_json()["problems"]
        assert problems == ["1 message(s) or call(s) waiting to be sent for more than a minute"]
        clock.advance(minutes=2, seconds=5)  # the page call was due at 2 min and no tick placed it
        assert "1 page call(s) overdue by more than a minute" in client.get("/healthz").get_json()["problems"]
    finally:
        rt.close()


def test_create_app_without_a_runtime_is_the_whole_service_gunicorn_serves(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import DATA_KEY
    from tests.e2e import write_config
    from webhooks import create_app

    path = tmp_path / "config.toml"
    server = {"public_url": "https://peer.example.org", "database_url": database_url}
    write_config(path, {"server": server, "privacy": {"data_key": DATA_KEY}}, [team_table()])
    monkeypatch.setenv("CALLOUT_CONFIG", str(path))
    import service

    configured: list[bool] = []
    monkeypatch.setattr(service, "configure_logging", lambda: configured.append(True))
    app = create_app()  # gunicorn's `webhooks:create_app()`: the configuration from the environment
    assert configured == [True]  # its INFO lines reach gunicorn's stderr
    rt = app.extensions["callout"]
    try:
        assert rt.config.path == path and rt.scheduler is not None and rt.scheduler.running
        assert app.test_client().get("/healthz").status_code == 200  # migrated, the scheduler running
    finally:
        rt.close()


def test_the_app_gunicorn_serves_logs_info_lines_unless_logging_was_set_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import logging

    import service

    root = logging.getLogger()
    level = root.level
    try:
        monkeypatch.setattr(root, "handlers", [])  # a gunicorn worker: nothing set up the root logger
        root.setLevel(logging.WARNING)
        service.configure_logging()
        assert root.level == logging.INFO and len(root.handlers) == 1
        mine = logging.StreamHandler()
        monkeypatch.setattr(root, "handlers", [mine])  # --log-config, say: the operator's setup stands
        root.setLevel(logging.ERROR)
        service.configure_logging()
        assert root.handlers == [mine] and root.level == logging.ERROR
    finally:
        root.setLevel(level)


def test_a_bad_roster_file_stops_start_up_with_its_problems(
    database_url: str, transport: RecordingTransport, tmp_path: Path
) -> None:
    import service

    roster = tmp_path / "roster.toml"
    roster.write_text('[[members]]\nname = "A"\nphone = "12"\nrole = "peer"\n')
    config = make_config(database_url, team_table(roster=str(roster)))
    with pytest.raises(SystemExit) as stopped:
        service.wsgi_app(config, transport=transport)
    assert "not a valid phone number" in str(stopped.value) or "phone" in str(stopped.value)


FULL_ROSTER = "".join(
    f'[[members]]\nname = "{name}"\nphone = "(432) 555-01{n:02d}"\nrole = "{role}"\n\n'
    for n, (name, role) in enumerate(
        [("Ofc. Dana Rivera", "peer"), ("Sgt. Lee Park", "peer"), ("Dr. Ana Cruz", "psychologist"),
         ("Lt. Ray Ortiz", "director")],
        start=1,
    )
)  # fmt: skip


def test_the_configured_roster_prints_its_diff_on_start(
    database_url: str, transport: RecordingTransport, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import service

    roster = tmp_path / "roster.toml"
    roster.write_text(FULL_ROSTER)
    config = make_config(database_url, team_table(roster=str(roster)), server={"scheduler": False})
    service.build(config, transport=transport).close()
    roster.write_text(FULL_ROSTER.replace("Sgt. Lee Park", "Sgt. Lee Park-Moss"))
    caplog.clear()
    with caplog.at_level("INFO", logger="service"):
        service.build(config, transport=transport).close()
    [line] = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "service"]
    assert line == (  # information (serve logs INFO), not a warning: the demo's first line was this one
        "INFO",
        "roster odessa: 0 added, 1 updated, 0 deactivated, 3 unchanged;"
        " updated: Sgt. Lee Park-Moss (name was Sgt. Lee Park)",
    )


def test_a_configured_roster_leaving_a_role_empty_is_a_warning_on_start(
    database_url: str, transport: RecordingTransport, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import service

    roster = tmp_path / "roster.toml"
    roster.write_text(FULL_ROSTER.replace('"psychologist"', '"peer"'))
    config = make_config(database_url, team_table(roster=str(roster)), server={"scheduler": False})
    with caplog.at_level("INFO", logger="service"):
        service.build(config, transport=transport).close()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "service"]
    assert [level for level, _ in lines] == ["INFO", "WARNING"]
    assert lines[1][1] == "roster note: odessa has no active psychologist: nobody to fall back on or alert"


def test_a_configured_roster_that_would_empty_a_role_stops_start_up_in_one_line(
    database_url: str, transport: RecordingTransport, tmp_path: Path, sessions: Any
) -> None:
    from sqlalchemy import select

    import service
    from callout.models import Member

    roster = tmp_path / "roster.toml"
    roster.write_text(FULL_ROSTER)
    config = make_config(database_url, team_table(roster=str(roster)), server={"scheduler": False})
    service.build(config, transport=transport).close()
    roster.write_text(FULL_ROSTER.split("\n\n")[0] + "\n")  # the first member only
    with pytest.raises(SystemExit) as stopped:
        service.wsgi_app(config, transport=transport)
    message = str(stopped.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(f"callout: roster {roster}: it would leave odessa with no active psychologist")
    assert "no active director (Lt. Ray Ortiz would be deactivated)" in message and "--force" in message
    with sessions() as session:
        assert all(m.active for m in session.scalars(select(Member)))  # nothing was imported
