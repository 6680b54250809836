from django.http import JsonResponse
from django.utils.translation import gettext_lazy as _lazy

from safework.core.audit import client_addr_var
from safework.core.net import client_address


class AuditContextMiddleware:
    """Makes the client address of the request available to `audit.record`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = client_addr_var.set(client_address(request))
        try:
            return self.get_response(request)
        finally:
            client_addr_var.reset(token)


# Status codes whose body Django or a library writes as HTML or plain text; under /api/ the
# client is a program and gets the API's own error shape instead.
_API_ERRORS = {
    400: ("bad_request", _lazy("The request is malformed.")),
    401: ("unauthenticated", _lazy("Log in first.")),
    403: ("forbidden", _lazy("You may not do this.")),
    404: ("not_found", _lazy("Not found.")),
    405: ("method_not_allowed", _lazy("This method is not allowed here.")),
    406: ("not_acceptable", _lazy("This answer is only available as JSON.")),
    413: ("too_large", _lazy("The request is too large.")),
    415: ("unsupported_media_type", _lazy("Send the request body as JSON.")),
    429: ("throttled", _lazy("Too many requests; try again later.")),
    500: ("server_error", _lazy("Something went wrong on the server; the error has been logged.")),
}


def is_api_request(request) -> bool:
    return request.path.startswith("/api/")


def api_error_response(status: int, code: str | None = None, message=None) -> JsonResponse:
    default_code, default_message = _API_ERRORS.get(
        status, ("http_error", _lazy("Request failed."))
    )
    body = {
        "errors": [
            {"field": "", "code": code or default_code, "message": str(message or default_message)}
        ]
    }
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


class ApiErrorMiddleware:
    """Every error answer under /api/ in the API's JSON error format, whoever wrote it: Django's
    404 for an unknown path, the 405 of a path without that method, the CSRF failure page, a
    413 from the upload limits. Answers already in JSON (the API's own handlers) pass unchanged;
    headers that tell the client what to do next (Allow, Retry-After, WWW-Authenticate) stay."""

    _KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not is_api_request(request)
            or response.get("Content-Type", "").startswith("application/json")
            or getattr(response, "streaming", False)
        ):
            return response
        replacement = api_error_response(response.status_code)
        for header in self._KEPT_HEADERS:
            if header in response:
                replacement[header] = response[header]
        return replacement
