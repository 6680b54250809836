from safework.core.audit import client_addr_var


class AuditContextMiddleware:
    """Makes the client address of the request available to `audit.record`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = client_addr_var.set(request.META.get("REMOTE_ADDR", ""))
        try:
            return self.get_response(request)
        finally:
            client_addr_var.reset(token)
