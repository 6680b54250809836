import pytest
from django.utils import timezone


@pytest.fixture
def _web_settings(settings, tmp_path):
    """A var/ of the test's own and a fast password hasher (the demo hashes a dozen passwords)."""
    settings.VAR_DIR = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def demo(db, _web_settings):
    """The demo enterprise as `make run` seeds it, its stories told relative to today (the
    browser tests' server runs on the real clock): logins by username → (role, password)."""
    from safework.demo.enterprise import seed_demo

    result = seed_demo(today=timezone.localdate())
    return {username: (role, password) for role, username, password in result.logins}
