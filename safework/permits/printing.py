"""The printed permit (issue 14 item 9): an A4 PDF in the layout of the forms of GB 30871-2022
Annex A (gb30871.md "Permit form fields"), in Chinese, with the CJK font embedded, the level
marked in the title and in a badge, every signature with its time, and the QR code of the
public verification page.

    pdf: bytes = permit_pdf(permit)        # ~0.2–0.4 s (bench: permits_bench)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from safework.certs.models import Certificate, CertState
from safework.core.pdf import render_document
from safework.permits import verification
from safework.permits.models import (
    Blind,
    Briefing,
    CrewAssignment,
    GasTest,
    MeasureItem,
    Permit,
    RiskItem,
    Signature,
    SignatureAction,
    StepStatus,
)

# The form titles of Annex A, per work type code; another type prints "<name> permit".
FORM_TITLES = {
    "hot_work": _("Hot work safety permit"),
    "confined_space": _("Confined space safety permit"),
    "blinding": _("Blinding safety permit"),
    "height": _("Work at height safety permit"),
    "lifting": _("Lifting safety permit"),
    "temporary_power": _("Temporary power safety permit"),
    "excavation": _("Excavation safety permit"),
    "road_closure": _("Road closure safety permit"),
}

# Crew roles with their own line on the form; every other role is listed under "others".
WORKER, GUARDIAN, GAS_TESTER = "worker", "guardian", "gas_tester"

# The signatures of the completion block at the foot of the form.
COMPLETION = (SignatureAction.COMPLETE, SignatureAction.ACCEPT, SignatureAction.CLOSE)


@dataclass
class CrewLine:
    name: str
    role: str
    certificates: list[str] = field(default_factory=list)


@dataclass
class PrintedPermit:
    """Everything the form shows, read in a constant number of queries."""

    permit: Permit
    title: str
    applicant: str
    work_unit: str
    workers: list[CrewLine]
    guardians: list[CrewLine]
    gas_testers: list[CrewLine]
    others: list[CrewLine]
    linked_numbers: list[str]
    risks: list[RiskItem]
    measures: list[MeasureItem]
    briefings: list[Briefing]
    gas_tests: list[GasTest]
    blinds: list[Blind]
    approvals: list[Signature]
    completion: list[Signature]
    qr: str
    verify_url: str
    printed_at: datetime
    status_label: str


def _user_label(user) -> str:
    if user is None:
        return ""
    person = getattr(user, "person", None)
    return person.name if person is not None else (user.get_full_name() or user.username)


def form_title(permit: Permit) -> str:
    """E.g. "一级动火安全作业票": the level first, as the standard's forms are named by it."""
    base = FORM_TITLES.get(permit.work_type.code)
    if base is None:
        base = _("%(type)s permit") % {"type": permit.work_type.name}
    level = permit.level.name if permit.level_id else ""
    return f"{level}{base}"


def filename(permit: Permit) -> str:
    return f"{permit.number or f'permit-{permit.pk}'}.pdf"


def _load(permit_id: int) -> Permit:
    return (
        Permit.objects.select_related(
            "work_type",
            "level",
            "site",
            "area",
            "work_unit",
            "contractor",
            "work_leader",
            "applicant__person",
        )
        .prefetch_related(
            Prefetch(
                "crew",
                CrewAssignment.objects.filter(removed_at__isnull=True)
                .select_related("person", "role")
                .order_by("id"),
            ),
            Prefetch("linked", Permit.objects.only("id", "number").order_by("number")),
            Prefetch("risks", RiskItem.objects.order_by("order", "id")),
            Prefetch(
                "measures",
                MeasureItem.objects.select_related("confirmer").order_by("order", "id"),
            ),
            Prefetch(
                "briefings",
                Briefing.objects.select_related("briefer")
                .prefetch_related("recipients")
                .order_by("at"),
            ),
            Prefetch(
                "gas_tests", GasTest.objects.select_related("tester").order_by("taken_at", "id")
            ),
            Prefetch("blinds", Blind.objects.order_by("id")),
            Prefetch(
                "signatures",
                Signature.objects.exclude(step__status=StepStatus.VOID)
                .select_related("step")
                .order_by("at", "id"),
            ),
        )
        .get(pk=permit_id)
    )


def _certificates(person_ids: set[int], on) -> dict[int, list[str]]:
    """Numbers of the public-registry certificates in force on the day, per person (the form asks
    for the certificate numbers; the enterprise's own trainings are not those)."""
    numbers: dict[int, list[str]] = defaultdict(list)
    rows = (
        Certificate.objects.filter(
            person_id__in=person_ids,
            state=CertState.ACTIVE,
            scheme__has_registry=True,
            valid_from__lte=on,
            valid_until__gte=on,
        )
        .select_related("item")
        .order_by("person_id", "item__code", "number")
    )
    for cert in rows:
        label = f"{cert.item.name} {cert.number}" if cert.item_id else cert.number
        numbers[cert.person_id].append(label)
    return numbers


def printed_permit(permit: Permit, *, request=None, at: datetime | None = None) -> PrintedPermit:
    """The content of the printed form of a permit, as read at `at` (default now)."""
    at = at or timezone.now()
    p = _load(permit.pk)
    crew = list(p.crew.all())
    certs = _certificates({c.person_id for c in crew}, timezone.localtime(p.planned_start).date())
    lines: dict[str, list[CrewLine]] = defaultdict(list)
    for member in crew:
        line = CrewLine(member.person.name, member.role.name, certs.get(member.person_id, []))
        key = member.role.code if member.role.code in (WORKER, GUARDIAN, GAS_TESTER) else "other"
        lines[key].append(line)
    signatures = list(p.signatures.all())
    unit = p.contractor.name if p.contractor_id else (p.work_unit.name if p.work_unit_id else "")
    return PrintedPermit(
        permit=p,
        title=form_title(p),
        applicant=_user_label(p.applicant),
        work_unit=unit,
        workers=lines[WORKER],
        guardians=lines[GUARDIAN],
        gas_testers=lines[GAS_TESTER],
        others=lines["other"],
        linked_numbers=[q.number or f"#{q.pk}" for q in p.linked.all()],
        risks=list(p.risks.all()),
        measures=list(p.measures.all()),
        briefings=list(p.briefings.all()),
        gas_tests=list(p.gas_tests.all()),
        blinds=list(p.blinds.all()),
        approvals=[s for s in signatures if s.action == SignatureAction.APPROVE],
        completion=[s for s in signatures if s.action in COMPLETION],
        qr=verification.qr_data_uri(p, request),
        verify_url=verification.verification_url(p, request),
        printed_at=at,
        status_label=verification.PermitStatus(p.status_at(at)).label,
    )


def permit_document(permit: Permit, *, request=None, at: datetime | None = None):
    """The printed permit laid out (WeasyPrint document: its pages and their text)."""
    doc = printed_permit(permit, request=request, at=at)
    return render_document("permits/print.html", {"doc": doc})


def permit_pdf(permit: Permit, *, request=None, at: datetime | None = None) -> bytes:
    """The permit printed as an A4 PDF (bytes starting with %PDF)."""
    return permit_document(permit, request=request, at=at).write_pdf()
