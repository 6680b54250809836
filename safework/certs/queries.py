"""Reads of certificates: visibility, status per object from the database, and its SQL twin.

The status of a record is a function of its stored fields (state, verification, valid_from /
valid_until, next_review_due), its predecessor's end and the reapplication bars of its holder:
`status_of` / `statuses_of` read those and call `rules.certificate_status`; `with_status`
annotates a queryset with the same answer in one SQL statement. Both read what is stored: the
write paths keep `next_review_due` equal to `rules.first_unpassed_review` and bound an internal
qualification's end at its rule (`rules.bounded_valid_until`), so the engine, lists, admin,
exports and the coverage report give one answer. Tests hold the two implementations equal.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateField,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from safework.certs.models import (
    Certificate,
    CertificateEvent,
    CertificateFile,
    CertState,
    EventKind,
    Verification,
)
from safework.certs.rules import (
    STATUS_TABLE,
    CertStatus,
    ReapplyBar,
    RuleBook,
    Status,
    StatusSettings,
    bar_of,
    certificate_status,
)
from safework.core.audit_visibility import register_audit_visibility
from safework.core.scope import Scope
from safework.core.settings_registry import get_setting
from safework.people.queries import person_scope_q


def certificates_visible_to(scope: Scope) -> QuerySet[Certificate]:
    """The certificate records of the persons the scope sees (someone else's: not there → 404)."""
    return Certificate.objects.filter(person_scope_q(scope, "person__"))


def certificate_events_visible_to(scope: Scope) -> QuerySet[CertificateEvent]:
    """The history of the certificates the scope sees."""
    return CertificateEvent.objects.filter(person_scope_q(scope, "certificate__person__"))


def certificate_files_visible_to(scope: Scope) -> QuerySet[CertificateFile]:
    """The scanned files of the certificates the scope sees."""
    return CertificateFile.objects.filter(person_scope_q(scope, "certificate__person__"))


# Audit records about a certificate are seen by whoever sees the certificate.
register_audit_visibility("certs.certificate", certificates_visible_to)


def local_day(on: dt.date | None = None, at: dt.datetime | None = None) -> dt.date:
    """The date a question is about: `on` as given, else the local date of `at` (default now).

    2026-05-31T23:30Z is already 2026-06-01 in Shanghai.
    """
    if on is not None:
        if isinstance(on, dt.datetime):
            raise TypeError("on= takes a date; pass an instant as at=")
        return on
    return timezone.localdate(at) if at is not None else timezone.localdate()


def status_settings(*, site_id: int | None = None) -> StatusSettings:
    """The status thresholds in force (a Setting row, a site's override, else the default)."""
    return StatusSettings(
        yellow_days=int(get_setting("cert.yellow_days", site_id=site_id)),
        unverified_blocking=bool(get_setting("cert.unverified_blocking", site_id=site_id)),
    )


def passed_reviews_of(cert_ids: Iterable[int]) -> dict[int, list[tuple[dt.date, dt.date]]]:
    """(due_on, on) of every passed review, per certificate id, in one query."""
    out: dict[int, list[tuple[dt.date, dt.date]]] = defaultdict(list)
    rows = CertificateEvent.objects.filter(
        certificate_id__in=list(cert_ids), kind=EventKind.REVIEW, passed=True
    ).values_list("certificate_id", "due_on", "on")
    for cert_id, due_on, on in rows:
        out[cert_id].append((due_on, on))
    return out


def statuses_of(
    certs: Iterable[Certificate],
    *,
    on: dt.date | None = None,
    at: dt.datetime | None = None,
    book: RuleBook | None = None,
    settings: StatusSettings | None = None,
) -> dict[int, CertStatus]:
    """The status of many certificates on a date, keyed by id, in one query (predecessors'
    ends and the holders' reapplication bars). Pass a few thousand certificates at a time
    (their ids go into one IN list)."""
    certs = list(certs)
    on = local_day(on, at)
    book = book if book is not None else RuleBook.load()
    settings = settings if settings is not None else status_settings()
    predecessor_ids = [c.predecessor_id for c in certs if c.predecessor_id]
    # Predecessors' ends and the reapplication bars of the same persons: one query.
    related = Certificate.objects.filter(
        Q(pk__in=predecessor_ids)
        | Q(person_id__in={c.person_id for c in certs}, reapply_allowed_from__isnull=False)
    ).values_list(
        "pk",
        "valid_until",
        "person_id",
        "item_id",
        "revoked_on",
        "reapply_allowed_from",
        "revocation_ground_id",
    )
    ends: dict[int, dt.date] = {}
    bars: dict[tuple[int, int], list[ReapplyBar]] = defaultdict(list)
    for pk, valid_until, person_id, item_id, revoked_on, allowed_from, ground_id in (
        related if certs else ()
    ):
        ends[pk] = valid_until
        bar = bar_of(
            Certificate(
                pk=pk,
                revoked_on=revoked_on,
                reapply_allowed_from=allowed_from,
                revocation_ground_id=ground_id,
            )
        )
        if bar is not None:
            bars[person_id, item_id].append(bar)
    out = {}
    for cert in certs:
        out[cert.pk] = certificate_status(
            cert,
            on=on,
            book=book,
            predecessor_valid_until=ends.get(cert.predecessor_id),
            bars=bars.get((cert.person_id, cert.item_id), ()),
            settings=settings,
        )
    return out


def reapply_bars() -> dict[tuple[int, int], list[ReapplyBar]]:
    """Every reapplication bar, by (person id, item id): the few revoked records whose ground
    bars a new certificate (for a list that shows many persons' statuses)."""
    out: dict[tuple[int, int], list[ReapplyBar]] = defaultdict(list)
    for c in Certificate.objects.filter(reapply_allowed_from__isnull=False).only(
        "pk", "person_id", "item_id", "revoked_on", "reapply_allowed_from", "revocation_ground_id"
    ):
        if (bar := bar_of(c)) is not None:
            out[c.person_id, c.item_id].append(bar)
    return out


def status_of(
    cert: Certificate,
    *,
    on: dt.date | None = None,
    at: dt.datetime | None = None,
    book: RuleBook | None = None,
    settings: StatusSettings | None = None,
) -> CertStatus:
    """The status of one certificate on a date, everything read from the database."""
    return statuses_of([cert], on=on, at=at, book=book, settings=settings)[cert.pk]


class DaysFrom(Func):
    """Whole days from the date `on` to a date column (negative when the column is earlier)."""

    output_field = IntegerField()
    arity = 2

    def __init__(self, column: str, on: dt.date):
        super().__init__(F(column), Value(on, output_field=DateField()))

    def as_sqlite(self, compiler, connection, **extra):
        # Dates are ISO text on SQLite; julianday() is built in (no Python function per row).
        column, column_params = compiler.compile(self.source_expressions[0])
        on, on_params = compiler.compile(self.source_expressions[1])
        sql = f"CAST(julianday({column}) - julianday({on}) AS INTEGER)"
        return sql, (*column_params, *on_params)

    def as_postgresql(self, compiler, connection, **extra):
        # date - date is an integer number of days on PostgreSQL.
        column, column_params = compiler.compile(self.source_expressions[0])
        on, on_params = compiler.compile(self.source_expressions[1])
        return f"({column} - CAST({on} AS date))", (*column_params, *on_params)

    def as_sql(self, compiler, connection, **extra):
        raise NotImplementedError(
            f"DaysFrom supports SQLite and PostgreSQL, not {connection.vendor}"
        )


def reapply_barred() -> Exists:
    """The SQL twin of `rules.covering_bar`: another record of the same person and item was
    revoked on a ground that bars reapplying, on or before this one's issue date, and this one
    was issued before the bar ended."""
    return Exists(
        Certificate.objects.filter(
            person_id=OuterRef("person_id"),
            item_id=OuterRef("item_id"),
            revoked_on__lte=OuterRef("issued_on"),
            reapply_allowed_from__gt=OuterRef("issued_on"),
        ).exclude(pk=OuterRef("pk"))
    )


def _status_conditions(on: dt.date, settings: StatusSettings) -> dict[str, Q]:
    """One condition per status, in STATUS_TABLE order: the SQL twin of `rules._PREDICATES`.
    Reads the annotations `reapply_barred` and `predecessor_valid_until` (`with_status`)."""

    def state_in_force(state):
        return Q(state=state) & (Q(state_changed_on__isnull=True) | Q(state_changed_on__lte=on))

    yellow_until = on + dt.timedelta(days=settings.yellow_days)
    conditions = {
        Status.CANCELLED: state_in_force(CertState.CANCELLED),
        Status.REVOKED: state_in_force(CertState.REVOKED) | Q(verification=Verification.REVOKED),
        Status.REAPPLY_BARRED: Q(reapply_barred=True),
        Status.EXPIRED: Q(valid_until__lt=on) | Q(verification=Verification.EXPIRED),
        Status.REVIEW_OVERDUE: Q(next_review_due__lt=on),
        Status.VACUUM: Q(valid_from__gt=on) & Q(predecessor_valid_until__lt=on),
        Status.NOT_YET_VALID: Q(valid_from__gt=on),
        Status.REGISTRY_MISMATCH: Q(verification=Verification.MISMATCH),
        Status.REGISTRY_NOT_FOUND: Q(verification=Verification.NOT_FOUND),
        Status.UNVERIFIED: Q(verification=Verification.UNVERIFIED, scheme__has_registry=True),
        Status.EXPIRING: Q(valid_until__lte=yellow_until) | Q(next_review_due__lte=yellow_until),
        Status.VALID: Q(),
    }
    assert list(conditions) == list(STATUS_TABLE), "one condition per status, in table order"
    return conditions


def with_status_inputs(qs: QuerySet[Certificate]) -> QuerySet[Certificate]:
    """The annotations `status_expression` reads (the predecessor's end, a reapplication bar)."""
    return qs.annotate(
        predecessor_valid_until=F("predecessor__valid_until"),
        reapply_barred=reapply_barred(),
    )


def status_expression(on: dt.date, settings: StatusSettings) -> Case:
    """The status on `on` as one SQL expression (the twin of `rules.certificate_status`), for a
    statement that compares a certificate's status on two dates (the monthly report); the
    queryset must carry `with_status_inputs`."""
    conditions = _status_conditions(on, settings)
    whens = [When(cond, then=Value(str(s))) for s, cond in conditions.items() if s != Status.VALID]
    return Case(*whens, default=Value(str(Status.VALID)), output_field=CharField())


def usable_statuses(settings: StatusSettings) -> list[str]:
    """The statuses in which a certificate may be used, under these settings."""
    return [str(s) for s in STATUS_TABLE if settings.usable(s)]


def with_status(
    qs: QuerySet[Certificate],
    *,
    on: dt.date | None = None,
    at: dt.datetime | None = None,
    settings: StatusSettings | None = None,
) -> QuerySet[Certificate]:
    """Annotate `status`, `usable`, `colour` and `days_left` on `on` (plus
    `predecessor_valid_until`), in the same statement as the rows: no query per row.

    Settings are read once (pass `settings` to use a site's). Same precedence as STATUS_TABLE.
    For counts over many rows, clear the ordering first (`qs.order_by()`): Django drops
    `Meta.ordering` from a GROUP BY but keeps the joins it needs (person, scheme, item).
    """
    on = local_day(on, at)
    settings = settings if settings is not None else status_settings()
    unusable = [str(s) for s in STATUS_TABLE if not settings.usable(s)]
    return with_status_inputs(qs).annotate(
        status=status_expression(on, settings),
        usable=Case(
            When(status__in=unusable, then=Value(False)),
            default=Value(True),
            output_field=BooleanField(),
        ),
        colour=Case(
            When(status__in=unusable, then=Value(str(settings.colour(Status.CANCELLED)))),
            When(status=Status.VALID, then=Value(str(settings.colour(Status.VALID)))),
            default=Value(str(settings.colour(Status.EXPIRING))),
            output_field=CharField(),
        ),
        days_left=Case(
            When(
                Q(next_review_due__gte=on, next_review_due__lt=F("valid_until")),
                then=DaysFrom("next_review_due", on),
            ),
            default=DaysFrom("valid_until", on),
            output_field=IntegerField(),
        ),
    )


# ---- dashboard aggregates: one GROUP BY each ----------------------------------------------------

COLOURS = ("red", "yellow", "green")
_EMPLOYMENT = "person__current_employment__"


def _colours_by(qs: QuerySet[Certificate], on: dt.date, fields: tuple[str, ...]) -> list[dict]:
    """Counts by colour per group of `fields` (its first is the group's id): one query."""
    rows = (
        with_status(qs.order_by(), on=on)
        .values(*fields, "colour")
        .annotate(n=Count("pk"))
        .order_by(*fields, "colour")
    )
    groups: dict[tuple, dict] = {}
    for r in rows:
        key = tuple(r[f] for f in fields)
        group = groups.setdefault(key, {"key": key, **dict.fromkeys(COLOURS, 0)})
        group[r["colour"]] = group.get(r["colour"], 0) + r["n"]
    return list(groups.values())


def colours_by_site(qs: QuerySet[Certificate], *, on: dt.date) -> list[dict]:
    """Certificates by colour on `on` per site of the holder's current employment: rows of
    site_id, site (name; "" for contractors' staff, who belong to no site), red, yellow, green."""
    out = []
    for g in _colours_by(qs, on, (f"{_EMPLOYMENT}site_id", f"{_EMPLOYMENT}site__name")):
        site_id, name = g.pop("key")
        out.append({"site_id": site_id, "site": name or "", **g})
    return out


def colours_by_department(qs: QuerySet[Certificate], *, on: dt.date) -> list[dict]:
    """Certificates by colour on `on` per department of the holder (a contractor's staff: per
    contractor): rows of department_id, contractor_id, label, red, yellow, green."""
    fields = (
        f"{_EMPLOYMENT}department_id",
        f"{_EMPLOYMENT}contractor_id",
        f"{_EMPLOYMENT}department__name",
        f"{_EMPLOYMENT}contractor__name",
    )
    out = []
    for g in _colours_by(qs, on, fields):
        department_id, contractor_id, department, contractor = g.pop("key")
        label = department or contractor or ""
        out.append(
            {"department_id": department_id, "contractor_id": contractor_id, "label": label, **g}
        )
    return out
