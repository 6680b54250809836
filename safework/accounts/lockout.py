"""Login protection with django-axes: the backend, the lockout answer, and the audit of lockouts.

Every password login goes through `django.contrib.auth.authenticate(request=…)`: the admin's
login form and the API's HTTP Basic (`accounts.access.BasicAuth`). Axes counts the failures per
`AXES_LOCKOUT_PARAMETERS` (settings: per account and address by default); at the limit, the
backend below refuses every further attempt, the right password included, until the cool-off
has passed or an administrator unlocks (`services.unlock_login`). The admin answers with a page,
the API with 429 and `Retry-After`; each lockout is one record in the audit chain.
"""

import math

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off, get_failure_limit
from axes.signals import user_locked_out
from django.contrib import admin
from django.dispatch import receiver
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


class LockoutBackend(AxesStandaloneBackend):
    """Axes's check before the password is even hashed. Without a request (the shell, a
    management command) there is no client to lock out, so there is nothing to check."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class LoginLockedOut(Exception):
    """Raised by the API's login when axes refused it (→ 429 with Retry-After)."""

    def __init__(self, request):
        self.retry_after = retry_after_seconds(request)
        super().__init__(lockout_message(self.retry_after))


def retry_after_seconds(request=None) -> int:
    """Seconds until the client may try again. Each refused attempt restarts the cool-off
    (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT), so it is the whole cool-off."""
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else 0


def lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return _(
        "Too many failed logins: logging in is locked. Try again in %(minutes)d minutes, "
        "or ask an administrator to unlock it."
    ) % {"minutes": minutes}


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: what a locked-out login is answered with (AxesMiddleware)."""
    seconds = retry_after_seconds(request)
    if request.path.startswith("/api/"):
        if original_response is not None and original_response.status_code == 429:
            return original_response  # the API's own answer (safework.api)
        error = {"field": "", "code": "locked_out", "message": lockout_message(seconds)}
        body = {"errors": [error]}
        response = JsonResponse(body, status=429, json_dumps_params={"ensure_ascii": False})
    else:
        context = admin.site.each_context(request) | {
            "title": _("Login locked"),
            "message": lockout_message(seconds),
        }
        # Rendered now: AxesMiddleware runs after the template-response phase.
        response = render(request, "accounts/lockout.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


@receiver(user_locked_out, dispatch_uid="safework.accounts.lockout.audit")
def audit_lockout(sender, request, username, ip_address, **kwargs):
    """One audit record per lockout: axes signals again on every refused attempt while locked,
    which must not flood the chain, so only the attempt that reached the limit is recorded."""
    from safework.accounts import services

    failures = getattr(request, "axes_failures_since_start", None)
    if failures != get_failure_limit(request, getattr(request, "axes_credentials", None)):
        return
    services.record_lockout(
        username=username or "",
        client_addr=ip_address or "",
        failures=failures,
        path=request.path,
        cool_off_seconds=retry_after_seconds(request),
    )
