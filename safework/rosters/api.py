"""Rosters over the API: upload (xlsx/csv or JSON), template, forward-check problems.

The author of a roster is told of its problems; bad rows are a 422 and nothing is stored.
"""

import datetime as dt
import json
from functools import partial
from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from safework.accounts.access import READ, WRITE, access, shown_id_number, shown_reason
from safework.accounts.matrix import ROSTER
from safework.core import xlsx
from safework.core.errors import BadRequest, FieldError, InvalidInput
from safework.core.pagination import PageParams
from safework.org.models import Site
from safework.people.queries import persons_visible_to
from safework.qualification.api import ReasonOut
from safework.rosters import queries
from safework.rosters import services as roster
from safework.rosters.template import template_bytes as roster_template_bytes

router = Router(tags=["rosters"])


class EntryJson(Schema):
    person_id: int | None = None
    id_number: str | None = None
    name: str | None = Field(None, description="checked against the person of the ID number")
    on: dt.date
    work_type: str
    level: str | None = None
    role: str
    site_id: int | None = None
    attrs: dict[str, Any] | None = None


class RosterJson(Schema):
    name: str = ""
    site_id: int | None = None
    entries: list[EntryJson]


class AuthorOut(Schema):
    id: int
    username: str
    name: str


class RosterOut(Schema):
    id: int
    name: str
    site_id: int | None
    author: AuthorOut | None
    entries: int
    created_at: dt.datetime


class ProblemOut(Schema):
    entry_id: int
    person_id: int
    name: str
    id_number: str
    on: dt.date
    work_type: str
    level: str | None
    role: str
    site_id: int | None
    reasons: list[ReasonOut]


class ProblemsOut(Schema):
    roster: RosterOut
    checked: int
    total: int
    limit: int
    offset: int
    items: list[ProblemOut]


_ROSTER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": RosterJson.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "name": {"type": "string"},
                        "site_id": {"type": "integer"},
                    },
                }
            },
        },
    }
}


def _with_body(permission: dict, extra: dict) -> dict:
    return {**permission, "openapi_extra": {**permission["openapi_extra"], **extra}}


def _roster_out(r, entries: int) -> dict:
    author = r.author
    return {
        "id": r.pk,
        "name": r.name,
        "site_id": r.site_id,
        "author": (
            {"id": author.pk, "username": author.get_username(), "name": author.get_full_name()}
            if author
            else None
        ),
        "entries": entries,
        "created_at": r.created_at,
    }


def _site(value, field_name: str) -> Site | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    # isdigit() holds for "²" and "١" too, which int() refuses or reads: ASCII digits only.
    ok = text.isascii() and text.isdecimal() and len(text) <= 18
    site = Site.objects.filter(pk=int(text)).first() if ok else None
    if site is None:
        raise InvalidInput(FieldError(field_name, "unknown_site", _("No such site.")))
    return site


def _roster_input(request) -> tuple[str, Site | None, list[roster.RawRow], str]:
    """(name, site, raw rows, field prefix) from a multipart upload or a JSON body."""
    content_type = request.content_type or ""
    if content_type.startswith("multipart/form-data"):
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput(FieldError("file", "required", _("Attach the roster file.")))
        site = _site(request.POST.get("site_id"), "site_id")
        rows = roster.read_roster_file(upload.read(), upload.name)
        return request.POST.get("name") or upload.name, site, rows, "rows"
    if content_type != "application/json":
        raise BadRequest(_("Send JSON or a multipart file upload."), code="content_type")
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest(_("The request body is not valid JSON."), code="malformed")
    if not isinstance(data, dict):
        raise BadRequest(_("The request body is not a valid JSON object."), code="malformed")
    entries = data.get("entries")
    if not isinstance(entries, list):
        raise InvalidInput(FieldError("entries", "required", _("Give a list of entries.")))
    site = _site(data.get("site_id"), "site_id")
    name = data.get("name") or _("Roster of %(date)s") % {"date": timezone.localdate()}
    return str(name), site, roster.rows_from_entries(entries), "entries"


@router.get("/rosters/template", **access(ROSTER, READ))
def roster_template(request):
    """The roster xlsx template: the header row, an example row, the codes sheet."""
    return xlsx.download(roster_template_bytes(), "safework-roster-template.xlsx")


@router.post(
    "/rosters", response={201: RosterOut}, **_with_body(access(ROSTER, WRITE), _ROSTER_BODY)
)
def create_roster(request):
    """Store a roster (xlsx/csv upload as `file`, or JSON entries) for the forward check.

    Bad rows → 422 listing every row error with its row number; nothing is stored then.
    """
    name, site, rows, prefix = _roster_input(request)
    entries = roster.validate_rows(
        rows,
        persons=persons_visible_to(request.scope),
        site=site,
        prefix=prefix,
        shown_id_number=partial(shown_id_number, request.user),
    )
    stored = roster.create_roster(name=name, author=request.user, site=site, entries=entries)
    return Status(201, _roster_out(stored, len(entries)))


@router.get("/rosters/{roster_id}/problems", response=ProblemsOut, **access(ROSTER, READ))
def roster_problems(request, roster_id: int, page: Query[PageParams]):
    """Every entry whose person will NOT be qualified on its date, with the reasons, and the
    roster's author (the one to be told)."""
    r = get_object_or_404(
        queries.rosters_visible_to(request.scope, request.user).select_related("author"),
        pk=roster_id,
    )
    problems = roster.roster_problems(r)
    user = request.user
    window = problems[page.offset : page.offset + page.limit]
    items = []
    for p in window:
        e = p.entry
        persons = {e.person_id: e.person}
        items.append(
            {
                "entry_id": e.pk,
                "person_id": e.person_id,
                "name": e.person.name,
                "id_number": shown_id_number(user, e.person.id_number),
                "on": e.on,
                "work_type": e.work_type.code,
                "level": e.level.code if e.level else None,
                "role": e.crew_role.code,
                "site_id": e.site_id,
                "reasons": [shown_reason(reason, persons, user) for reason in p.decision.reasons],
            }
        )
    return {
        "roster": _roster_out(r, r.entries.count()),
        "checked": r.entries.count(),
        "total": len(problems),
        "limit": page.limit,
        "offset": page.offset,
        "items": items,
    }
