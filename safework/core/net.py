"""The client's network address, as login protection and the audit trail record it."""

from django.conf import settings


def client_address(request) -> str:
    """The address of the client that sent `request`.

    Without a proxy (SAFEWORK_PROXY_COUNT=0) the peer's address. Behind N proxies, each appending
    the address it received from to X-Forwarded-For, the N-th entry from the right: entries
    further left were written by the client and can be anything.
    """
    peer = request.META.get("REMOTE_ADDR", "")
    count = settings.PROXY_COUNT
    if count <= 0:
        return peer
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [a for a in forwarded if a]
    return forwarded[-count] if len(forwarded) >= count else peer
