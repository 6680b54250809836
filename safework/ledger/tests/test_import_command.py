"""`safework import_ledger FILE`: the import here and now, with a progress bar."""

import pytest
from django.core.management import CommandError, call_command

from safework.certs.models import Certificate
from safework.ledger.models import ImportJob, JobStatus
from safework.ledger.testing import identities, xlsx_bytes
from safework.people.models import EmployerKind, Person
from safework.people.tests.factories import ContractorFactory

IDS = [number for number, _name in identities(4, seed=84)]
HEADER = ["姓名", "身份证号码", "作业类别", "证书编号", "发证日期", "有效期至"]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.django_db
def test_import_ledger_command(catalogue, tmp_path, capsys):
    contractor = ContractorFactory()
    path = tmp_path / "台账.xlsx"
    path.write_bytes(
        xlsx_bytes(
            [
                HEADER,
                ["张三", IDS[0], "2.1", "K-1", "2024-01-10", "2030-01-09"],
                ["李四", IDS[1], "N1", "K-2", "2024-01-10", "2028-01-09"],
            ]
        )
    )
    call_command("import_ledger", str(path), "--contractor", contractor.uscc)
    out = capsys.readouterr().out
    assert "succeeded" in out and "新建 4" in out
    assert Certificate.objects.count() == 2
    assert {p.current_employment.employer_kind for p in Person.objects.all()} == {
        EmployerKind.CONTRACTOR
    }
    assert ImportJob.objects.get().status == JobStatus.SUCCEEDED


@pytest.mark.django_db
def test_import_ledger_command_fails_with_the_row_errors(catalogue, tmp_path, capsys):
    path = tmp_path / "bad.xlsx"
    errors = tmp_path / "errors.csv"
    path.write_bytes(
        xlsx_bytes([HEADER, ["张三", IDS[0][:-1] + "?", "2.1", "K-1", "2024-01-10", "2030-01-09"]])
    )
    with pytest.raises(CommandError, match="failed"):
        call_command("import_ledger", str(path), "--errors", str(errors))
    assert "第 2 行 B2：id_number.format" in capsys.readouterr().err
    assert "id_number.format" in errors.read_text(encoding="utf-8-sig")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a ledger")
    with pytest.raises(CommandError, match="file.extension"):
        call_command("import_ledger", str(notes))
