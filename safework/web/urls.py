from django.urls import path

from safework.web import dashboard_views, notify_views, permit_views, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("persons/", views.person_list, name="persons"),
    path("persons/<int:person_id>/", views.person_detail, name="person"),
    path("certificates/", views.certificate_list, name="certificates"),
    path("certificates/export/", views.certificate_export, name="certificate_export"),
    path("reports/<int:job_id>/", views.report_detail, name="report"),
    path("reports/<int:job_id>/file/", views.report_file, name="report_file"),
    path("qualification/", views.qualification_check, name="qualification"),
    path("imports/", views.import_list, name="imports"),
    path("imports/template/", views.import_template, name="import_template"),
    path("imports/<int:job_id>/", views.import_detail, name="import"),
    path("imports/<int:job_id>/errors/", views.import_errors, name="import_errors"),
    path(
        "imports/<int:job_id>/approve/",
        views.import_review,
        {"decision": "approve"},
        name="import_approve",
    ),
    path(
        "imports/<int:job_id>/reject/",
        views.import_review,
        {"decision": "reject"},
        name="import_reject",
    ),
    path("contractor/", views.contractor_portal, name="contractor"),
    path("rosters/", views.roster_list, name="rosters"),
    path("rosters/template/", views.roster_template, name="roster_template"),
    path("rosters/<int:roster_id>/", views.roster_detail, name="roster"),
    path("verifications/", views.verification_list, name="verifications"),
    path("verifications/<int:batch_id>/", views.verification_detail, name="verification"),
    path("work-permits/", permit_views.permit_list, name="permits"),
    path("work-permits/<int:permit_id>/", permit_views.permit_detail, name="permit"),
    path("inbox/", notify_views.inbox, name="inbox"),
    path("inbox/<int:notice_id>/read/", notify_views.notice_read, name="notice_read"),
    path(
        "inbox/<int:notice_id>/acknowledge/",
        notify_views.notice_acknowledge,
        name="notice_acknowledge",
    ),
    path("inbox/explain/", notify_views.explain, name="explain"),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
]
