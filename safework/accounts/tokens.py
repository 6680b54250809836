"""API tokens: how they are made, recognised and narrowed (the writes are in services).

A token reads `sw_<prefix>_<secret>`: the prefix (12 hex digits) finds the row, and the row keeps
only HMAC-SHA256 of the whole token under `settings.API_TOKEN_KEY`. The secret is 256 random
bits, so a fast keyed hash is enough (a slow password hash would add CPU cost to every API call
and nothing against guessing); the key, kept outside the database, means a copy of the table
alone cannot even confirm a guess.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from safework.accounts import matrix
from safework.accounts.models import ApiToken

SCHEME = "sw"


@dataclass(frozen=True)
class NewToken:
    raw: str  # shown once, never stored
    prefix: str
    digest: str


def digest_of(raw: str) -> str:
    return hmac.new(settings.API_TOKEN_KEY.encode(), raw.encode(), hashlib.sha256).hexdigest()


def generate() -> NewToken:
    prefix = secrets.token_hex(6)
    raw = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewToken(raw=raw, prefix=prefix, digest=digest_of(raw))


def prefix_of(raw: str) -> str | None:
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != SCHEME or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1]


def usable(token: ApiToken, *, at: datetime) -> bool:
    """Not revoked, not expired (the expiry instant itself is past), and its user active."""
    if token.revoked_at is not None:
        return False
    if token.expires_at is not None and at >= token.expires_at:
        return False
    return token.user.is_active


def find(raw: str, *, at: datetime) -> ApiToken | None:
    """The usable token `raw` is, or None. A wrong secret on a real prefix is None too."""
    prefix = prefix_of(raw)
    if prefix is None:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.digest, digest_of(raw)):
        return None
    return token if usable(token, at=at) else None


def allows(token: ApiToken, resource: str, action: str) -> bool:
    """What a token adds to its owner's permissions: only narrowing. A token never manages
    tokens, so a leaked one cannot mint a successor that outlives its revocation."""
    if resource == matrix.TOKENS and action == matrix.WRITE:
        return False
    if token.read_only and action != matrix.READ:  # approve, sign, … change things too
        return False
    return not token.resources or resource in token.resources
