"""Every answer under /api/ is in the API's JSON error format, whoever wrote it (issue 17 #15),
and the OpenAPI document says how to authenticate and which errors each operation gives."""

import json
import re

import pytest
from django.test import Client

from safework.accounts.models import Role
from safework.accounts.tests.world import grant, make_user


def _error(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = json.loads(response.content)
    (error,) = body["errors"]
    assert set(error) == {"field", "code", "message"}
    return error


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/v1/persons/1/nope", "/api/x"])
def test_unknown_path_is_a_json_404_in_chinese(path):
    response = Client().get(path)
    assert response.status_code == 404
    error = _error(response)
    assert error["code"] == "not_found"
    assert re.search(r"[\u4e00-\u9fff]", error["message"]), error["message"]


@pytest.mark.django_db
def test_unknown_path_outside_the_api_keeps_the_html_page():
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


@pytest.mark.django_db
def test_wrong_method_is_a_json_405_that_keeps_allow():
    # /persons answers GET and POST only.
    response = Client().delete("/api/v1/persons")
    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]


@pytest.mark.django_db
def test_session_write_without_csrf_token_is_a_json_403_naming_csrf():
    user = make_user("csrf-admin")
    grant(user, Role.ADMINISTRATOR)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/api/v1/sites", data="{}", content_type="application/json")
    assert response.status_code == 403
    error = _error(response)
    assert error["code"] == "csrf_failed"
    assert "CSRF" in error["message"]
    assert re.search(r"[\u4e00-\u9fff]", error["message"])


@pytest.mark.django_db
def test_session_write_with_the_docs_page_token_passes_csrf():
    user = make_user("docs-admin")
    grant(user, Role.ADMINISTRATOR)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    token = re.search(rb'data-csrf-token="([^"]+)"', page.content).group(1).decode()
    assert re.search(rb'data-api-csrf="true"', page.content)
    response = client.post(
        "/api/v1/sites", data="{}", content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    # Past the CSRF check: the empty body is now judged on its fields.
    assert response.status_code == 422, response.content


def _schema() -> dict:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return json.loads(response.content)


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_reference_in_the_openapi_document_resolves():
    schema = _schema()
    refs = set(_refs(schema))
    assert refs, "the document uses references"
    for ref in refs:
        assert ref.startswith("#/"), ref
        node = schema
        for part in ref[2:].split("/"):
            assert part in node, f"{ref} does not resolve"
            node = node[part]
    roster_body = schema["paths"]["/api/v1/rosters"]["post"]["requestBody"]
    assert "$defs" not in json.dumps(roster_body)


def test_openapi_declares_basic_token_and_session_auth_and_the_error_answers():
    schema = _schema()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["basicAuth"] == {"type": "http", "scheme": "basic"}
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "API token (sw_…)",
    }
    assert schemes["sessionAuth"]["in"] == "cookie"
    operation = schema["paths"]["/api/v1/persons"]["post"]
    assert {"basicAuth": []} in operation["security"]
    for status in ("400", "401", "403", "404", "409", "422", "429"):
        assert status in operation["responses"], status
    errors = schema["components"]["schemas"]["Errors"]
    assert errors["properties"]["errors"]["items"]["required"] == ["field", "code", "message"]
