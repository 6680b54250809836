"""What every page's layout needs: the navigation entries the user may open."""

from safework.web import nav


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or request.path.startswith(("/admin/", "/api/")):
        return {}
    return {"nav_entries": nav.visible_entries(request)}
