"""The permit application wizard through Django's client: a level-1 hot-work draft made with the
form, the level derived as it is filled in, a refused submission with every reason and clause on
the page, someone else's site or draft refused, bad input answered in the form in Chinese."""

import datetime as dt
import re
from pathlib import Path

import pytest
import time_machine
from django.test import Client

from safework.certs.models import Certificate
from safework.org.tests.factories import SiteFactory
from safework.permits.models import Permit
from safework.permits.tests.world import D, at, build_world
from safework.qualification import engine as qualification
from safework.work import services as work_services

pytestmark = pytest.mark.django_db
CALENDAR_2026 = Path(work_services.__file__).parent / "catalogue" / "calendar" / "2026.yaml"
NOW = at(D - dt.timedelta(days=1), 9)  # the day before the work: appointed in time


@pytest.fixture
def w(catalogue, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    qualification.clear_caches()
    work_services.load_calendar(work_services.read_calendar_file(CALENDAR_2026))
    with time_machine.travel(NOW, tick=False):
        yield build_world()


def _client(user) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    c.force_login(user)
    return c


def _form(w, **overrides) -> dict:
    data = {
        "work_type": "hot_work",
        "level": "level1",
        "site": w.site.pk,
        "area": w.area.pk,
        "place": "一号装置 P-101 泵出口管线",
        "latitude": "31.230500",
        "longitude": "121.473700",
        "content": "更换泵出口法兰，焊接",
        "open_air": "on",
        "i_height_m": "0.5",
        "f_method": "welding",
        "planned_start": "2026-03-10T10:00",
        "planned_end": "2026-03-10T17:00",
        "work_unit": w.dept.pk,
        "work_leader": w.leader.id_number,
        "person_0": w.leader.id_number,
        "role_0": "site_lead",
        "person_1": w.welder.id_number,
        "role_1": "worker",
        "person_2": w.guardian.id_number,
        "role_2": "guardian",
        "person_3": w.tester.id_number,
        "role_3": "gas_tester",
        "measures_extra": "动火点下方铺设防火毯",
        "hazard_0": "法兰残液",
        "controls_0": "排净、置换、盲板隔离",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _draft(w, c, **overrides) -> Permit:
    response = c.post("/work-permits/new/", _form(w, **overrides))
    assert response.status_code == 302, response.content.decode()[:3000]
    permit = Permit.objects.get()
    assert response["Location"] == f"/work-permits/{permit.pk}/edit/"
    return permit


def test_a_level_1_hot_work_draft_is_made_through_the_form(w):
    c = _client(w.user("applicant"))
    assert c.get("/work-permits/new/").status_code == 200
    page = c.get("/work-permits/new/?type=hot_work")
    assert page.status_code == 200 and 'name="f_method"' in page.content.decode()

    permit = _draft(w, c)
    assert (permit.work_type.code, permit.level.code) == ("hot_work", "level1")
    assert permit.status == "draft"
    assert permit.applicant == w.user("applicant") and permit.work_leader == w.leader
    assert permit.fields == {"method": "welding"} and permit.inputs["height_m"] == 0.5
    assert str(permit.latitude) == "31.230500"
    crew = {(c.person_id, c.role.code) for c in permit.crew.all()}
    assert (w.welder.pk, "worker") in crew and (w.guardian.pk, "guardian") in crew
    # The type's checklist and JSA template, plus the applicant's additions.
    assert permit.measures.filter(code="hot.blind").exists()
    assert permit.measures.filter(text="动火点下方铺设防火毯").exists()
    assert permit.risks.filter(from_template=True).exists()
    assert permit.risks.filter(hazard="法兰残液").exists()

    edit = c.get(f"/work-permits/{permit.pk}/edit/")
    text = edit.content.decode()
    assert edit.status_code == 200 and w.welder.id_number in text and "法兰残液" in text


def test_the_level_is_derived_as_the_form_is_filled_in(w):
    c = _client(w.user("applicant"))
    answer = c.post("/work-permits/new/check/", _form(w, level=""))
    text = answer.content.decode()
    assert answer.status_code == 200
    assert 'data-level="level1"' in text  # a fire/explosion hazardous area: level 1
    assert "GB 30871-2022" in text
    # The crew, each with the engine's answer for the window.
    assert text.count('data-allowed="true"') == 4

    special = c.post("/work-permits/new/check/", _form(w, level="", i_running_unit="on"))
    assert 'data-level="special"' in special.content.decode()

    lower = c.post("/work-permits/new/check/", _form(w, level="level2"))
    text = lower.content.decode()
    assert 'data-level="refused"' in text and 'data-code="work.level.below_derived"' in text

    unknown = c.post("/work-permits/new/check/", _form(w, level="level3"))
    assert 'data-code="work.level.unknown"' in unknown.content.decode()


def test_a_submission_with_the_welders_expired_certificate_is_refused_on_the_page(w):
    c = _client(w.user("applicant"))
    permit = _draft(w, c)
    Certificate.objects.filter(person=w.welder).update(valid_until=D - dt.timedelta(days=2))
    qualification.clear_caches()

    live = c.post("/work-permits/new/check/", _form(w))
    text = live.content.decode()
    assert 'data-allowed="false"' in text and w.welder.name in text

    response = c.post(f"/work-permits/{permit.pk}/submit/")
    assert response.status_code == 409
    text = response.content.decode()
    assert 'id="refusals"' in text
    assert 'data-code="cert.expired"' in text and w.welder.name in text
    assert "安监总局令第30号" in text  # the clause of the catalogue row that said no
    permit.refresh_from_db()
    assert permit.status == "draft" and not permit.number


def test_a_good_draft_is_submitted_and_numbered(w):
    c = _client(w.user("applicant"))
    permit = _draft(w, c)
    response = c.post(f"/work-permits/{permit.pk}/submit/")
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"] == f"/work-permits/{permit.pk}/"
    permit.refresh_from_db()
    assert permit.number.startswith("DH") and permit.status == "in_approval"
    # No longer a draft: the edit page sends back to the permit.
    assert c.get(f"/work-permits/{permit.pk}/edit/")["Location"] == f"/work-permits/{permit.pk}/"


def test_a_draft_is_edited_and_an_attachment_added(w):
    c = _client(w.user("applicant"))
    permit = _draft(w, c)
    response = c.post(f"/work-permits/{permit.pk}/edit/", _form(w, place="二号泵房"))
    assert response.status_code == 302
    permit.refresh_from_db()
    assert permit.place == "二号泵房"
    upload = c.post(
        f"/work-permits/{permit.pk}/attachments/",
        {"file": _file("plan.pdf", b"%PDF-1.4 test"), "name": "作业方案"},
    )
    assert upload.status_code == 302
    assert permit.attachments.get().name == "作业方案"
    bad = c.post(
        f"/work-permits/{permit.pk}/attachments/", {"file": _file("x.exe", b"MZ")}, follow=True
    )
    assert "文档或图片" in bad.content.decode() or "附加" in bad.content.decode()


def _file(name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


def test_someone_elses_site_or_draft_is_not_found(w):
    c = _client(w.user("applicant"))
    elsewhere = SiteFactory()
    assert c.post("/work-permits/new/", _form(w, site=elsewhere.pk, area="")).status_code == 404
    permit = _draft(w, c)
    stranger = _client(_outsider(elsewhere))
    assert stranger.get(f"/work-permits/{permit.pk}/edit/").status_code == 404
    assert stranger.post(f"/work-permits/{permit.pk}/submit/").status_code == 404


def _outsider(site):
    from safework.accounts.models import User
    from safework.accounts.tests.factories import RoleGrantFactory

    user = User.objects.create(username="outsider")
    RoleGrantFactory(user=user, role="team_leader", site=site)
    return user


def test_a_user_without_the_apply_permission_is_forbidden(w):
    c = _client(w.user("principal"))
    assert c.get("/work-permits/new/").status_code == 403


def test_bad_input_is_answered_in_the_form_in_chinese(w):
    c = _client(w.user("applicant"))
    response = c.post(
        "/work-permits/new/",
        _form(
            w,
            place="",
            planned_end="2026-03-10T09:00",
            f_method="",
            person_1="没有这个人",
            latitude="abc",
        ),
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "此字段为必填项" in text  # the place and the method
    assert "输入一个数字" in text  # the latitude
    assert "在您的权限范围内没有此姓名或身份证号的人员" in text
    assert not Permit.objects.exists()
    # The service's field errors too: the end before the start.
    response = c.post("/work-permits/new/", _form(w, planned_end="2026-03-10T09:00"))
    assert response.status_code == 200
    assert "计划结束时间必须晚于计划开始时间" in response.content.decode()
    assert not Permit.objects.exists()


def test_an_enterprise_field_is_in_the_form_and_checked_by_its_schema(w):
    from safework.work.models import PermitFieldSchema, WorkType

    PermitFieldSchema.objects.create(
        work_type=WorkType.objects.get(code="hot_work"),
        code="fire_watch",
        name="消防监护",
        schema={
            "type": "object",
            "properties": {
                "fire_watch_phone": {"type": "string", "title": "消防值班电话", "minLength": 5}
            },
            "required": ["fire_watch_phone"],
        },
    )
    c = _client(w.user("applicant"))
    page = c.get("/work-permits/new/?type=hot_work").content.decode()
    assert 'name="f_fire_watch_phone"' in page and "消防值班电话" in page
    response = c.post("/work-permits/new/", _form(w, f_fire_watch_phone="119"))
    assert response.status_code == 200 and not Permit.objects.exists()
    assert "至少 5 个字符" in response.content.decode()  # the schema's minLength, in Chinese
    permit = _draft(w, c, f_fire_watch_phone="0512-119119")
    assert permit.fields["fire_watch_phone"] == "0512-119119"


@pytest.mark.parametrize(
    "code", ["hot_work", "height", "lifting", "excavation", "confined_space", "blinding"]
)
def test_every_work_type_has_its_form_and_a_half_filled_form_is_checked_without_error(w, code):
    c = _client(w.user("applicant"))
    page = c.get(f"/work-permits/new/?type={code}")
    assert page.status_code == 200
    half = c.post(
        "/work-permits/new/check/", {"work_type": code, "site": w.site.pk, "i_height_m": "x"}
    )
    assert half.status_code == 200 and 'id="apply-level"' in half.content.decode()
    empty = c.post("/work-permits/new/", {"work_type": code})
    assert empty.status_code == 200 and "此字段为必填项" in empty.content.decode()


def test_a_contractor_manager_applies_for_their_own_company_only(w):
    from safework.accounts.models import User
    from safework.accounts.tests.factories import RoleGrantFactory
    from safework.people.tests.factories import EngagementFactory

    own = EngagementFactory(site=w.site).contractor
    other = EngagementFactory(site=w.site).contractor
    manager = User.objects.create(username="contractor_manager")
    RoleGrantFactory(user=manager, role="contractor_manager", contractor=own)
    c = _client(manager)
    page = c.get("/work-permits/new/?type=hot_work").content.decode()
    assert f'<option value="{own.pk}"' in page and f'<option value="{other.pk}"' not in page
    mine = {"work_unit": "", "contractor": own.pk, "work_leader": "", "person_0": ""}
    for i in range(1, 4):
        mine[f"person_{i}"] = ""
    theirs = {**mine, "contractor": other.pk}
    assert c.post("/work-permits/new/", _form(w, **theirs)).status_code == 404
    response = c.post("/work-permits/new/", _form(w, **mine))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Permit.objects.get().contractor == own


def _plan_of(html: str, site_pk: int) -> str:
    start = html.index(f'<div data-site="{site_pk}"')
    return html[start : html.index("</svg>", start)]


def _attr(svg: str, name: str) -> float:
    return float(re.search(rf'{name}="([-0-9.]+)"', svg).group(1))


def test_the_site_plan_draws_the_fences_of_the_sites_in_scope_only(w):
    from safework.org.tests.factories import AreaFactory

    square = [[31.231, 121.475], [31.231, 121.477], [31.233, 121.477], [31.233, 121.475]]
    tank_farm = AreaFactory(site=w.site, name="罐区", polygon=square)
    closed = AreaFactory(site=w.site, name="停用装置", polygon=square, is_active=False)
    unfenced = AreaFactory(site=w.site, name="无围栏")
    elsewhere = AreaFactory(name="别厂装置", polygon=square)
    html = _client(w.user("applicant")).get("/work-permits/new/?type=hot_work").content.decode()

    assert f'<div data-site="{elsewhere.site_id}"' not in html
    assert f'data-area="{elsewhere.pk}"' not in html
    plan = _plan_of(html, w.site.pk)
    assert f'data-area="{w.area.pk}"' in plan and "一号装置" in plan
    assert f'data-area="{tank_farm.pk}"' in plan and "罐区" in plan
    assert f'data-area="{closed.pk}"' not in html
    assert f'data-area="{unfenced.pk}"' not in html
    # A tap at the drawn centre of the area's circle is the area's centre (apply.js's inverse).
    scale, cos = _attr(plan, "data-scale"), _attr(plan, "data-cos")
    cx, cy = _attr(plan, "cx"), _attr(plan, "cy")
    lat = _attr(plan, "data-max-lat") - cy / scale
    lon = _attr(plan, "data-min-lon") + cx / (scale * cos)
    assert abs(lat - float(w.area.center_latitude)) < 2e-5
    assert abs(lon - float(w.area.center_longitude)) < 2e-5
    # Its radius: 200 m (a degree of latitude is about 111.2 km).
    assert abs(_attr(plan, " r") / scale * 111_195 - 200) < 1


def test_a_draft_page_leads_back_to_the_wizard_and_the_ledger_to_a_new_application(w):
    c = _client(w.user("applicant"))
    permit = _draft(w, c)
    edit = f'href="/work-permits/{permit.pk}/edit/"'
    assert edit in c.get(f"/work-permits/{permit.pk}/").content.decode()
    button = 'id="apply-new" href="/work-permits/new/">申请作业票</a>'
    assert button in c.get("/work-permits/").content.decode()
    # Someone who may read permits but not apply sees neither.
    reader = _client(w.user("principal"))
    page = reader.get(f"/work-permits/{permit.pk}/")
    assert page.status_code == 200 and edit not in page.content.decode()
    ledger = reader.get("/work-permits/")
    assert ledger.status_code == 200 and 'id="apply-new"' not in ledger.content.decode()
    # Submitted, no longer a draft: no edit link.
    c.post(f"/work-permits/{permit.pk}/submit/")
    assert edit not in c.get(f"/work-permits/{permit.pk}/").content.decode()
