"""Every field of every console page has a label a screen reader reads, and every button a name."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from flask import url_for

from tests.conftest import ConsoleClient, add_roster, make_user


class Fields(HTMLParser):
    """Collect a page's form fields and buttons, and which ids its labels name."""

    def __init__(self) -> None:
        super().__init__()
        self.labelled: set[str] = set()
        self.fields: list[dict[str, str | None]] = []
        self.buttons: list[tuple[dict[str, str | None], list[str]]] = []
        self.in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Note labels, fields and buttons."""
        found = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if found.get("for"):
                self.labelled.add(str(found["for"]))
        elif tag in ("input", "select", "textarea") and found.get("type") not in ("hidden", "submit"):
            self.fields.append({**found, "wrapped": "yes" if self.in_label else None})
        elif tag == "button":
            self.buttons.append((found, []))

    def handle_endtag(self, tag: str) -> None:
        """Close a label."""
        if tag == "label":
            self.in_label -= 1

    def handle_data(self, data: str) -> None:
        """Give the last open button its text."""
        if self.buttons and data.strip():
            self.buttons[-1][1].append(data.strip())


def test_every_field_has_a_label_and_every_button_a_name(app: Any, rt: Any) -> None:
    roster = add_roster(rt, rivera=("Ofc. Dana Rivera", "peer"), chen=("Sgt. Mei Chen", "peer"))
    make_user(rt, "lt.nguyen", "director")
    director = ConsoleClient(app)
    director.login("lt.nguyen")
    code = director.post("/console/odessa/dispatch", {"kind": "page", "note": "x"}).headers["Location"][-4:]
    values = {"slug": "odessa", "member_id": roster["rivera"].id, "code": code}
    pages = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            page = rule.endpoint.startswith("console.") and "GET" in (rule.methods or ())
            if page and set(rule.arguments) <= values.keys() and rule.endpoint != "console.static":
                pages.append(url_for(rule.endpoint, **{k: values[k] for k in rule.arguments}))
    checked = 0
    for path in [*pages, "/console/login"]:
        client = ConsoleClient(app) if path == "/console/login" else director
        response = client.get(path)
        if response.status_code != 200 or "text/html" not in response.content_type:
            continue
        parsed = Fields()
        parsed.feed(response.get_data(as_text=True))
        for field in parsed.fields:
            named = field.get("aria-label") or field.get("wrapped") or field.get("id") in parsed.labelled
            assert named, f"{path}: a field without a label: {field}"
            checked += 1
        for button, text in parsed.buttons:
            assert text or button.get("aria-label"), f"{path}: a button without a name: {button}"
    assert checked > 25
