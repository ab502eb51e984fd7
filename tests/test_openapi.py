"""webhooks/openapi.yaml: a valid OpenAPI 3.1 description that the app's real answers conform to."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select

from callout.models import Member, Team
from tests.conftest import Clock, TwilioClient, make_member, send

SPEC_PATH = Path(__file__).resolve().parent.parent / "webhooks" / "openapi.yaml"
BASE = "urn:callout:openapi"
AUTH = {"Authorization": "Bearer dispatch-secret"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture
def roster(rt: Any) -> dict[str, Member]:
    with rt.sessions() as session, session.begin():
        team = session.scalar(select(Team).where(Team.slug == "odessa"))
        return {
            "rivera": make_member(session, team, "Rivera", skills=["post-shooting"]),
            "chen": make_member(session, team, "Chen", skills=["post-shooting"]),
            "ortiz": make_member(session, team, "Ortiz"),
            "patel": make_member(session, team, "Dr. Patel", role="psychologist"),
            "nguyen": make_member(session, team, "Lt. Nguyen", role="director"),
            "diaz": make_member(session, team, "Diaz", role="dispatch"),
        }


class Conformance:
    """Check real responses against the spec: the status is documented and the JSON fits its schema."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        resource = Resource.from_contents(spec, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(BASE, resource)
        self.seen: set[tuple[str, str, str]] = set()

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """Follow a local $ref (responses may be references to components)."""
        while "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def check(self, method: str, path: str, response: Any) -> Any:
        """Validate one response of the app for path (a template such as /api/v1/pages/{code})."""
        operation = self.spec["paths"][path][method]
        status = str(response.status_code)
        assert status in operation["responses"], f"{method} {path}: {status} is not documented"
        documented = self.resolve(operation["responses"][status])
        assert "schema" in documented["content"]["application/json"]
        assert response.is_json, f"{method} {path} {status}: not JSON"
        pointer = (
            f"/paths/{path.replace('~', '~0').replace('/', '~1')}/{method}/responses/{status}"
            if "$ref" not in operation["responses"][status]
            else operation["responses"][status]["$ref"].removeprefix("#")
        )
        validator = Draft202012Validator(
            {"$ref": f"{BASE}#{quote(pointer)}/content/application~1json/schema"},
            registry=self.registry,
            format_checker=FormatChecker(),
        )
        errors = [e.message for e in validator.iter_errors(response.get_json())]
        assert errors == [], f"{method} {path} {status}: {errors}"
        for name in documented.get("headers", {}):
            assert name in response.headers, f"{method} {path} {status}: no {name} header"
        self.seen.add((method, path, status))
        return response.get_json()


def test_the_description_is_a_valid_openapi_3_1_document(spec: dict[str, Any]) -> None:
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    json.dumps(spec)  # nothing YAML-only (dates, say) that JSON cannot carry


def test_it_serves_the_description_as_json_without_a_token(app: Any, spec: dict[str, Any]) -> None:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.is_json
    served = response.get_json()
    assert served == {**spec, "servers": [{"url": "https://peer.example.org"}]}
    validate(served)


def test_it_describes_every_api_route_and_only_those(app: Any, spec: dict[str, Any]) -> None:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or rule.rule == "/healthz":
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    described = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert routes == described


def test_every_operation_says_whether_it_needs_the_token(spec: dict[str, Any]) -> None:
    assert spec["security"] == [{"dispatchToken": []}]
    public = {
        path for path, item in spec["paths"].items() for op in item.values() if op.get("security") == []
    }
    assert public == {"/healthz", "/api/v1/openapi.json"}
    for path, item in spec["paths"].items():
        for operation in item.values():
            if path not in public:
                assert "401" in operation["responses"], path


def test_the_apps_answers_conform_to_the_description(
    app: Any, rt: Any, spec: dict[str, Any], roster: dict[str, Member], twilio: TwilioClient, clock: Clock
) -> None:
    api = app.test_client()
    conform = Conformance(spec)
    pages, page = "/api/v1/pages", "/api/v1/pages/{code}"

    created = conform.check("post", pages, api.post(pages, json={"kind": "page", "note": "n"}, headers=AUTH))
    code = created["code"]
    conform.check("get", page, api.get(f"{pages}/{code}", headers=AUTH))  # open
    send(rt)
    twilio.sms(roster["rivera"].phone, "1")
    accepted = conform.check("get", page, api.get(f"{pages}/{code}", headers=AUTH))
    assert accepted["accepted_by"] == "Rivera"
    twilio.sms(roster["rivera"].phone, f"DONE {code}")
    assert conform.check("get", page, api.get(f"{pages}/{code}", headers=AUTH))["status"] == "closed"

    order = {"kind": "debrief", "note": "n", "skill": "post-shooting", "callback": "+14325550123"}
    debrief = conform.check("post", pages, api.post(pages, json=order, headers=AUTH))["code"]
    twilio.sms(roster["chen"].phone, f"1 {debrief}")
    twilio.sms(roster["rivera"].phone, f"2 {debrief}")
    shown = conform.check("get", page, api.get(f"{pages}/{debrief}", headers=AUTH))
    assert shown["responders"] == {"yes": ["Chen"], "no": ["Rivera"]}
    twilio.sms(roster["diaz"].phone, "DEBRIEF everyone, station 2")  # by SMS
    conform.check("get", "/api/v1/oncall", api.get("/api/v1/oncall", headers=AUTH))

    for bad in ('{"kind": "page"', '{"kind": "page", "note": "n", "callback": "12"}', '{"kind": "x"}'):
        conform.check("post", pages, api.post(pages, data=bad, headers=AUTH))
    conform.check("post", pages, api.post(pages, data="x" * 70_000, headers=AUTH))  # over max_body
    for path, template in ((pages, pages), (f"{pages}/K7QD", page), ("/api/v1/oncall", "/api/v1/oncall")):
        method = "post" if path == pages else "get"
        conform.check(method, template, getattr(api, method)(path, headers={"Authorization": "Bearer no"}))
    conform.check("get", page, api.get(f"{pages}/K7QD", headers=AUTH))
    conform.check("get", "/healthz", api.get("/healthz"))  # 503 here: this app runs no scheduler

    expected = {
        ("post", pages, "201"),
        ("post", pages, "400"),
        ("post", pages, "401"),
        ("post", pages, "413"),
        ("get", page, "200"),
        ("get", page, "401"),
        ("get", page, "404"),
        ("get", "/api/v1/oncall", "200"),
        ("get", "/api/v1/oncall", "401"),
        ("get", "/healthz", "503"),
    }
    assert expected <= conform.seen


def test_a_healthy_answer_conforms_too(app: Any, rt: Any, spec: dict[str, Any]) -> None:
    class Running:
        running = True

    rt.scheduler = Running()
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 200
        Conformance(spec).check("get", "/healthz", response)
    finally:
        rt.scheduler = None


def test_a_database_outage_answers_503_as_described(app: Any, rt: Any, spec: dict[str, Any]) -> None:
    rt.engine.dispose()
    from sqlalchemy import create_engine

    broken = create_engine("sqlite:////nonexistent/folder/callout.db")
    rt.sessions.configure(bind=broken)
    try:
        response = app.test_client().get("/api/v1/oncall", headers=AUTH)
        assert response.status_code == 503 and response.headers["Retry-After"]
        Conformance(spec).check("get", "/api/v1/oncall", response)
    finally:
        rt.sessions.configure(bind=rt.engine)
        broken.dispose()


def test_the_check_catches_an_answer_that_strays_from_the_description(app: Any, spec: dict[str, Any]) -> None:
    from flask import jsonify

    with app.app_context():
        stray = jsonify({"code": "K7QD", "kind": "page", "status": "open", "paged": 1, "callback": "+1432"})
        wrong_type = jsonify({"status": "ok", "problems": [1]})
    with pytest.raises(AssertionError, match="Additional properties are not allowed"):
        Conformance(spec).check("get", "/api/v1/pages/{code}", stray)
    with pytest.raises(AssertionError, match="is not of type 'string'"):
        Conformance(spec).check("get", "/healthz", wrong_type)
