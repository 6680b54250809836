"""Chinese by default wherever a user reads (issue 17 item 16): command output and errors, export
colour values, event reasons and audit labels; a bad path given to a command is a clear message
with exit status 2, never a traceback."""

import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation
from openpyxl import load_workbook

from safework.accounts.models import User
from safework.certs import services
from safework.certs.models import CertificateEvent
from safework.core.models import AuditRecord
from safework.core.scope import Scope
from safework.ledger import exports
from safework.qualification.tests.qualification_fixtures import D, certificate, member, site

DAY = dt.timedelta(days=1)


@pytest.fixture
def here(catalogue):
    return site()


@pytest.fixture
def welder(here):
    person = member(here)
    certificate(person, "special_operation", "3.1", valid_until=D + 20 * DAY)
    return person


def _qualify(person, here, on):
    out = io.StringIO()
    args = ["--work-type", "hot_work", "--level", "level1", "--role", "worker"]
    args += ["--site", here.code, "--attr", "hot_work_method=welding", "--attr", "height_m=3"]
    try:
        call_command("qualify", "--person", str(person.pk), *args, "--at", str(on), stdout=out)
    except SystemExit as exit_:
        assert exit_.code == 1
    return out.getvalue()


# --- output in Chinese by default, English on request ---------------------------------------------


@pytest.mark.django_db
def test_qualify_answers_in_chinese_by_default(here, welder):
    allowed = _qualify(welder, here, D)
    assert allowed.startswith(f"允许：{welder.name}（")
    refused = _qualify(welder, here, D + 25 * DAY)
    assert refused.startswith("拒绝：")
    assert "[拒绝] cert.expired: " in refused and "依据：" in refused
    assert welder.id_number not in refused


@pytest.mark.django_db
def test_qualify_answers_in_english_on_request(here, welder):
    with translation.override("en"):
        assert _qualify(welder, here, D).startswith("ALLOWED: ")
        refused = _qualify(welder, here, D + 25 * DAY)
    assert refused.startswith("REFUSED: ") and "[refusal] cert.expired: " in refused
    assert "clause: " in refused


@pytest.mark.django_db
def test_catalogue_command_speaks_chinese(catalogue):
    out = io.StringIO()
    call_command("catalogue", "load", stdout=out)
    call_command("catalogue", "diff", stdout=out)
    assert out.getvalue().splitlines() == ["目录：已补上缺少的条目 0 条", "目录：共 0 处差异"]


def test_command_help_is_chinese(capsys):
    for name in ("qualify", "roster", "catalogue", "seed", "import_ledger", "fake_registry"):
        with pytest.raises(SystemExit):
            call_command(name, "--help")
    text = capsys.readouterr().out
    assert "此人能否从事此项作业" in text and "人员编号或居民身份证号码" in text
    assert "检查排班文件" in text and "目录：`load`" in text and "生成模拟数据" in text


@pytest.mark.django_db
def test_a_missing_user_or_site_is_reported_in_chinese(tmp_path):
    path = tmp_path / "台账.csv"
    path.write_text("姓名\n")
    with pytest.raises(CommandError, match="没有此用户：nobody"):
        call_command("import_ledger", str(path), "--user", "nobody")
    with pytest.raises(CommandError, match="没有此厂区：NOPE"):
        call_command("import_ledger", str(path), "--site", "NOPE")


# --- bad paths ------------------------------------------------------------------------------------

MISSING, FOLDER = "missing", "folder"
COMMANDS_TAKING_A_FILE = [
    ["import_ledger", "{path}"],
    ["roster", "check", "{path}"],
    ["verify_certificates", "--pasted", "{path}"],
    ["fake_registry", "--data", "{path}"],
]


@pytest.mark.django_db
@pytest.mark.parametrize("args", COMMANDS_TAKING_A_FILE, ids=lambda a: " ".join(a[:-1]))
@pytest.mark.parametrize("kind", [MISSING, FOLDER])
def test_a_bad_input_path_is_a_clear_usage_error(tmp_path, args, kind):
    path = tmp_path / "无此文件.xlsx" if kind == MISSING else tmp_path
    with pytest.raises(CommandError) as error:
        call_command(*[a.format(path=path) for a in args])
    assert error.value.returncode == 2
    wanted = f"文件不存在：{path}" if kind == MISSING else f"{path} 是文件夹，不是文件。"
    assert str(error.value) == wanted


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "是文件夹，不是文件"),
        ("no-such-folder/out.csv", "文件夹 {tmp}/no-such-folder 不存在"),
        ("errors.txt", "文件名必须以 .xlsx / .csv 结尾"),
    ],
)
def test_a_bad_output_path_is_refused_before_any_work(tmp_path, name, message):
    ledger = tmp_path / "台账.csv"
    ledger.write_text("姓名\n")
    errors = tmp_path / name
    with pytest.raises(CommandError, match=message.format(tmp=tmp_path)) as error:
        call_command("import_ledger", str(ledger), "--errors", str(errors))
    assert error.value.returncode == 2


@pytest.mark.parametrize("name", ["", "no-such-folder/records.json"])
def test_fake_registry_export_to_a_bad_path_is_refused(tmp_path, name):
    with pytest.raises(CommandError, match="是文件夹，不是文件|文件夹 .* 不存在") as error:
        call_command("fake_registry", "--export", str(tmp_path / name))
    assert error.value.returncode == 2


@pytest.mark.django_db
def test_an_unreadable_or_undecodable_file_is_a_clear_usage_error(tmp_path, monkeypatch):
    pasted = tmp_path / "numbers.txt"
    pasted.write_bytes(b"\xff\xfe\xfa not utf-8")
    with pytest.raises(CommandError, match="不是 UTF-8 文本文件") as error:
        call_command("verify_certificates", "--pasted", str(pasted))
    assert error.value.returncode == 2

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    roster = tmp_path / "排班.xlsx"
    roster.write_bytes(b"PK")
    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(CommandError, match="无法读写 .*排班.xlsx：Permission denied") as error:
        call_command("roster", "check", str(roster))
    assert error.value.returncode == 2


def test_from_the_shell_a_bad_path_prints_no_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "fake_registry",
            "--data",
            tmp_path,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"{tmp_path} 是文件夹，不是文件。" in done.stderr


# --- stored and exported texts --------------------------------------------------------------------


@pytest.mark.django_db
def test_export_colour_column_is_the_translated_label(here, welder):
    admin = User.objects.create(username="admin")
    content = exports.export_certificates(
        user=admin, scope=Scope.everything(), on=D, flt=exports.ExportFilter()
    )
    rows = list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))
    colours = {r[rows[0].index("颜色")] for r in rows[1:]}
    assert colours and colours <= {"绿色", "黄色", "红色"}


@pytest.mark.django_db
def test_an_event_without_a_user_is_by_the_system_in_chinese(here, welder):
    cert = welder.certificates.get(item__code="3.1")
    services.revoke_certificate(cert=cert, ground="false_entries", reason="伪造", on=D)
    assert CertificateEvent.objects.get(certificate=cert).actor_label == "系统"


@pytest.mark.django_db
def test_the_catalogue_load_is_labelled_in_chinese(catalogue):
    record = AuditRecord.objects.filter(action="catalogue.loaded").latest("seq")
    assert record.object_label == "内置目录"


@pytest.mark.django_db
def test_an_imported_review_is_recorded_in_chinese(catalogue, tmp_path):
    ledger = tmp_path / "台账.csv"
    ledger.write_text(
        "姓名,身份证号码,作业类别,证书编号,发证日期,初领日期,有效期至,复审日期\n"
        "甲,11010519491231002X,2.1,R-1,2020-06-01,2014-06-01,2026-05-31,2023-05-10\n",
        encoding="utf-8",
    )
    call_command("import_ledger", str(ledger), verbosity=0, stdout=io.StringIO())
    review = CertificateEvent.objects.get(certificate__number="R-1")
    assert (review.reason, review.actor_label) == ("导入", "系统")


@pytest.mark.django_db
def test_a_file_of_the_wrong_kind_is_a_clear_message(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("不是台账")
    with pytest.raises(CommandError, match="file.extension: ") as error:
        call_command("import_ledger", str(notes))
    assert "Traceback" not in str(error.value)
    with pytest.raises(CommandError) as error:
        call_command("roster", "check", str(notes))
    assert error.value.returncode == 2
    err = capsys.readouterr().err
    assert err.startswith("file: ") and "Traceback" not in err  # e.g. the columns it lacks


BAD_CHECKSUM = "110105194912310021"  # GB 11643's example 11010519491231002X, wrong check


@pytest.mark.django_db
def test_a_bad_id_number_is_explained_in_chinese(here, tmp_path, capsys):
    with pytest.raises(CommandError, match="^--person：?.*身份证号码") as error:
        call_command("qualify", "--person", BAD_CHECKSUM, "--work-type", "x", "--role", "y")
    assert error.value.returncode == 2 and "check character" not in str(error.value)

    path = tmp_path / "排班.csv"
    path.write_text(
        f"身份证号,日期,作业类型,级别,角色\n{BAD_CHECKSUM},2026-03-11,动火作业,一级,作业人\n"
    )
    with pytest.raises(CommandError):
        call_command("roster", "check", str(path), "--site", here.code)
    err = capsys.readouterr().err
    assert "id_number" in err and "身份证号码" in err and "check character" not in err


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["export_certificates", "coverage_report"])
def test_report_commands_write_in_chinese_and_refuse_a_bad_path_first(
    catalogue, tmp_path, monkeypatch, command
):
    from safework.qualification import coverage

    def no_work(*args, **kwargs):
        raise AssertionError("the work started before the path was checked")

    for name, message in [
        ("", "是文件夹，不是文件"),
        ("no-such-folder/out.xlsx", "文件夹 .* 不存在"),
        ("out.csv", r"文件名必须以 \.xlsx 结尾"),
    ]:
        with monkeypatch.context() as m:
            m.setattr(exports, "export_certificates", no_work)
            m.setattr(coverage, "coverage_bytes", no_work)
            with pytest.raises(CommandError, match=message) as error:
                call_command(command, "--out", str(tmp_path / name), "--on", "2026-03-02")
        assert error.value.returncode == 2

    out = io.StringIO()
    call_command(command, "--out", str(tmp_path / "report.xlsx"), "--on", "2026-03-02", stdout=out)
    assert out.getvalue().startswith(f"已写入 {tmp_path / 'report.xlsx'}（")
    assert "2026-03-02" in out.getvalue()
    load_workbook(tmp_path / "report.xlsx")  # a real workbook
