"""The web pages through Django's test client on the demo data: every page answers for every
role (no 500), visibility is the API's (another contractor's person is a 404), ID numbers are
masked for roles that may not see them, and forms reach the same services as the API."""

import pytest
from django.test import Client
from django.urls import reverse

from safework.accounts.models import User
from safework.people.models import Person

PAGES = [
    "web:home",
    "web:persons",
    "web:certificates",
    "web:qualification",
    "web:imports",
    "web:rosters",
    "web:verifications",
]


def client_for(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def test_pages_need_a_login(db):
    response = Client().get(reverse("web:persons"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))


def test_login_with_the_form_then_home(demo):
    password = demo["demo_safety_officer"][1]
    client = Client()
    response = client.post(
        reverse("web:login"), {"username": "demo_safety_officer", "password": password}
    )
    assert response.status_code == 302
    assert client.get(reverse("web:home")).status_code == 200


def test_wrong_passwords_lock_the_login(demo, settings):
    client = Client()
    url = reverse("web:login")
    codes = [
        client.post(url, {"username": "demo_safety_officer", "password": "wrong"}).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert codes[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert codes[-1] == 429
    right = demo["demo_safety_officer"][1]
    response = client.post(url, {"username": "demo_safety_officer", "password": right})
    assert response.status_code == 429


@pytest.mark.parametrize(
    "username",
    [
        "demo_worker",
        "demo_team_leader",
        "demo_workshop_head",
        "demo_safety_officer",
        "demo_safety_head",
        "demo_principal",
        "demo_contractor_manager",
        "demo_inspector",
        "demo_admin",
    ],
)
def test_every_page_answers_every_role(demo, username):
    client = client_for(username)
    for name in PAGES:
        status = client.get(reverse(name)).status_code
        assert status in (200, 403), (name, status)
    home = client.get(reverse("web:home"))
    assert home.status_code == 200
    assert "Content-Security-Policy" in home


def test_navigation_offers_only_permitted_pages(demo):
    worker_home = client_for("demo_worker").get(reverse("web:home")).content.decode()
    assert reverse("web:imports") not in worker_home
    officer_home = client_for("demo_safety_officer").get(reverse("web:home")).content.decode()
    assert reverse("web:imports") in officer_home


def _staff_of(username_of_manager: str) -> Person:
    manager = User.objects.get(username=username_of_manager)
    contractor_id = manager.grants.get().contractor_id
    return Person.objects.filter(current_employment__contractor_id=contractor_id).first()


def test_contractor_manager_cannot_open_another_contractors_person(demo):
    own = _staff_of("demo_contractor_manager")
    other = _staff_of("demo_contractor_manager_2")
    client = client_for("demo_contractor_manager")
    assert client.get(reverse("web:person", args=[own.pk])).status_code == 200
    assert client.get(reverse("web:person", args=[other.pk])).status_code == 404
    listing = client.get(reverse("web:persons")).content.decode()
    assert other.name not in listing or other.name == own.name
    portal = client.get(reverse("web:contractor"))
    assert portal.status_code == 200
    assert own.name in portal.content.decode()


def test_the_contractor_portal_is_a_contractor_managers_page(demo):
    assert client_for("demo_safety_officer").get(reverse("web:contractor")).status_code == 404


def test_id_numbers_masked_for_the_inspector_full_for_the_safety_officer(demo):
    person = _staff_of("demo_contractor_manager")
    url = reverse("web:person", args=[person.pk])
    inspector = client_for("demo_inspector").get(url).content.decode()
    officer = client_for("demo_safety_officer").get(url).content.decode()
    assert person.id_number not in inspector
    assert person.id_number[:6] + "********" + person.id_number[-4:] in inspector
    assert person.id_number in officer


def test_person_search_partial_for_htmx(demo):
    person = _staff_of("demo_contractor_manager")
    client = client_for("demo_safety_officer")
    response = client.get(reverse("web:persons"), {"q": person.name}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="results">')
    assert person.name in body
    assert "<html" not in body


def test_red_certificates_filter_shows_only_red(demo):
    client = client_for("demo_safety_officer")
    response = client.get(reverse("web:certificates"), {"colour": "red"})
    rows = response.context["rows"]
    assert rows
    assert {r["colour"] for r in rows} == {"red"}


def test_certificate_export_builds_the_file(demo, django_capture_on_commit_callbacks):
    client = client_for("demo_safety_officer")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("web:certificate_export"), {"colour": ""})
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.context["job"].status == "succeeded"
    download = client.get(reverse("web:report_file", args=[page.context["job"].pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content)[:2] == b"PK"  # an xlsx is a zip
    download.close()


def test_english_on_request_chinese_by_default(demo):
    client = client_for("demo_safety_officer")
    assert "退出登录" in client.get(reverse("web:home")).content.decode()
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Log out" in client.get(reverse("web:home")).content.decode()


def test_list_pages_read_a_fixed_number_of_queries_whatever_the_rows(demo):
    """One row or a full page of 25: the same queries (no query per row)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from safework.certs.models import Certificate

    client = client_for("demo_admin")
    cert = Certificate.objects.select_related("person").order_by("pk").first()

    def queries(path, params):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path, params)
        assert response.status_code == 200
        return len(ctx.captured_queries), len(response.context["rows"])

    one_person = queries("/persons/", {"q": cert.person.id_number})
    all_persons = queries("/persons/", {})
    assert (one_person[1], all_persons[1]) == (1, 25)
    assert one_person[0] == all_persons[0]
    one_cert = queries("/certificates/", {"number": cert.number})
    all_certs = queries("/certificates/", {})
    assert 1 <= one_cert[1] < all_certs[1] == 25
    assert one_cert[0] == all_certs[0]


def _expired_welder(officer):
    from django.utils import timezone

    from safework.accounts.scope import scope_for
    from safework.certs import queries as cert_queries

    scope = scope_for(officer, "certificates", "read")
    return (
        cert_queries.with_status(
            cert_queries.certificates_visible_to(scope).select_related("person"),
            on=timezone.localdate(),
        )
        .filter(item__code="2.1", status="expired")
        .order_by("pk")
        .first()
        .person
    )


def test_qualification_form_names_the_refusal_and_its_clause(demo):
    from django.utils import timezone

    from safework.work.models import WorkType

    officer = User.objects.get(username="demo_safety_officer")
    welder = _expired_welder(officer)
    data = {
        "work_type": WorkType.objects.get(code="hot_work").pk,
        "level": "level2",
        "site": officer.grants.get().site_id,
        "at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "height_m": "0",
        "hot_work_method": "welding",
        "person_0": welder.id_number,
        "role_0": "worker",
    }
    response = client_for("demo_safety_officer").post(
        reverse("web:qualification"), data, HTTP_HX_REQUEST="true"
    )
    result = response.context["result"]
    assert result["allowed"] is False
    [member] = result["members"]
    expired = [r for r in member["reasons"] if r["code"] == "cert.expired"]
    assert expired and "安监总局令第30号" in expired[0]["clause"]
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="result"')
    assert expired[0]["clause"] in body


def test_qualification_form_refuses_someone_outside_the_scope(demo):
    other = _staff_of("demo_contractor_manager_2")
    data = {"person_0": other.id_number, "role_0": "worker"}
    response = client_for("demo_contractor_manager").post(reverse("web:qualification"), data)
    assert response.status_code == 200
    assert response.context["result"] is None
    assert response.context["form"].errors["person_0"]


def test_roster_upload_shows_its_problems_and_refuses_bad_rows(demo):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    officer = User.objects.get(username="demo_safety_officer")
    welder = _expired_welder(officer)
    on = timezone.localdate().isoformat()
    header = "身份证号,日期,作业类型,级别,角色,作业高度(m),动火方式\n"
    client = client_for("demo_safety_officer")
    good = SimpleUploadedFile(
        "排班.csv", (header + f"{welder.id_number},{on},动火作业,二级,作业人,0,焊接\n").encode()
    )
    response = client.post(reverse("web:rosters"), {"file": good, "name": "本周排班"})
    assert response.status_code == 302
    page = client.get(response["Location"])
    [problem] = page.context["problems"]
    assert "cert.expired" in {r["code"] for r in problem["reasons"]}
    assert welder.name in page.content.decode()

    bad = SimpleUploadedFile(
        "排班.csv", (header + f"110105194912310021,{on},动火作业,二级,作业人,0,焊接\n").encode()
    )
    response = client.post(reverse("web:rosters"), {"file": bad})
    assert response.status_code == 200
    assert response.context["form"].row_errors


def test_contractor_upload_waits_for_the_safety_officers_review(
    demo, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from safework.ledger.models import ImportJob
    from safework.ledger.testing import BENCH_HEADER, xlsx_bytes

    staff = _staff_of("demo_contractor_manager")
    today = timezone.localdate()
    rows = [
        BENCH_HEADER,
        [
            1,
            staff.name,
            staff.id_number,
            "",
            "2.1",
            "T" + staff.id_number,
            today,
            today,
            today.replace(year=today.year + 6),
            "测试发证机关",
        ],
    ]
    manager = client_for("demo_contractor_manager")
    upload = SimpleUploadedFile("台账.xlsx", xlsx_bytes(rows))
    with django_capture_on_commit_callbacks(execute=True):
        response = manager.post(reverse("web:imports"), {"file": upload})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    job.refresh_from_db()
    assert job.status == "pending_review"
    officer = client_for("demo_safety_officer")
    home = officer.get(reverse("web:home"))
    assert job in home.context["pending_reviews"]
    assert manager.get(reverse("web:import", args=[job.pk])).context["may_review"] is False
    assert officer.get(reverse("web:import", args=[job.pk])).context["may_review"] is True
    refused = manager.post(reverse("web:import_approve", args=[job.pk]), follow=True)
    assert [str(m) for m in refused.context["messages"]]  # the service's reason, with its clause
    job.refresh_from_db()
    assert job.status == "pending_review"
    with django_capture_on_commit_callbacks(execute=True):
        officer.post(reverse("web:import_approve", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == "succeeded"
