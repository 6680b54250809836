"""What the OpenAPI document says beyond what ninja derives from the endpoints.

- How to authenticate: HTTP Basic, an API token (Bearer) and the session cookie (the docs page
  sends its CSRF token), declared as security schemes and required by every operation that
  checks a permission.
- The error answers every operation can give (400, 401, 403, 404, 409, 413, 422, 429) with their
  JSON shapes, so a client (or schemathesis) finds each status it meets documented.
- Pydantic's nested `$defs` hoisted into `components/schemas`: a `#/$defs/…` reference inside a
  hand-written request body would otherwise point at the document root and resolve to nothing.
"""

import json
from typing import Any

from ninja.openapi.docs import Swagger

ERRORS_SCHEMA = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        }
    },
}
REASONS_SCHEMA = {
    "type": "object",
    "required": ["reasons"],
    "properties": {
        "reasons": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "message", "clause", "subject"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "clause": {"type": "string"},
                    "subject": {"type": "string"},
                },
            },
        }
    },
}
SECURITY_SCHEMES = {
    "basicAuth": {"type": "http", "scheme": "basic"},
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "API token (sw_…)"},
    "sessionAuth": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
}

_ERROR_ANSWERS = {
    "400": "Malformed request (not JSON, wrong content type).",
    "401": "Not logged in.",
    "403": "Logged in, but this role may not do this.",
    "404": "No such object in your scope, or no such path.",
    "405": "This method is not allowed on this path.",
    "409": "Refused by a rule; every reason with its clause.",
    "413": "The upload is too large.",
    "422": "A field is invalid; every field error.",
    "429": "Too many attempts; see Retry-After.",
}


def _error_response(status: str) -> dict:
    schema_name = "Refusals" if status == "409" else "Errors"
    return {
        "description": _ERROR_ANSWERS[status],
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}
        },
    }


def _hoist_defs(node: Any, schemas: dict) -> Any:
    """Move every nested `$defs` into `schemas` and point its references there."""
    if isinstance(node, dict):
        for name, definition in node.pop("$defs", {}).items():
            schemas.setdefault(name, _hoist_defs(definition, schemas))
        return {key: _hoist_defs(value, schemas) for key, value in node.items()}
    if isinstance(node, list):
        return [_hoist_defs(value, schemas) for value in node]
    if isinstance(node, str) and node.startswith("#/$defs/"):
        return "#/components/schemas/" + node.removeprefix("#/$defs/")
    return node


def complete_schema(schema: dict, *, permission_key: str) -> dict:
    schema = json.loads(json.dumps(schema))  # a private copy: ninja caches nothing we modify
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schema["paths"] = _hoist_defs(schema["paths"], schemas)
    components["schemas"] = _hoist_defs(schemas, schemas)
    components["schemas"].setdefault("Errors", ERRORS_SCHEMA)
    components["schemas"].setdefault("Refusals", REASONS_SCHEMA)
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    for operations in schema["paths"].values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if permission_key in operation:
                operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
            for status in _ERROR_ANSWERS:
                operation["responses"].setdefault(status, _error_response(status))
    return schema


class SwaggerWithCsrf(Swagger):
    """The interactive docs page, able to write with the browser's session: it sends the CSRF
    token (ninja only does so when a global auth asks for it, and ours is per operation)."""

    def render_page(self, request, api, **kwargs):
        from django.middleware.csrf import get_token
        from ninja.openapi.docs import render_template

        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {
            "swagger_settings": json.dumps(self.settings, indent=1),
            "api": api,
            "add_csrf": True,
        }
        get_token(request)  # sets the csrftoken cookie the session check compares against
        return render_template(request, self.template, self.template_cdn, context)
