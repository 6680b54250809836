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
