"""Permits built with the ORM for the verification and printing tests (the services that create
them for real are tested with the services)."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import models

from safework.accounts.tests.factories import UserFactory
from safework.org.tests.factories import AreaFactory, SiteFactory
from safework.people.tests.factories import ContractorFactory, PersonFactory
from safework.permits.models import (
    ApprovalStep,
    CrewAssignment,
    GasTest,
    MeasureItem,
    Permit,
    RiskItem,
    Signature,
    StepStatus,
)
from safework.work.models import CrewRole, WorkLevel, WorkType

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2027, 3, 10, 8, 0, tzinfo=SHANGHAI)
END = START + dt.timedelta(hours=8)


def set_status(permit: Permit, status: str) -> Permit:
    """The status field is protected (only transitions move it): tests set it in the database."""
    Permit.objects.filter(pk=permit.pk).update(status=status)
    permit.refresh_from_db()
    return permit


def hot_work_permit(*, status="approved", crew=1, number="DH20270310-001", **extra) -> Permit:
    """A level-1 hot-work permit with a crew of `crew` workers and a guardian, two approvals,
    three measures, a risk line and two gas tests (use with the `catalogue` fixture)."""
    work_type = WorkType.objects.get(code="hot_work")
    site = SiteFactory(name="一号厂区")
    applicant = UserFactory(first_name="申请人")
    contractor = extra.pop("contractor", None) or ContractorFactory(name="华安检修有限公司")
    leader = PersonFactory(name="王负责")
    permit = Permit.objects.create(
        number=number,
        work_type=work_type,
        level=WorkLevel.objects.get(work_type=work_type, code="level1"),
        site=site,
        area=AreaFactory(site=site, name="常减压装置"),
        place="E-101换热器出口法兰",
        content="更换法兰垫片，焊接支架",
        planned_start=START,
        planned_end=END,
        applicant=applicant,
        contractor=contractor,
        work_leader=leader,
        created_at=START - dt.timedelta(days=1),
        submitted_at=START - dt.timedelta(days=1),
        approved_at=START - dt.timedelta(hours=2),
        **extra,
    )
    worker, guardian = CrewRole.objects.get(code="worker"), CrewRole.objects.get(code="guardian")
    for i in range(crew):
        CrewAssignment.objects.create(
            permit=permit,
            person=PersonFactory(name=f"焊工{i + 1}号"),
            role=worker,
            added_at=permit.created_at,
        )
    CrewAssignment.objects.create(
        permit=permit,
        person=PersonFactory(name="李监护"),
        role=guardian,
        added_at=permit.created_at,
    )
    approver = UserFactory()
    for order, (label, on_site) in enumerate([("车间主任审核", True), ("安全部门审批", False)], 1):
        step = ApprovalStep.objects.create(
            permit=permit,
            order=order,
            label=label,
            roles=["workshop_head"],
            status=StepStatus.APPROVED,
            decided_at=START - dt.timedelta(hours=3 - order),
        )
        Signature.objects.create(
            permit=permit,
            step=step,
            action="approve",
            role="workshop_head",
            user=approver,
            signer_label=f"审批人{order}",
            at=step.decided_at,
            on_site=on_site,
        )
    confirmer = PersonFactory(name="赵确认")
    for order, (text, involved, confirmed) in enumerate(
        [
            ("动火点周围易燃物已清除", True, True),
            ("管线已隔绝并加盲板", True, False),
            ("受限空间内部已通风", False, False),
        ],
        1,
    ):
        MeasureItem.objects.create(
            permit=permit,
            order=order,
            text=text,
            involved=involved,
            confirmer=confirmer if involved else None,
            confirmed_by=approver if confirmed else None,
            confirmed_at=START - dt.timedelta(minutes=40) if confirmed else None,
        )
    RiskItem.objects.create(
        permit=permit, order=1, hazard="可燃气体泄漏引发爆炸", controls="动火前气体分析合格"
    )
    tester = PersonFactory(name="钱分析")
    for minutes, value, passed in [(90, "0.80", False), (20, "0.100", True)]:
        GasTest.objects.create(
            permit=permit,
            taken_at=START - dt.timedelta(minutes=minutes),
            point="法兰下方",
            gas="可燃气",
            value=Decimal(value),
            unit="%LEL",
            instrument="GT-01",
            tester=tester,
            recorded_by=approver,
            passed=passed,
            limit="≤0.2%",
            clause="GB 30871-2022 5.3.1",
        )
    return set_status(permit, status)


def persons_of(permit: Permit) -> models.QuerySet:
    from safework.people.models import Person

    return Person.objects.filter(pk__in=permit.crew.values("person_id"))
