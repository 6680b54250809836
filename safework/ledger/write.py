"""Write a checked plan: set-based inserts and updates, one audit record per changed record.

Runs inside the caller's transaction (the import's own). No per-row save() or full_clean(): the
rows were checked by `check.LedgerCheck`, and the database constraints stay the backstop. The
large tables (persons, employments, certificates, medical checks) are written with multi-row
`INSERT … RETURNING id` statements (SQLite) or COPY (PostgreSQL) built here (`insert_rows`):
Django's bulk_create spends most of an import's time preparing each value of each instance.
Review and extension events are listed in their certificate's audit record.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

from django.db import connection, models, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.certs.models import Certificate, CertificateEvent, EventKind
from safework.core import audit
from safework.ledger.check import CHUNK
from safework.ledger.models import ImportJob
from safework.ledger.plan import Plan
from safework.org.models import Department
from safework.people.models import EmployerKind, Employment, HealthCheck, Person

BATCH = 2000
SQL_VARIABLES = 30_000  # below SQLite's 32,766 bound parameters per statement
REASON_LEDGER = gettext_lazy("import")
REASON_IMPLIED = gettext_lazy("import: implied by a later review in the ledger")


@dataclass
class Counts:
    persons_created: int = 0
    persons_updated: int = 0
    persons_unchanged: int = 0
    certificates_created: int = 0
    certificates_updated: int = 0
    health_checks_created: int = 0
    unchanged: int = 0
    certificate_ids: list[int] = field(default_factory=list)

    @property
    def created(self) -> int:
        return self.persons_created + self.certificates_created + self.health_checks_created

    @property
    def updated(self) -> int:
        return self.persons_updated + self.certificates_updated


def _iso(value):
    return value.isoformat() if isinstance(value, dt.date) else value


def _plain(value):
    # A TextChoices member is a str, but a driver may adapt it as an enum (by its name).
    return value.value if isinstance(value, enum.Enum) else value


def _adapter(f: models.Field):
    ops = connection.ops
    if isinstance(f, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(f, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(f, models.JSONField):
        return lambda v: f.get_db_prep_save(v, connection)
    if f.choices:
        return _plain
    return None


def insert_rows(model: type[models.Model], fields: list[str], rows: list[tuple]) -> list[int]:
    """INSERT rows (values in `fields` order) and return their ids, in order.

    Every other concrete column gets its default (`auto_now`/`auto_now_add`: now), so a column
    added to the model later is filled as the ORM would fill it. Values are adapted per column
    type (dates, date-times, JSON), once per value.
    """
    if not rows:
        return []
    now = timezone.now()
    meta = model._meta
    given = [meta.get_field(f) for f in fields]
    names = {f.attname for f in given} | {f.name for f in given}
    extra, extra_values = [], []
    for f in meta.concrete_fields:
        if f.primary_key or f.attname in names:
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            value = now
        else:
            value = f.get_default()
        extra.append(f)
        extra_values.append(value)
    columns = given + extra
    adapters = [_adapter(f) for f in columns]
    extra_values = [
        a(v) if a is not None and v is not None else v
        for a, v in zip(adapters[len(given) :], extra_values, strict=True)
    ]
    given_adapters = [(i, a) for i, a in enumerate(adapters[: len(given)]) if a is not None]

    def adapted(row):
        row = list(row)
        for i, adapt in given_adapters:
            if row[i] is not None:
                row[i] = adapt(row[i])
        row.extend(extra_values)
        return row

    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    names = ", ".join(quote(f.column) for f in columns)
    if connection.vendor == "postgresql":
        return _copy_rows(meta, table, names, [adapted(row) for row in rows])
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    per_batch = max(1, min(1000, SQL_VARIABLES // len(columns)))
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_batch):
            batch = rows[start : start + per_batch]
            params: list = []
            for row in batch:
                params.extend(adapted(row))
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(batch))} "
                f"RETURNING {quote(meta.pk.column)}",
                params,
            )
            ids.extend(r[0] for r in cursor.fetchall())
    return ids


def _copy_rows(meta, table: str, names: str, rows: list[list]) -> list[int]:
    """PostgreSQL: take the ids from the table's sequence, then COPY the rows with them (COPY is
    several times faster than INSERT for many rows; the ids come back without RETURNING)."""
    pk = connection.ops.quote_name(meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        ids = [r[0] for r in cursor.fetchall()]
        # COPY runs on psycopg's own cursor, whose errors (a UniqueViolation when another
        # import wrote the same row meanwhile) are psycopg's, not Django's: translate them, so
        # that the caller's `except DatabaseError` / IntegrityError sees them.
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {table} ({pk}, {names}) FROM STDIN") as copy,
        ):
            for pk_value, row in zip(ids, rows, strict=True):
                copy.write_row([pk_value, *row])
    return ids


def write_plan(plan: Plan, *, job: ImportJob, by, today: dt.date, entries: list) -> Counts:
    """Insert and update what the plan says; append the audit entries to `entries` (the caller
    records them as the last write of the transaction, after its own change to the job)."""
    assert transaction.get_connection().in_atomic_block, "runs in the import's transaction"
    now = timezone.now()
    counts = Counts()
    actor = by
    label = _actor_label(actor)

    # Persons, then their employment (the person row points at its current employment).
    new_persons = list(plan.new_persons.values())
    person_ids = insert_rows(
        Person,
        [
            "id_number",
            "name",
            "former_names",
            "gender",
            "birth_date",
            "phone",
            "education",
            "position_id",
        ],
        [
            (
                p.id_number,
                p.name[:100],
                p.former_names,
                p.gender,
                p.birth_date,
                p.phone,
                p.education,
                p.position_id,
            )
            for p in new_persons
        ],
    )
    pk_of = {p.id_number: pk for p, pk in zip(new_persons, person_ids, strict=True)}
    pk_of.update(plan.existing_persons)
    counts.persons_created = len(new_persons)

    wanted = [
        (pk_of[p.id_number], p.contractor_id, p.department_id)
        for p in new_persons
        if p.contractor_id or p.department_id
    ]
    wanted += [(pk_of[i], c, d) for i, (c, d) in plan.new_employments.items()]
    sites = dict(
        Department.objects.filter(pk__in={d for _p, _c, d in wanted if d}).values_list(
            "pk", "effective_site_id"
        )
    )
    employment_rows = [
        (
            person_id,
            EmployerKind.CONTRACTOR if contractor_id else EmployerKind.OWN,
            contractor_id,
            department_id,
            sites.get(department_id),
            today,
        )
        for person_id, contractor_id, department_id in wanted
    ]
    employment_ids = insert_rows(
        Employment,
        ["person_id", "employer_kind", "contractor_id", "department_id", "site_id", "started_on"],
        employment_rows,
    )
    employed = [row[0] for row in employment_rows]
    for i in range(0, len(employed), CHUNK):
        Person.objects.filter(pk__in=employed[i : i + CHUNK]).update(
            current_employment=Subquery(
                Employment.objects.filter(person_id=OuterRef("pk"), ended_on__isnull=True)
                .order_by("-pk")
                .values("pk")[:1]
            ),
            updated_at=now,
        )
    counts.persons_updated = len(plan.new_employments)
    counts.persons_unchanged = len(plan.existing_persons) - len(plan.new_employments)
    employment_of = {
        row[0]: _employment_after(pk, row)
        for pk, row in zip(employment_ids, employment_rows, strict=True)
    }
    for p in new_persons:
        pk = pk_of[p.id_number]
        entries.append(
            audit.entry(
                action="people.person_imported",
                target=("people.person", str(pk), p.name),
                actor=actor,
                after={
                    "id_number": p.id_number,
                    "name": p.name,
                    "gender": p.gender,
                    "birth_date": _iso(p.birth_date),
                    "former_names": p.former_names,
                    "phone": p.phone,
                    "education": p.education,
                    "position_id": p.position_id,
                    "employment": employment_of.get(pk),
                    "import_job_id": job.pk,
                },
            )
        )
    for id_number in plan.new_employments:
        pk = pk_of[id_number]
        entries.append(
            audit.entry(
                action="people.employment_imported",
                target=("people.person", str(pk), id_number[-4:]),
                actor=actor,
                before={"current_employment_id": None},
                after={"employment": employment_of[pk], "import_job_id": job.pk},
            )
        )

    # Certificates: new records, their implied review events, then updates of existing ones.
    cert_fields = [
        "person_id",
        "scheme_id",
        "item_id",
        "number",
        "restriction",
        "first_issued_on",
        "issued_on",
        "valid_from",
        "valid_until",
        "next_review_due",
        "issuing_authority",
        "catalogue_version",
        "legacy_code",
        "import_job_id",
    ]
    cert_rows, reviews_of = [], []
    for id_number, c in plan.new_certs:
        reviews_of.append(c.reviews)
        cert_rows.append(
            (
                pk_of[id_number],
                c.item.scheme_id,
                c.item.pk,
                c.number,
                c.restriction,
                c.first_issued_on,
                c.issued_on,
                c.valid_from or c.issued_on,
                c.valid_until,
                c.next_review_due,
                c.issuing_authority,
                c.item.catalogue_version,
                c.legacy_code,
                job.pk,
            )
        )
    cert_ids = insert_rows(Certificate, cert_fields, cert_rows)
    counts.certificates_created = len(cert_ids)
    events = []
    for pk, row, passed, (_id, c) in zip(
        cert_ids, cert_rows, reviews_of, plan.new_certs, strict=True
    ):
        for due_on, on in passed:
            events.append(
                CertificateEvent(
                    certificate_id=pk,
                    kind=EventKind.REVIEW,
                    on=on,
                    due_on=due_on,
                    passed=True,
                    reason=REASON_LEDGER if on != due_on else REASON_IMPLIED,
                    actor_label=label,
                )
            )
        after = {name: _iso(value) for name, value in zip(cert_fields, row, strict=True)}
        after["reviews"] = [[_iso(d), _iso(o)] for d, o in passed]
        entries.append(
            audit.entry(
                action="certs.certificate_imported",
                target=("certs.certificate", str(pk), f"{c.item.code} {c.number}"),
                actor=actor,
                after=after,
            )
        )

    if plan.cert_updates:
        existing = Certificate.objects.select_related("item").in_bulk(
            [u.cert_id for u in plan.cert_updates]
        )
        changed_fields = {"updated_at", "import_job"}
        for u in plan.cert_updates:
            cert = existing[u.cert_id]
            for name, value in u.changes.items():
                setattr(cert, name, value)
                changed_fields.add(name)
            cert.updated_at = now
            cert.import_job_id = job.pk
            for due_on, on in u.reviews:
                events.append(
                    CertificateEvent(
                        certificate_id=cert.pk,
                        kind=EventKind.REVIEW,
                        on=on,
                        due_on=due_on,
                        passed=True,
                        reason=REASON_LEDGER if on != due_on else REASON_IMPLIED,
                        actor_label=label,
                    )
                )
            if u.extension:
                events.append(
                    CertificateEvent(
                        certificate_id=cert.pk,
                        kind=EventKind.EXTENSION,
                        on=today,
                        previous_valid_until=u.extension[0],
                        new_valid_until=u.extension[1],
                        reason=REASON_LEDGER,
                        actor_label=label,
                    )
                )
            entries.append(
                audit.entry(
                    action="certs.certificate_updated_by_import",
                    target=("certs.certificate", str(cert.pk), f"{cert.item.code} {cert.number}"),
                    actor=actor,
                    before={k: _iso(v) for k, v in u.before.items()},
                    after={
                        **{k: _iso(v) for k, v in u.changes.items()},
                        "reviews": [[_iso(d), _iso(o)] for d, o in u.reviews],
                        "import_job_id": job.pk,
                    },
                )
            )
        Certificate.objects.bulk_update(
            list(existing.values()), sorted(changed_fields), batch_size=500
        )
        counts.certificates_updated = len(plan.cert_updates)
    CertificateEvent.objects.bulk_create(events, batch_size=BATCH)
    counts.certificate_ids = cert_ids + [u.cert_id for u in plan.cert_updates]

    health_fields = [
        "person_id",
        "checked_on",
        "conclusion",
        "restricted_work_types",
        "restriction_reason",
        "valid_until",
    ]
    health_rows = [
        (
            pk_of[id_number],
            h.checked_on,
            h.conclusion,
            h.restricted_work_types,
            h.restriction_reason,
            h.valid_until,
        )
        for id_number, h in plan.new_health
    ]
    health_ids = insert_rows(HealthCheck, health_fields, health_rows)
    counts.health_checks_created = len(health_ids)
    for pk, row in zip(health_ids, health_rows, strict=True):
        entries.append(
            audit.entry(
                action="people.health_check_imported",
                target=("people.healthcheck", str(pk), f"{row[1]} {row[2]}"),
                actor=actor,
                after={
                    **{name: _iso(value) for name, value in zip(health_fields, row, strict=True)},
                    "import_job_id": job.pk,
                },
            )
        )
    counts.unchanged = plan.unchanged + counts.persons_unchanged
    return counts


def _employment_after(pk: int, row: tuple) -> dict:
    person_id, kind, contractor_id, department_id, site_id, started_on = row
    return {
        "id": pk,
        "employer_kind": str(kind),
        "contractor_id": contractor_id,
        "department_id": department_id,
        "site_id": site_id,
        "started_on": _iso(started_on),
    }


def _actor_label(actor) -> str:
    if actor is None:
        return _("system")
    return actor.get_username() if hasattr(actor, "get_username") else str(actor)
