"""Simplified Chinese is the default language; English on request; the catalogue is complete.

The catalogue is safework/locale/zh_Hans/LC_MESSAGES/django.po (compiled to django.mo, which is
committed). After adding or changing a text in the code:

    .venv/bin/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var --ignore=bench
    (translate the new entries in django.po; remove any "#, fuzzy" flag)
    .venv/bin/python manage.py compilemessages --ignore=.venv

The catalogue tests below fail until that is done, naming the texts that lack a translation.
"""

import ast
import collections
import datetime as dt
import gettext as gnu_gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from safework.accounts.tests.factories import RoleGrantFactory, UserFactory
from safework.certs.rules import STATUS_TABLE, Status
from safework.people.models import Person
from safework.people.tests.factories import PersonFactory
from safework.qualification import engine as qualification
from safework.qualification.tests.qualification_fixtures import HOT_WORK_ATTRS, D, at, member, site

SAFEWORK = Path(settings.BASE_DIR) / "safework"
CATALOGUE = SAFEWORK / "locale" / "zh_Hans" / "LC_MESSAGES"
BAD_CHECKSUM = "110105194912310021"  # GB 11643's example 11010519491231002X with a wrong check
DAY = dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def _default_language():
    """LocaleMiddleware activates a request's language for the thread and never deactivates it,
    so a test client request with `Accept-Language: en` leaves English on for the tests after it.
    These tests start from (and leave) the default language."""
    translation.deactivate()
    yield
    translation.deactivate()


# --- the catalogue, read without polib ----------------------------------------------------------


def _unquote(text: str) -> str:
    return ast.literal_eval(text)  # a .po string is a valid Python string literal


def read_po(path: Path) -> list[dict]:
    """The entries of a .po file: msgctxt, msgid, msgid_plural, msgstr (list), flags, obsolete."""
    entries, entry, key = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry and entry["msgid"] is not None:
                entries.append(entry)
            entry, key = None, None
            continue
        entry = entry or {
            "msgctxt": None,
            "msgid": None,
            "msgid_plural": None,
            "msgstr": {},
            "flags": set(),
            "obsolete": False,
        }
        if line.startswith("#~"):
            entry["obsolete"] = True
            line = line[2:].strip()
            if not line:
                continue
        elif line.startswith("#,"):
            entry["flags"] |= {f.strip() for f in line[2:].split(",")}
            continue
        elif line.startswith("#"):
            continue
        match = re.match(r"^(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+(\".*\")$", line)
        if match:
            word, index, text = match.groups()
            key = ("msgstr", int(index or 0)) if word == "msgstr" else (word, None)
            if word == "msgstr":
                entry["msgstr"][key[1]] = _unquote(text)
            else:
                entry[word] = _unquote(text)
        elif line.startswith('"') and key is not None:
            if key[0] == "msgstr":
                entry["msgstr"][key[1]] += _unquote(line)
            else:
                entry[key[0]] += _unquote(line)
        else:
            raise AssertionError(f"{path}: cannot read {line!r}")
    for e in entries:
        e["msgstr"] = [e["msgstr"][i] for i in sorted(e["msgstr"])]
    return entries


@pytest.fixture(scope="module")
def po_entries():
    entries = read_po(CATALOGUE / "django.po")
    header = next(e for e in entries if e["msgid"] == "")
    assert "Language: zh_Hans" in header["msgstr"][0]
    assert "nplurals=1" in header["msgstr"][0]
    return [e for e in entries if e["msgid"] != "" and not e["obsolete"]]


# Django's makemessages keywords (xgettext's Python defaults plus Django's): name → positions of
# (context, singular, plural).
_KEYWORDS = {
    "_": (None, 0, None),
    "gettext": (None, 0, None),
    "gettext_lazy": (None, 0, None),
    "gettext_noop": (None, 0, None),
    "ngettext": (None, 0, 1),
    "ngettext_lazy": (None, 0, 1),
    "pgettext": (0, 1, None),
    "pgettext_lazy": (0, 1, None),
    "npgettext": (0, 1, 2),
    "npgettext_lazy": (0, 1, 2),
}
_TEMPLATE_TAG = re.compile(
    r"""{%\s*(?:translate|trans)\s+("[^"]*"|'[^']*')(?:\s+context\s+("[^"]*"|'[^']*'))?"""
)


def texts_in_code() -> dict[tuple[str | None, str], str]:
    """(context, msgid) → where, for every literal text the code passes to gettext."""
    found = {}
    for path in sorted(SAFEWORK.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name not in _KEYWORDS:
                continue
            ctx_at, msg_at, _plural_at = _KEYWORDS[name]
            args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
            if len(args) <= msg_at or not isinstance(args[msg_at], str):
                continue
            context = args[ctx_at] if ctx_at is not None else None
            if ctx_at is not None and not isinstance(context, str):
                continue
            where = f"{path.relative_to(SAFEWORK.parent)}:{node.lineno}"
            found.setdefault((context, args[msg_at]), where)
    for path in sorted(SAFEWORK.rglob("*.html")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for text, context in _TEMPLATE_TAG.findall(line):
                where = f"{path.relative_to(SAFEWORK.parent)}:{lineno}"
                found.setdefault((context[1:-1] or None, text[1:-1]), where)
    return found


_PLACEHOLDER = re.compile(r"%\(\w+\)[sdifr]|%[sdifr]|\{\w*\}")


def test_every_msgid_of_the_catalogue_is_translated(po_entries):
    assert len(po_entries) > 500
    untranslated = [e["msgid"] for e in po_entries if not all(s.strip() for s in e["msgstr"])]
    fuzzy = [e["msgid"] for e in po_entries if "fuzzy" in e["flags"]]
    assert not untranslated, f"untranslated in django.po: {untranslated}"
    assert not fuzzy, f'remove "#, fuzzy" after checking the translation: {fuzzy}'
    assert all(len(e["msgstr"]) == 1 for e in po_entries if e["msgid_plural"] is not None)


def test_translations_keep_every_placeholder(po_entries):
    broken = [
        (e["msgid"], s)
        for e in po_entries
        for s in e["msgstr"]
        if collections.Counter(_PLACEHOLDER.findall(s))
        != collections.Counter(_PLACEHOLDER.findall(e["msgid_plural"] or e["msgid"]))
    ]
    assert not broken


def test_every_text_in_the_code_is_in_the_catalogue(po_entries):
    """A text wrapped in gettext after the last makemessages run has no translation yet."""
    known = {(e["msgctxt"], e["msgid"]) for e in po_entries}
    in_code = texts_in_code()
    assert len(in_code) > 500  # the scan itself works
    assert (None, "Known settings") in in_code  # templates too
    missing = {key: where for key, where in in_code.items() if key not in known}
    assert not missing, (
        "texts without a Chinese translation (run makemessages, translate, compilemessages): "
        + "; ".join(f"{where}: {msgid!r}" for (_ctx, msgid), where in sorted(missing.items()))
    )


def test_the_compiled_catalogue_matches_the_po(po_entries):
    with (CATALOGUE / "django.mo").open("rb") as f:
        compiled = gnu_gettext.GNUTranslations(f)
    stale = []
    for e in po_entries:
        msgid, wanted = e["msgid"], e["msgstr"][0]
        if e["msgid_plural"] is not None:
            got = compiled.ngettext(msgid, e["msgid_plural"], 1)
        elif e["msgctxt"] is not None:
            got = compiled.pgettext(e["msgctxt"], msgid)
        else:
            got = compiled.gettext(msgid)
        if got != wanted:
            stale.append(msgid)
    assert not stale, f"django.mo is older than django.po (run compilemessages): {stale[:10]}"


def test_the_default_language_is_simplified_chinese():
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert str(Person._meta.verbose_name_plural) == "人员"
    assert str(STATUS_TABLE[Status.EXPIRED].message) == "该证书已过期。"
    with translation.override("en"):
        assert str(Person._meta.verbose_name_plural) == "persons"
        assert str(STATUS_TABLE[Status.EXPIRED].message) == "The certificate has expired."


# --- the API ------------------------------------------------------------------------------------


def logged_in(client, role="administrator", *, staff=False):
    user = UserFactory(is_staff=staff)
    RoleGrantFactory(user=user, role=role)
    client.force_login(user)
    return client


def post_person(client, **headers):
    return client.post(
        "/api/v1/persons",
        {"id_number": BAD_CHECKSUM, "name": "王五"},
        content_type="application/json",
        **headers,
    )


@pytest.mark.django_db
def test_a_422_message_is_chinese_by_default(client):
    response = post_person(logged_in(client))
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("id_number", "id_number.checksum")
    assert error["message"] == "身份证号码的校验码错误。"
    assert response["Content-Language"] == "zh-hans"


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["zh-CN", "zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans", "fr"])
def test_chinese_browsers_and_unknown_languages_get_chinese(client, header):
    response = post_person(logged_in(client), HTTP_ACCEPT_LANGUAGE=header)
    assert response.json()["errors"][0]["message"] == "身份证号码的校验码错误。"


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["en", "en-US,en;q=0.9"])
def test_a_422_message_is_english_on_request(client, header):
    response = post_person(logged_in(client), HTTP_ACCEPT_LANGUAGE=header)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["code"] == "id_number.checksum"
    assert error["message"] == "The check character of the ID number is wrong."


@pytest.mark.django_db
def test_pydantic_and_access_errors_are_chinese_too(client):
    assert client.get("/api/v1/persons").json()["errors"][0]["message"] == "请先登录。"
    response = logged_in(client).post("/api/v1/persons", {}, content_type="application/json")
    assert response.status_code == 422
    messages = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert messages["id_number"] == "此字段为必填项。"
    english = client.post(
        "/api/v1/persons", {}, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert {e["message"] for e in english.json()["errors"]} == {"This field is required."}


# --- a qualification refusal --------------------------------------------------------------------


@pytest.fixture
def expired_welder(catalogue):
    here = site()
    welder = member(here)
    welding = welder.certificates.get(item__code="2.1")
    welding.valid_until = D - DAY
    welding.save()
    return here, welder, welding


def test_a_refusal_reason_is_chinese(expired_welder):
    here, welder, welding = expired_welder
    decision = qualification.check(
        welder, "hot_work", "level1", "worker", here, at(D), HOT_WORK_ATTRS
    )
    [reason] = decision.reasons
    assert reason.code == "cert.expired"
    assert reason.message.startswith(f"证书 {welding.number}（")
    assert reason.message.endswith(f"有效期至 {D - DAY}，已过期。")

    with translation.override("en"):
        decision = qualification.check(
            welder, "hot_work", "level1", "worker", here, at(D), HOT_WORK_ATTRS
        )
    assert decision.reasons[0].message.endswith(f"expired on {D - DAY}.")


def test_a_refusal_over_the_api_is_chinese(client, expired_welder):
    here, welder, welding = expired_welder
    body = {
        "person_id": welder.pk,
        "role": "worker",
        "work_type": "hot_work",
        "level": "level1",
        "site_id": here.pk,
        "at": at(D).isoformat(),
        "attrs": HOT_WORK_ATTRS,
    }
    response = logged_in(client).post(
        "/api/v1/qualifications/check", body, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    [reason] = response.json()["reasons"]
    assert reason["code"] == "cert.expired"
    assert "已过期" in reason["message"]
    assert welding.number in reason["message"]


# --- the admin ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_persons_changelist_is_chinese(client):
    PersonFactory(name="张三")
    client = logged_in(client, staff=True)
    url = reverse("admin:people_person_changelist")

    html = client.get(url).content.decode()
    assert '<html lang="zh-hans"' in html
    assert "<title>选择 人员 来修改" in html  # Person._meta.verbose_name, in Django's own sentence
    assert "身份证号码" in html  # a column
    assert "张三" in html

    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en"' in english
    assert "Resident ID number" in english  # the admin capitalises column headers
