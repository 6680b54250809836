"""The printed permit (issue 14 item 9): A4, Chinese, the CJK font embedded from the project's
own set-up, the level marked, the Annex A blocks, signatures and the QR code."""

import datetime as dt
import re
import zlib

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse

from safework.accounts.tests.factories import UserFactory
from safework.certs.models import CertState
from safework.certs.tests.factories import CertificateFactory, item
from safework.core import pdf
from safework.permits import printing, verification
from safework.permits.models import CrewAssignment, Permit
from safework.permits.tests.print_world import START, hot_work_permit
from safework.work.models import CrewRole

pytestmark = pytest.mark.django_db

A4 = (794, 1123)  # 210 × 297 mm in CSS pixels (96 per inch)


def page_text(document) -> str:
    from weasyprint.formatting_structure import boxes

    return "".join(
        box.text
        for page in document.pages
        for box in page._page_box.descendants()
        if isinstance(box, boxes.TextBox)
    )


def pdf_streams(data: bytes) -> list[bytes]:
    """Every FlateDecode stream of a PDF, inflated (object streams included)."""
    out = []
    for match in re.finditer(rb"stream\r?\n", data):
        start = match.end()
        end = data.find(b"endstream", start)
        try:
            out.append(zlib.decompressobj().decompress(data[start:end]))
        except zlib.error:
            continue
    return out


@pytest.fixture
def permit(catalogue):
    return hot_work_permit(status="approved")


@time_machine.travel(START, tick=False)
def test_the_form_has_the_annex_a_blocks_in_chinese_with_the_level_marked(permit):
    linked = hot_work_permit(number="SX20270310-004", status="approved")
    permit.linked.add(linked)
    CrewAssignment.objects.create(
        permit=permit,
        person=linked.work_leader,
        role=CrewRole.objects.get(code="gas_tester"),
        added_at=permit.created_at,
    )
    text = page_text(printing.permit_document(permit))
    for expected in [
        "一级",  # the badge
        "一级动火安全作业票",  # the title of the form
        "DH20270310-001",
        "华安检修有限公司",  # applicant unit
        "申请人",
        "自 2027年3月10日 08:00 至 2027年3月10日 16:00",
        "一号厂区 / 常减压装置 / E-101换热器出口法兰",
        "更换法兰垫片，焊接支架",
        "王负责",
        "李监护",
        "焊工1号",
        "分析人 王负责",  # another role, with its name
        "SX20270310-004",  # the linked permit
        "可燃气体泄漏引发爆炸：动火前气体分析合格",
        "动火点周围易燃物已清除",
        "✓",
        "✗",
        "赵确认",
        "0.800 %LEL",  # both gas analyses, oldest first
        "0.100 %LEL",
        "车间主任审核审批人12027-03-10 06:00是",
        "安全部门审批审批人22027-03-10 07:00否",
        "完工验收",
        "扫码核验",
    ]:
        assert expected in text, expected
    assert text.index("0.800 %LEL") < text.index("0.100 %LEL")


@time_machine.travel(START, tick=False)
def test_the_pdf_is_a4_with_the_cjk_font_embedded_and_the_qr_code(permit):
    document = printing.permit_document(permit)
    assert (round(document.pages[0].width), round(document.pages[0].height)) == A4
    data = document.write_pdf()
    assert data.startswith(b"%PDF-")
    streams = pdf_streams(data)
    objects = b"".join(s for s in streams if b"/Type" in s or b"/BaseFont" in s)
    # The font program travels in the file (FontFile2: TrueType outlines), named Noto Sans SC.
    assert re.search(rb"/BaseFont\s*/[A-Z]{6}\+Noto-Sans-SC", objects)
    assert b"/FontFile" in objects
    # The embedded glyphs map back to the title's characters (the ToUnicode tables).
    cmaps = b"".join(s for s in streams if b"begincmap" in s).lower()
    for char in "一级动火安全作业票":
        assert f"<{ord(char):04x}>".encode() in cmaps, char
    # The QR code is the one image of the form, drawn from its SVG (vector, sharp when printed).
    from weasyprint.formatting_structure import boxes

    images = [
        box.replacement
        for page in document.pages
        for box in page._page_box.descendants()
        if isinstance(box, boxes.ReplacedBox)
    ]
    assert [type(image).__name__ for image in images] == ["SVGImage"]


def test_workers_are_printed_with_their_certificates_in_force_on_the_day(catalogue):
    permit = hot_work_permit(status="approved")
    welder = permit.crew.get(role__code="worker").person
    welding = item("special_operation", "4.1")
    CertificateFactory(
        person=welder, item=welding, number="T12345678", valid_until=START.date()
    )  # last day: in force
    CertificateFactory(
        person=welder,
        item=welding,
        number="T00000001",
        issued_on=dt.date(2018, 1, 1),
        valid_until=START.date() - dt.timedelta(days=1),
    )
    CertificateFactory(
        person=welder,
        item=welding,
        number="T00000002",
        state=CertState.REVOKED,
        issued_on=dt.date(2023, 1, 1),
    )
    CertificateFactory(person=welder, item=item("internal", "GUARDIAN"), number="IN-7")
    doc = printing.printed_permit(permit)
    line = next(c for c in doc.workers if c.name == welder.name)
    assert line.certificates == [f"{welding.name} T12345678"]


def test_each_work_type_prints_its_own_form_title(catalogue):
    permit = hot_work_permit(status="approved")
    assert printing.form_title(permit) == "一级动火安全作业票"
    permit.level = None
    assert printing.form_title(permit) == "动火安全作业票"


def test_without_the_font_package_printing_says_to_run_make_install(permit, settings, tmp_path):
    settings.SAFEWORK_NODE_MODULES = tmp_path
    with pytest.raises(ImproperlyConfigured, match="make install"):
        printing.permit_pdf(permit)
    warnings = pdf.cjk_font_installed(None)
    assert [w.id for w in warnings] == ["safework.W201"]
    settings.SAFEWORK_NODE_MODULES = tmp_path.parent / "elsewhere"
    assert "make install" in warnings[0].msg


def test_the_font_check_is_quiet_when_the_font_is_installed():
    assert pdf.cjk_font_installed(None) == []


def test_only_the_subsets_a_text_needs_are_loaded():
    css = pdf.font_css("一级动火")
    faces = re.findall(r"url\('([^']+)'\)", css)
    assert faces and all(f.endswith(".woff") for f in faces)
    assert len(faces) <= 2 * 4  # at most one subset per character, in two weights
    assert pdf.font_css("") == ""


@time_machine.travel(START, tick=False)
def test_the_pdf_view_needs_a_login(permit):
    response = Client().get(reverse("permits:pdf", args=[permit.pk]))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_pdf_view_serves_the_permit_to_whoever_may_read_it(permit, admin_client):
    response = admin_client.get(reverse("permits:pdf", args=[permit.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="DH20270310-001.pdf"' in response["Content-Disposition"]
    assert response.content.startswith(b"%PDF-")


def test_the_pdf_view_refuses_a_user_without_a_right_to_permits(permit):
    client = Client()
    client.force_login(UserFactory())
    response = client.get(reverse("permits:pdf", args=[permit.pk]))
    assert response.status_code in (403, 404)
    assert not response.content.startswith(b"%PDF")


def test_the_pdf_view_of_a_permit_that_does_not_exist_is_404(admin_client):
    assert admin_client.get(reverse("permits:pdf", args=[987654])).status_code == 404


def test_the_printed_qr_code_opens_the_verification_page(permit, settings):
    settings.SAFEWORK_PUBLIC_URL = "https://safework.example.com"
    doc = printing.printed_permit(permit)
    assert doc.verify_url == verification.verification_url(permit)
    assert doc.qr.startswith("data:image/svg+xml")
    assert Permit.objects.get(pk=permit.pk) == verification.permit_for_token(
        doc.verify_url.rsplit("/", 1)[1]
    )
