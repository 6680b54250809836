"""Deployment security by configuration: HTTPS settings from the environment give a clean
`check --deploy`; the development defaults still serve plain http://127.0.0.1:8000; the
Content-Security-Policy lets the admin and the API docs load everything they need."""

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.test import Client

from safework.accounts.models import User

PRODUCTION = {
    "SAFEWORK_HTTPS": "1",
    "SAFEWORK_ALLOWED_HOSTS": "safework.example.com",
    "SAFEWORK_CSRF_TRUSTED_ORIGINS": "https://safework.example.com",
    "SAFEWORK_PROXY_COUNT": "1",
}


def check_deploy(tmp_path, extra: dict):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAFEWORK_", "DATABASE_URL"))}
    env |= {"SAFEWORK_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "safework.settings"}
    env |= extra
    return subprocess.run(
        [sys.executable, str(django_settings.BASE_DIR / "manage.py"), "check", "--deploy"]
        + ["--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_readme_variables_give_a_clean_check_deploy(tmp_path):
    proc = check_deploy(tmp_path, PRODUCTION)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues" in proc.stdout + proc.stderr


def test_without_them_check_deploy_names_what_is_missing(tmp_path):
    proc = check_deploy(tmp_path, {})
    assert proc.returncode != 0
    found = set(re.findall(r"security\.W\d+", proc.stdout + proc.stderr))
    assert {"security.W004", "security.W008", "security.W012", "security.W016"} <= found


def test_the_development_defaults_serve_plain_http(db):
    response = Client().get("/admin/login/", HTTP_HOST="127.0.0.1:8000")
    assert response.status_code == 200  # no redirect to https
    assert "Strict-Transport-Security" not in response
    assert not response.cookies["csrftoken"]["secure"]


def test_https_settings_redirect_and_send_hsts(db, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    plain = Client().get("/admin/login/", HTTP_HOST="127.0.0.1:8000")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    proxied = Client().get(
        "/admin/login/", HTTP_HOST="127.0.0.1:8000", HTTP_X_FORWARDED_PROTO="https"
    )
    assert proxied.status_code == 200
    assert proxied["Strict-Transport-Security"].startswith("max-age=31536000")


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in header.split("; ")}


@pytest.fixture
def admin_client(db):
    user = User.objects.create(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "path", ["/admin/login/", "/admin/", "/admin/accounts/user/", "/api/v1/docs"]
)
def test_pages_run_under_the_content_security_policy(admin_client, path):
    response = (Client() if path == "/admin/login/" else admin_client).get(path)
    assert response.status_code == 200, path
    csp = policy(response)
    assert csp["default-src"] == ["'self'"] and csp["object-src"] == ["'none'"]
    # The nonce is in the header only when the page used it.
    found = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])
    nonce = found.group(1) if found else "(none)"
    html = response.content.decode()
    # Every executable inline script or style carries this response's nonce (JSON data blocks
    # are not executed); scripts, styles and images come from SafeWork itself.
    for tag, attrs in re.findall(r"<(script|style)\b([^>]*)>", html):
        if "src=" in attrs or 'type="application/json"' in attrs:
            continue
        assert f'nonce="{nonce}"' in attrs, (path, tag, attrs)
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not re.match(r"(https?:)?//", url), (path, url)
    assert not re.search(r"\son[a-z]+=", html), path  # no inline event handlers
