"""The roster page: add, edit, deactivate, reactivate, reorder, and the import with its diff."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callout import rotation
from callout.config import Config
from callout.models import AuditEntry, Member
from callout.teams import get_team
from tests.conftest import (
    Clock,
    ConsoleClient,
    RecordingTransport,
    TwilioClient,
    add_roster,
    make_config,
    make_user,
    send,
    team_table,
)


@pytest.fixture
def config(database_url: str) -> Config:
    return make_config(
        database_url,
        team_table(),
        team_table(slug="midland", name="Midland PD", support_number="+14325550200"),
    )


@pytest.fixture
def roster(rt: Any, clock: Clock) -> dict[str, Member]:
    members = add_roster(
        rt,
        rivera=("Ofc. Dana Rivera", "peer"),
        chen=("Sgt. Mei Chen", "peer"),
        ortiz=("Det. Luis Ortiz", "peer"),
        patel=("Dr. Anita Patel", "psychologist"),
        nguyen=("Lt. Sam Nguyen", "director"),
    )
    rt.run(lambda s, e, n: rotation.ensure_anchor(s, get_team(s, e.config.team("odessa")), n))
    return members


@pytest.fixture
def director(app: Any, rt: Any) -> ConsoleClient:
    make_user(rt, "lt.nguyen", "director")
    client = ConsoleClient(app)
    client.login("lt.nguyen")
    return client


def names(rt: Any) -> list[tuple[str, bool]]:
    return rt.run(
        lambda s, e, n: [(m.name, m.active) for m in s.scalars(select(Member).order_by(Member.position))]
    )


def primary(rt: Any) -> str:
    return rt.run(
        lambda s, e, n: rotation.availability_list(s, get_team(s, e.config.team("odessa")), n)[0].name
    )


def actions(rt: Any) -> list[str]:
    return rt.run(lambda s, e, n: [a.action for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))])


def test_the_roster_lists_members_in_rotation_order(
    director: ConsoleClient, roster: dict[str, Member]
) -> None:
    page = director.get("/console/odessa/roster").get_data(as_text=True)
    order = [page.find(name) for name in ("Ofc. Dana Rivera", "Sgt. Mei Chen", "Det. Luis Ortiz")]
    assert -1 not in order and order == sorted(order)
    for label in ('<label for="name">Name</label>', '<label for="phone">Mobile number</label>',
                  '<label for="file">File (.toml or .csv)</label>'):  # fmt: skip
        assert label in page


def test_add_edit_and_the_same_checks_as_the_cli(
    director: ConsoleClient, rt: Any, roster: dict[str, Member]
) -> None:
    added = director.post(
        "/console/odessa/roster/members",
        {"name": "Ofc. Kim Park", "phone": "(432) 555-0188", "role": "peer", "skills": "post-shooting, k9"},
    )
    assert added.status_code == 303
    assert names(rt)[-1] == ("Ofc. Kim Park", True)
    bad = director.post("/console/odessa/roster/members", {"name": "X", "phone": "12", "role": "chief"})
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "is not a phone number" in text or "not a valid phone number" in text
    assert "unknown role" in text
    taken = director.post(
        "/console/odessa/roster/members", {"name": "Twin", "phone": roster["chen"].phone, "role": "peer"}
    )
    assert taken.status_code == 400 and "already on the roster as Sgt. Mei Chen" in taken.get_data(
        as_text=True
    )
    edit = f"/console/odessa/roster/members/{roster['chen'].id}"
    form = director.get(edit).get_data(as_text=True)
    assert 'value="Sgt. Mei Chen"' in form
    saved = director.post(edit, {"name": "Lt. Mei Chen", "phone": roster["chen"].phone, "role": "peer",
                                 "skills": "peer-support"})  # fmt: skip
    assert saved.status_code == 303
    assert ("Lt. Mei Chen", True) in names(rt)
    assert actions(rt) == ["roster.add", "roster.edit"]


def test_a_change_that_empties_a_role_needs_force(
    director: ConsoleClient, rt: Any, roster: dict[str, Member]
) -> None:
    edit = f"/console/odessa/roster/members/{roster['patel'].id}"
    fields = {"name": "Dr. Anita Patel", "phone": roster["patel"].phone, "role": "peer", "skills": ""}
    refused = director.post(edit, fields)
    assert refused.status_code == 400
    assert "no active psychologist (Dr. Anita Patel would become peer)" in refused.get_data(as_text=True)
    assert 'name="force"' in refused.get_data(as_text=True)
    assert director.post(edit, {**fields, "force": "yes"}).status_code == 303
    response = director.post(f"/console/odessa/roster/members/{roster['nguyen'].id}/active", {"active": "no"})
    page = director.get(response.headers["Location"]).get_data(as_text=True)
    assert "Not deactivated: it would leave odessa with no active director" in page
    assert ("Lt. Sam Nguyen", True) in names(rt)


def test_deactivate_reactivate_and_reorder_keep_who_is_on_call(
    director: ConsoleClient, rt: Any, roster: dict[str, Member]
) -> None:
    assert primary(rt) == "Ofc. Dana Rivera"
    director.post(f"/console/odessa/roster/members/{roster['ortiz'].id}/move", {"direction": "up"})
    assert [n for n, _ in names(rt)][:3] == ["Ofc. Dana Rivera", "Det. Luis Ortiz", "Sgt. Mei Chen"]
    director.post(f"/console/odessa/roster/members/{roster['rivera'].id}/move", {"direction": "down"})
    assert primary(rt) == "Ofc. Dana Rivera"
    director.post(f"/console/odessa/roster/members/{roster['rivera'].id}/active", {"active": "no"})
    assert ("Ofc. Dana Rivera", False) in names(rt)
    page = director.get("/console/odessa/roster").get_data(as_text=True)
    assert re.search(rf'id="member-{roster["rivera"].id}" class="inactive"', page)
    director.post(f"/console/odessa/roster/members/{roster['rivera'].id}/active", {"active": "yes"})
    assert ("Ofc. Dana Rivera", True) in names(rt)
    assert actions(rt) == ["roster.move", "roster.move", "roster.deactivate", "roster.activate"]


def roster_text(members: list[tuple[str, str, str]]) -> str:
    return "".join(f'[[members]]\nname = "{n}"\nphone = "{p}"\nrole = "{r}"\n\n' for n, p, r in members)


def test_the_import_shows_its_diff_first_then_applies_it(
    director: ConsoleClient, rt: Any, roster: dict[str, Member]
) -> None:
    kept = [(roster[k].name, roster[k].phone, roster[k].role) for k in ("rivera", "patel", "nguyen")]
    text = roster_text([*kept, ("Ofc. New Hire", "+14325550199", "peer")])
    preview = director.post("/console/odessa/roster/import", {"text": text, "format": "toml"})
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "1 added, 0 updated, 2 deactivated, 3 unchanged" in page
    assert "added: Ofc. New Hire" in page and "deactivated: Sgt. Mei Chen, Det. Luis Ortiz" in page
    assert len(names(rt)) == 5  # nothing changed yet
    assert 'action="/console/odessa/roster/import/apply#import-title"' in page  # the answer opens at the diff
    applied = director.post("/console/odessa/roster/import/apply", {"text": text, "format": "toml"})
    assert applied.status_code == 303
    assert ("Ofc. New Hire", True) in names(rt) and ("Sgt. Mei Chen", False) in names(rt)
    assert actions(rt) == ["roster.import"]


def test_an_uploaded_csv_with_problems_changes_nothing(
    director: ConsoleClient, rt: Any, roster: dict[str, Member]
) -> None:
    csv = b"name,phone,role\nOfc. A,(432) 555-0190,peer\nOfc. B,12,peer\nOfc. C,(432) 555-0191,captain\n"
    response = director.client.post(
        "/console/odessa/roster/import",
        data={"csrf_token": director.token("/console/odessa/roster"), "file": (io.BytesIO(csv), "team.csv")},
        base_url=director.BASE,
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Nothing imported" in page
    assert "line 3: phone" in page and "line 4: unknown role" in page
    assert len(names(rt)) == 5


def test_an_import_that_empties_a_role_needs_force(
    director: ConsoleClient, rt: Any, roster: dict[str, Member]
) -> None:
    text = f'[[members]]\nname = "Ofc. Dana Rivera"\nphone = "{roster["rivera"].phone}"\nrole = "peer"\n'
    preview = director.post("/console/odessa/roster/import", {"text": text, "format": "toml"}).get_data(
        as_text=True
    )
    assert "Refused unless forced: it would leave odessa with no active psychologist" in preview
    refused = director.post("/console/odessa/roster/import/apply", {"text": text, "format": "toml"})
    assert refused.status_code == 400 and ("Dr. Anita Patel", True) in names(rt)
    forced = director.post(
        "/console/odessa/roster/import/apply", {"text": text, "format": "toml", "force": "yes"}
    )
    assert forced.status_code == 303 and ("Dr. Anita Patel", False) in names(rt)


@pytest.mark.parametrize("role", ["viewer", "dispatch"])
def test_only_admins_and_directors_touch_the_roster(
    app: Any, rt: Any, roster: dict[str, Member], role: str
) -> None:
    make_user(rt, "someone", role)
    client = ConsoleClient(app)
    client.login("someone")
    assert client.get("/console/odessa/roster").status_code == 403
    member = f"/console/odessa/roster/members/{roster['rivera'].id}"
    assert client.post(member + "/active", {"active": "no"}).status_code == 403
    assert (
        client.post(
            "/console/odessa/roster/members", {"name": "X", "phone": "4325550177", "role": "peer"}
        ).status_code
        == 403
    )
    assert ("Ofc. Dana Rivera", True) in names(rt)


def test_another_teams_member_is_404(app: Any, rt: Any, roster: dict[str, Member]) -> None:
    make_user(rt, "mid", "director", "midland")
    client = ConsoleClient(app)
    client.login("mid")
    assert client.get(f"/console/midland/roster/members/{roster['rivera'].id}").status_code == 404
    assert (
        client.post(
            f"/console/midland/roster/members/{roster['rivera'].id}/active", {"active": "no"}
        ).status_code
        == 404
    )
    assert client.get("/console/odessa/roster").status_code == 404


def test_the_roster_shows_each_members_last_test_and_the_button_sends_one(
    director: ConsoleClient,
    rt: Any,
    roster: dict[str, Member],
    twilio: TwilioClient,
    transport: RecordingTransport,
    clock: Clock,
) -> None:
    def set_member(key: str, **fields: Any) -> None:
        def work(session: Any, env: Any, now: Any) -> None:
            member = session.get(Member, roster[key].id)
            for name, value in fields.items():
                setattr(member, name, value)

        rt.run(work)

    set_member("rivera", test_confirmed_at=datetime(2026, 2, 20, 18, 0, tzinfo=UTC))
    set_member("ortiz", opted_out=True)
    page = director.get("/console/odessa/roster").get_data(as_text=True)
    assert "20 Feb 2026" in cells(page, roster["rivera"].id, "Last test")
    assert "never" in cells(page, roster["chen"].id, "Last test")
    test_url = f"/console/odessa/roster/members/{roster['chen'].id}/test"
    assert f'action="{test_url}"' in page
    assert f"/roster/members/{roster['ortiz'].id}/test" not in page  # opted out: no page could reach him

    sent = director.post(test_url, follow_redirects=True)
    assert sent.status_code == 200
    send(rt)
    (text,) = transport.to(roster["chen"].phone)
    # The console's tests configure two teams: a page begins with the team's name (a member may be in both).
    assert text.startswith("Odessa PD Peer Support: TEST page ") and "nobody needs help" in text
    code = text.split("TEST page ", 1)[1].split(":")[0]
    assert f"Test page {code} sent to Sgt. Mei Chen" in sent.get_data(as_text=True)
    assert actions(rt)[-1] == "roster.test"

    again = director.post(test_url, follow_redirects=True).get_data(as_text=True)
    send(rt)
    assert f"Sgt. Mei Chen already has test page {code} waiting for their 1." in again
    assert len(transport.to(roster["chen"].phone)) == 1

    twilio.sms(roster["chen"].phone, f"1 {code}")
    page = director.get("/console/odessa/roster").get_data(as_text=True)
    assert clock.now.astimezone(ZoneInfo("America/Chicago")).strftime("%d %b %Y") in cells(
        page, roster["chen"].id, "Last test"
    )
    refused = director.post(
        f"/console/odessa/roster/members/{roster['ortiz'].id}/test", follow_redirects=True
    ).get_data(as_text=True)
    send(rt)
    assert "No test sent: Det. Luis Ortiz opted out of texts (STOP)" in refused
    assert transport.to(roster["ortiz"].phone) == []
    assert code not in director.get("/console/odessa/").get_data(as_text=True)  # a test is nobody asking


def cells(page: str, member_id: int, label: str) -> str:
    """Return the cell of a member's roster row under label."""
    found = re.search(rf'<tr id="member-{member_id}".*?</tr>', page, re.S)
    assert found, f"no row for member {member_id}"
    cell = re.search(rf'<td data-label="{label}"[^>]*>(.*?)</td>', found.group(0), re.S)
    assert cell, f"no {label} cell"
    return cell.group(1)
