"""A write that fails in any way ends the job failed with a reason, never left "running"."""

from unittest import mock

import pytest
from django.db import IntegrityError

from safework.core import audit
from safework.ledger import services as imports
from safework.ledger.models import ImportJob, JobStatus
from safework.ledger.testing import identities, upload, xlsx_bytes

HEADER = ["序号", "姓名", "身份证号码", "操作项目", "证书编号", "初领日期", "有效期至"]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def queued_job():
    rows = [HEADER] + [
        [1, name, number, "低压电工作业", "W-1", "2024.5.12", "2030.5.11"]
        for number, name in identities(1, seed=99)
    ]
    content = xlsx_bytes(rows)
    return imports.start_import(
        by=None, file_obj=upload("台账.xlsx", content), original_name="台账.xlsx", enqueue=False
    )


class NotDjangosError(Exception):
    """Stands for an error Django does not translate (e.g. psycopg's own, raised by COPY)."""


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raised", "code"),
    [
        (
            IntegrityError("UNIQUE constraint failed: people_person.id_number"),
            "import.write_failed",
        ),
        (
            NotDjangosError("duplicate key value violates unique constraint"),
            "import.internal_error",
        ),
    ],
)
def test_a_failed_write_ends_the_job_failed(catalogue, raised, code):
    job = queued_job()
    with mock.patch.object(imports, "write_plan", side_effect=raised):
        imports.run_import(job.pk)
    job = ImportJob.objects.get(pk=job.pk)
    assert job.status == JobStatus.FAILED
    assert job.finished_at is not None
    assert job.errors[0]["code"] == code
    assert job.created_count == 0
    assert audit.verify_chain().ok
