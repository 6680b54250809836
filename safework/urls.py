from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from safework.api import api

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("permits/", include("safework.permits.urls")),
]
