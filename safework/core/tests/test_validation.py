"""Pydantic's errors as our field errors: request field names, nested and union locations."""

import pytest
from django.test import RequestFactory
from pydantic import BaseModel, Field, ValidationError

from safework.core.errors import BadRequest
from safework.core.validation import JsonParser, field_of, translate_pydantic_errors


class Point(BaseModel):
    lat: float = Field(ge=-90, le=90)


class Block(BaseModel):
    started_on: str
    points: list[Point] = []


class Payload(BaseModel):
    name: str
    code: int | str = 0
    block: Block | None = None
    tags: list[int] = []


def ninja_errors(data) -> list[dict]:
    """The errors as ninja reports them for a body parameter named `payload`."""
    try:
        Payload.model_validate(data)
    except ValidationError as exc:
        return [{**e, "loc": ("body", "payload", *e["loc"])} for e in exc.errors()]
    return []


def translated(data):
    errors, malformed = translate_pydantic_errors(ninja_errors(data))
    return {e.field: e.code for e in errors}, malformed


def test_nested_fields_are_named_by_their_path():
    fields, malformed = translated(
        {"block": {"points": [{"lat": 0}, {"lat": 91}, {}]}, "tags": [1, "x"]}
    )
    assert not malformed
    assert fields == {
        "name": "required",
        "block.started_on": "required",
        "block.points.1.lat": "too_large",
        "block.points.2.lat": "required",
        "tags.1": "invalid_type",
    }


def test_a_union_reports_one_error_under_the_field_name():
    fields, _ = translated({"name": "x", "code": []})
    assert fields == {"code": "invalid_type"}


def test_a_nested_object_of_the_wrong_type_is_a_field_error_not_malformed():
    fields, malformed = translated({"name": "x", "block": "text"})
    assert (fields, malformed) == ({"block": "invalid_type"}, False)


def test_a_body_that_is_not_an_object_is_malformed():
    _fields, malformed = translated(["not", "an", "object"])
    assert malformed


@pytest.mark.parametrize(
    ("loc", "field"),
    [
        (("body", "payload", "employment", "started_on"), "employment.started_on"),
        (("body", "payload", "polygon", 2, 0), "polygon.2.0"),
        (("body", "payload", "x", "function-after[check(), str]"), "x"),
        (("query", "site_id"), "site_id"),
        (("query", "ids", 1), "ids.1"),  # a list query parameter keeps its index
        (("path", "person_id"), "person_id"),
        (("body", "payload"), ""),
    ],
)
def test_field_of(loc, field):
    assert field_of(loc)[0] == field


def test_our_own_value_errors_keep_code_and_message():
    errors, _ = translate_pydantic_errors(
        [
            {
                "type": "value_error",
                "loc": ("body", "p", "id_number"),
                "ctx": {"error": "id_number.checksum: The check character is wrong."},
            },
            {
                "type": "value_error",
                "loc": ("body", "p", "x"),
                "ctx": {"error": "Value error, not a code: just text"},
            },
        ]
    )
    assert [(e.field, e.code) for e in errors] == [
        ("id_number", "id_number.checksum"),
        ("x", "invalid"),
    ]
    assert errors[0].message == "The check character is wrong."


@pytest.mark.parametrize(
    ("content_type", "body", "code"),
    [
        ("text/plain", b"{}", "unsupported_content_type"),
        ("multipart/form-data; boundary=x", b"{}", "unsupported_content_type"),
        ("application/json", b"{nope", "malformed"),
        ("application/json", b"\xff\xfe", "malformed"),
    ],
)
def test_json_parser_refuses(content_type, body, code):
    request = RequestFactory().post("/", body, content_type=content_type)
    with pytest.raises(BadRequest) as exc:
        JsonParser().parse_body(request)
    assert exc.value.error.code == code


def test_json_parser_accepts_json_types():
    for content_type in (
        "application/json",
        "application/json; charset=utf-8",
        "application/merge-patch+json",
    ):
        request = RequestFactory().post("/", b'{"a": 1}', content_type=content_type)
        assert JsonParser().parse_body(request) == {"a": 1}
