"""Pages of the permits app outside the API: the public verification page (the QR code's
target, no login) and the printed permit (PDF)."""

from django.urls import path

from safework.permits import views

app_name = "permits"

urlpatterns = [
    path("verify/<str:token>", views.verify, name="verify"),
    path("<int:permit_id>/pdf", views.permit_pdf, name="pdf"),
]
