"""The chemical park data exchange (AQ 3064.2-2025 §8.2, Annex A): the permit and alarm records in
the Annex's field set and codes, the outbox they are pushed through, its delivery, and the full
export for a period.

- `permit_record(permit)` / `alarm_record(alarm)`: one record, named and coded as
  `catalogue/annex_a.yaml` says (the Annex's names are data beside our model's). A constant number
  of queries per record (for a permit 1 inside a service call, else 4; 1 for an alarm), whatever
  the crew's size.
- `enqueue_permit(permit, at=…)` / `enqueue_alarm(alarm, at=…)`: called by the services in the
  transaction of every approval-flow move and alarm state change; write one `ParkPush` row, the
  record as it is then, with the object's next version. Nothing leaves inside the transaction;
  a delivery task is queued when it commits.
- `deliver_due(now)`: claim due rows under a lease, POST each, signed; a later version of an
  object waits until the earlier ones are sent; retry with exponential backoff; give up (dead)
  after `SAFEWORK_PARK_MAX_ATTEMPTS`.

The receiver's contract (README, "Park data exchange"): a JSON body
`{"kind", "id", "version", "company_code", "record"}`; headers `Idempotency-Key: <id>:<version>`
(the same for every attempt of one row: a receiver that saw it answers 2xx and drops the repeat),
`X-SafeWork-Timestamp` (Unix seconds) and `X-SafeWork-Signature: sha256=<hex>`, the HMAC-SHA256
under the shared secret of the timestamp, a dot and the raw body (so a replayed body with a new
timestamp does not verify). Versions of one object arrive in order; a version lower than one
already stored is a repeat.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import logging
import time
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
from django.db import connection, models, transaction
from django.db.models import Exists, F, OuterRef, Prefetch, Q, Subquery
from django.utils import timezone

from safework.accounts.models import User
from safework.certs.models import Certificate, CertificateItem, CertState, Scheme
from safework.core import jobs, memo
from safework.core.catalogue import read_yaml
from safework.core.clock import start_of_day
from safework.org.models import Department, Group
from safework.people.models import Contractor, Person
from safework.permits.conf import ParkSettings, park_settings
from safework.permits.models import (
    Alarm,
    CrewAssignment,
    GasTest,
    ParkPush,
    Permit,
    PermitEvent,
)
from safework.permits.workflow import PermitStatus
from safework.work.models import CrewRole

log = logging.getLogger(__name__)

ANNEX_FILE = Path(__file__).parent / "catalogue" / "annex_a.yaml"
SUPERSEDED = "superseded"  # a status key of the Annex's map: closed by a change, not accepted
VERSION_TRIES = 5  # inserts of one version tried before giving up (each after a concurrent one)
SIGNATURE_HEADER = "X-SafeWork-Signature"
TIMESTAMP_HEADER = "X-SafeWork-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_LIMIT = 1000  # pushes one delivery run sends at most; the next run takes the rest


# ---- the Annex as data ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Annex:
    clause: str
    time_zone: zoneinfo.ZoneInfo
    separator: str
    flag_set: object
    flag_unset: object
    permit_fields: tuple[tuple[str, str], ...]  # (field, source)
    alarm_fields: tuple[tuple[str, str], ...]
    type_codes: dict[str, dict[str, str]]
    status_codes: dict[str, str]
    gas_work_types: frozenset[str]
    certificate_schemes: tuple[str, ...]

    def flag(self, value: bool):
        return self.flag_set if value else self.flag_unset


@functools.cache
def annex() -> Annex:
    """`catalogue/annex_a.yaml`, read once and checked: every source it names is one this module
    fills, every status has a code."""
    raw = read_yaml(ANNEX_FILE)
    formats = raw["formats"]
    data = Annex(
        clause=raw["clause"],
        time_zone=zoneinfo.ZoneInfo(formats["time_zone"]),
        separator=formats["separator"],
        flag_set=formats["flag_set"],
        flag_unset=formats["flag_unset"],
        permit_fields=tuple((f["field"], f["source"]) for f in raw["permit_fields"]),
        alarm_fields=tuple((f["field"], f["source"]) for f in raw["alarm_fields"]),
        type_codes={
            wt: {str(level): str(code) for level, code in levels.items()}
            for wt, levels in raw["type_codes"].items()
        },
        status_codes={str(k): str(v) for k, v in raw["status_codes"].items()},
        gas_work_types=frozenset(raw["gas_work_types"]),
        certificate_schemes=tuple(raw["certificate_schemes"]),
    )
    unknown = {s for _, s in data.permit_fields} - set(PERMIT_SOURCES)
    unknown |= {s for _, s in data.alarm_fields} - set(ALARM_SOURCES)
    missing = {*PermitStatus.values, SUPERSEDED} - set(data.status_codes)
    if unknown or missing:
        raise ValueError(f"{ANNEX_FILE}: unknown sources {sorted(unknown)}, no code for {missing}")
    return data


def type_code(permit: Permit) -> str | None:
    """The Annex's type code of the permit's work type and level (Table A.2): the work app's
    `aq_type_code` where the catalogue has one, else the map in annex_a.yaml; None for a
    combination the Annex has no code for (a hot-work permit whose level is not set yet)."""
    level, work_type = permit.level, permit.work_type
    own = getattr(level, "aq_type_code", "") or getattr(work_type, "aq_type_code", "")
    if own:
        return own
    codes = annex().type_codes.get(work_type.code, {})
    return codes.get(level.code if level else "")


def status_key(permit: Permit, *, at: dt.datetime) -> str:
    """The permit's status as the Annex's map reads it: the status at `at` (expired when past
    validity, stored or not), and `superseded` for a permit closed by a change."""
    status = permit.status_at(at)
    if status == PermitStatus.CLOSED and permit.accepted_at is None:
        return SUPERSEDED
    return status


def status_code(permit: Permit, *, at: dt.datetime) -> str:
    return annex().status_codes[status_key(permit, at=at)]


# ---- formatting ----------------------------------------------------------------------------------
def _time(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(annex().time_zone).isoformat(timespec="seconds")


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _decimal_text(value: Decimal) -> str:
    # 0.200 → "0.2", 10.000 → "10" (normalize alone would write 1E+1).
    return format(value.normalize(), "f")


def _join(values: Iterable[str]) -> str | None:
    values = [v for v in values if v]
    return annex().separator.join(values) if values else None


def _user_label(user) -> str | None:
    if user is None:
        return None
    person = getattr(user, "person", None)
    return (person.name if person else "") or user.get_full_name() or user.get_username()


# ---- the permit record ---------------------------------------------------------------------------
def _crew_prefetch() -> Prefetch:
    """The current crew, with each member's person and role and the workers' certificates of the
    listed schemes (2 queries)."""
    certificates = (
        Certificate.objects.filter(
            scheme__code__in=annex().certificate_schemes, state=CertState.ACTIVE
        )
        .select_related("item")
        .order_by("item__code", "number", "id")
    )
    crew = (
        CrewAssignment.objects.filter(removed_at__isnull=True)
        .select_related("person", "role")
        .prefetch_related(
            Prefetch("person__certificates", queryset=certificates, to_attr="park_certificates")
        )
        .order_by("id")
    )
    return Prefetch("crew", queryset=crew, to_attr="park_crew")


def _gas_prefetch() -> Prefetch:
    return Prefetch(
        "gas_tests",
        queryset=GasTest.objects.order_by("-taken_at", "gas", "id"),
        to_attr="park_gas_tests",
    )


def _last_actor() -> Subquery:
    return Subquery(
        PermitEvent.objects.filter(permit=OuterRef("pk"))
        .exclude(actor_label="")
        .order_by("-at", "-id")
        .values("actor_label")[:1]
    )


def permits_for_records() -> models.QuerySet[Permit]:
    """Permits with everything their records read, in a constant number of queries: the permit
    with its one-to-one neighbours and last actor (1), its current crew (1), the workers'
    certificates of the listed schemes (1), its gas tests (1)."""
    return (
        Permit.objects.select_related(
            "work_type",
            "level",
            "site__group",
            "area",
            "work_unit",
            "contractor",
            "work_leader",
            "applicant__person",
        )
        .prefetch_related(_crew_prefetch(), _gas_prefetch())
        .annotate(park_last_actor=_last_actor())
    )


def _latest_round(permit: Permit) -> list[GasTest]:
    """Every gas test taken at the latest sampling instant (one round may measure several
    gases); none for a work type the Annex gives no gas fields."""
    if permit.work_type.code not in annex().gas_work_types or not permit.park_gas_tests:
        return []
    latest = permit.park_gas_tests[0].taken_at
    return [t for t in permit.park_gas_tests if t.taken_at == latest]


def _crew(permit: Permit, role: str) -> list[CrewAssignment]:
    return [c for c in permit.park_crew if c.role.code == role]


def _usable_certificates(permit: Permit) -> list[Certificate]:
    # Valid on the local date the work starts; the qualification engine has refused a crew
    # without the certificates the work needs, so these are the ones the work relies on.
    on = timezone.localdate(permit.planned_start)
    out = []
    for member in _crew(permit, "worker"):
        out += [c for c in member.person.park_certificates if c.valid_from <= on <= c.valid_until]
    return out


def _coordinates(permit: Permit) -> tuple[Decimal | None, Decimal | None]:
    """The permit's point; without one, its area's centre; without that, its site's."""
    if permit.longitude is not None and permit.latitude is not None:
        return permit.longitude, permit.latitude
    area = permit.area
    if area is not None and area.center_longitude is not None and area.center_latitude is not None:
        return area.center_longitude, area.center_latitude
    return permit.site.longitude, permit.site.latitude


def _place(permit: Permit) -> str:
    area = permit.area.name if permit.area else ""
    return " ".join(p for p in (permit.site.name, area, permit.place) if p)


def _group_name(permit: Permit) -> str:
    # Read beside the permit row by `permit_record` inside a service call (see `_reread`).
    name = getattr(permit, "park_group_name", None)
    return permit.site.group.name if name is None else name


def _work_leader(permit: Permit):
    if permit.work_leader is not None:
        return permit.work_leader
    leads = _crew(permit, "site_lead")
    return leads[0].person if leads else None


def _permit_values(permit: Permit, at: dt.datetime) -> dict[str, object]:
    conf, data = park_settings(), annex()
    gas = _latest_round(permit)
    certificates = _usable_certificates(permit)
    longitude, latitude = _coordinates(permit)
    leader = _work_leader(permit)
    created_by = _user_label(permit.applicant)
    cancelled = permit.status == PermitStatus.CANCELLED
    return {
        "uuid": str(permit.uuid),
        "company_name": conf.company_name or _group_name(permit),
        "company_code": conf.company_code or None,
        "type_code": type_code(permit),
        "gas_name": _join(t.gas for t in gas),
        "gas_time": _time(gas[0].taken_at) if gas else None,
        "gas_value": _join(f"{_decimal_text(t.value)} {t.unit}".strip() for t in gas),
        "approved_at": _time(permit.approved_at),
        "planned_start": _time(permit.planned_start),
        "planned_end": _time(permit.planned_end),
        "accepted_at": _time(permit.accepted_at),
        "place": _place(permit),
        "content": permit.content,
        "longitude": _number(longitude),
        "latitude": _number(latitude),
        "status_code": status_code(permit, at=at),
        "guardian_names": _join(c.person.name for c in _crew(permit, "guardian")),
        "worker_names": _join(c.person.name for c in _crew(permit, "worker")),
        "cert_names": _join(c.item.name for c in certificates),
        "cert_numbers": _join(c.number for c in certificates),
        "work_unit": permit.contractor.name
        if permit.contractor
        else (permit.work_unit.name if permit.work_unit else None),
        "contractor_flag": data.flag(permit.contractor_id is not None),
        "work_leader": leader.name if leader else None,
        "work_leader_mobile": (leader.phone or None) if leader else None,
        "changed_flag": data.flag(bool(permit.change_reason)),
        "change_reason": permit.change_reason or None,
        "cancelled_flag": data.flag(cancelled),
        "cancel_reason": (permit.cancel_reason or None) if cancelled else None,
        # Permits are never deleted (GB 30871-2022 §4.18 keeps them); the flag is always unset.
        "deleted_flag": data.flag(False),
        "created_by": created_by,
        "created_at": _time(permit.created_at),
        "updated_by": permit.park_last_actor or created_by,
        "updated_at": _time(permit.updated_at),
    }


PERMIT_SOURCES = frozenset(
    [
        "uuid",
        "company_name",
        "company_code",
        "type_code",
        "gas_name",
        "gas_time",
        "gas_value",
        "approved_at",
        "planned_start",
        "planned_end",
        "accepted_at",
        "place",
        "content",
        "longitude",
        "latitude",
        "status_code",
        "guardian_names",
        "worker_names",
        "cert_names",
        "cert_numbers",
        "work_unit",
        "contractor_flag",
        "work_leader",
        "work_leader_mobile",
        "changed_flag",
        "change_reason",
        "cancelled_flag",
        "cancel_reason",
        "deleted_flag",
        "created_by",
        "created_at",
        "updated_by",
        "updated_at",
    ]
)


def _named(values: dict[str, object], fields: tuple[tuple[str, str], ...]) -> dict[str, object]:
    return {name: values[source] for name, source in fields}


def record_of_loaded_permit(permit: Permit, *, at: dt.datetime) -> dict[str, object]:
    """The record of a permit read through `permits_for_records()` (no query)."""
    return _named(_permit_values(permit, at), annex().permit_fields)


def permit_record(permit: Permit, *, at: dt.datetime | None = None) -> dict[str, object]:
    """The permit's Annex A record (Table A.1) as stored now, its status as read at `at` (default:
    now). Reads the permit again with what the record needs (1 query inside a service call, else
    4): call it after the change is saved."""
    loaded = _reread(permit) or permits_for_records().get(pk=permit.pk)
    return record_of_loaded_permit(loaded, at=at or timezone.now())


# The reference rows a service call's locked permit holds (`services._lock` selects them).
HELD = ("work_type", "level", "site", "area")


# What `_permit_values` reads of the crew, its certificates and the gas tests, as `_reread` builds
# them from its JSON columns: a model instance costs several times as much to build.
@dataclass(slots=True)
class _Role:
    code: str


@dataclass(slots=True)
class _CertificateItem:
    name: str


@dataclass(slots=True)
class _Certificate:
    item: _CertificateItem
    number: str
    valid_from: dt.date
    valid_until: dt.date


@dataclass(slots=True)
class _Person:
    name: str
    phone: str
    park_certificates: list[_Certificate]


@dataclass(slots=True)
class _CrewMember:
    role: _Role
    person: _Person


@dataclass(slots=True)
class _GasReading:
    gas: str
    value: Decimal
    unit: str
    taken_at: dt.datetime


def _json_rows(values: list[str], source: str, order: str) -> str:
    """A scalar subquery: the rows of `source` (FROM … WHERE …) as a JSON array of arrays of
    `values`, in `order`, as text (NULL or '[]' for none). PostgreSQL orders the aggregate
    itself; SQLite (no ORDER BY inside an aggregate before 3.44) keeps the order of the sorted
    subquery its aggregate reads."""
    columns = ", ".join(values)
    if connection.vendor == "postgresql":
        rows = f"json_agg(json_build_array({columns}) ORDER BY {order})"
        return f"(SELECT CAST({rows} AS text) {source})"
    return (
        f"(SELECT json_group_array(json(ordered.j)) FROM "
        f"(SELECT json_array({columns}) AS j {source} ORDER BY {order}) ordered)"
    )


def _among(subquery: str) -> str:
    # PostgreSQL plans `IN (SELECT …)` as a semi-join, ~0.1 ms of planning each; an array of the
    # subquery's values is computed once and only compared.
    if connection.vendor == "postgresql":
        return f"= ANY(ARRAY({subquery}))"
    return f"IN ({subquery})"


@functools.cache
def _reread_statement(gas: bool) -> tuple[str, tuple[str, ...]]:
    """The permit row and, as scalar subqueries, its last actor, the names the record takes from
    its other neighbours, and as JSON its current crew, the workers' certificates of the listed
    schemes and, when `gas`, its latest round of gas tests; and the statement's constant
    parameters. Parameters: the site's group id, the constants, the permit's id.

    Each neighbour's value is a primary-key lookup of its own, never a join: PostgreSQL plans
    every statement afresh (client-side binding), and a join costs more to plan than to run.
    Written out once: the ORM spent more CPU compiling the annotated query than the database
    spent running it."""
    qn = connection.ops.quote_name

    def table(model) -> str:
        return qn(model._meta.db_table)

    def col(alias: str, model, name: str) -> str:
        return f"{alias}.{qn(model._meta.get_field(name).column)}"

    def key(alias: str, model) -> str:
        return f"{alias}.{qn(model._meta.pk.column)}"

    def lookup(model, name: str, row_key: str) -> str:
        return (
            f"(SELECT {col('v', model, name)} FROM {table(model)} v "
            f"WHERE {key('v', model)} = {row_key})"
        )

    permit_id = key("p", Permit)
    applicant = col("p", Permit, "applicant")
    leader = col("p", Permit, "work_leader")
    person = col("a", CrewAssignment, "person")
    current_crew = (
        f"FROM {table(CrewAssignment)} a WHERE {col('a', CrewAssignment, 'permit')} = {permit_id} "
        f"AND {col('a', CrewAssignment, 'removed_at')} IS NULL"
    )
    schemes = annex().certificate_schemes
    extras = {
        "park_last_actor": (
            f"(SELECT {col('e', PermitEvent, 'actor_label')} FROM {table(PermitEvent)} e "
            f"WHERE {col('e', PermitEvent, 'permit')} = {permit_id} "
            f"AND {col('e', PermitEvent, 'actor_label')} <> '' "
            f"ORDER BY {col('e', PermitEvent, 'at')} DESC, {key('e', PermitEvent)} DESC "
            "LIMIT 1)"
        ),
        "park_contractor": lookup(Contractor, "name", col("p", Permit, "contractor")),
        "park_work_unit": lookup(Department, "name", col("p", Permit, "work_unit")),
        "park_leader_name": lookup(Person, "name", leader),
        "park_leader_phone": lookup(Person, "phone", leader),
        "park_username": lookup(User, User.USERNAME_FIELD, applicant),
        "park_first_name": lookup(User, "first_name", applicant),
        "park_last_name": lookup(User, "last_name", applicant),
        "park_person_id": lookup(User, "person", applicant),
        "park_person_name": lookup(Person, "name", lookup(User, "person", applicant)),
        "park_group_name": lookup(Group, "name", "%s"),
        # [role code, person id, name, phone], by assignment.
        "park_crew_json": _json_rows(
            [
                lookup(CrewRole, "code", col("a", CrewAssignment, "role")),
                person,
                lookup(Person, "name", person),
                lookup(Person, "phone", person),
            ],
            current_crew,
            key("a", CrewAssignment),
        ),
        # [person id, item name, number, valid from, valid until]: the workers' only, the ones
        # the record reads.
        "park_certificates_json": _json_rows(
            [
                col("c", Certificate, "person"),
                lookup(CertificateItem, "name", col("c", Certificate, "item")),
                col("c", Certificate, "number"),
                col("c", Certificate, "valid_from"),
                col("c", Certificate, "valid_until"),
            ],
            f"FROM {table(Certificate)} c WHERE {col('c', Certificate, 'scheme')} "
            + _among(
                f"SELECT {key('s', Scheme)} FROM {table(Scheme)} s "
                f"WHERE {col('s', Scheme, 'code')} IN ({', '.join(['%s'] * len(schemes))})"
            )
            + f" AND {col('c', Certificate, 'state')} = %s AND {col('c', Certificate, 'person')} "
            + _among(
                f"SELECT {person} {current_crew} AND {col('a', CrewAssignment, 'role')} = "
                f"(SELECT {key('r', CrewRole)} FROM {table(CrewRole)} r "
                f"WHERE {col('r', CrewRole, 'code')} = %s)"
            ),
            f"{lookup(CertificateItem, 'code', col('c', Certificate, 'item'))}, "
            f"{col('c', Certificate, 'number')}, {key('c', Certificate)}",
        ),
    }
    constants = (*schemes, CertState.ACTIVE.value, "worker")
    if gas:
        # [gas, value as text (exact: never a JSON float), unit, taken at]: the latest round.
        taken_at = col("t", GasTest, "taken_at")
        extras["park_gas_json"] = _json_rows(
            [
                col("t", GasTest, "gas"),
                f"CAST({col('t', GasTest, 'value')} AS text)",
                col("t", GasTest, "unit"),
                taken_at,
            ],
            f"FROM {table(GasTest)} t WHERE {col('t', GasTest, 'permit')} = {permit_id} "
            f"AND {taken_at} = (SELECT MAX({col('u', GasTest, 'taken_at')}) "
            f"FROM {table(GasTest)} u WHERE {col('u', GasTest, 'permit')} = {permit_id})",
            f"{col('t', GasTest, 'gas')}, {key('t', GasTest)}",
        )
    columns = ", ".join(f"p.{qn(f.column)}" for f in Permit._meta.concrete_fields)
    selected = ", ".join(f"{sql} AS {qn(name)}" for name, sql in extras.items())
    sql = f"SELECT {columns}, {selected} FROM {table(Permit)} p WHERE {permit_id} = %s"
    return sql, constants


def _instant(text: str) -> dt.datetime:
    # PostgreSQL writes the offset; SQLite stores naive instants in the connection's zone (UTC).
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=connection.timezone)


GAS_VALUE_QUANTUM = Decimal(1).scaleb(-GasTest._meta.get_field("value").decimal_places)


def _crew_of(crew_json: str | None, certificates_json: str | None) -> list[_CrewMember]:
    certificates: dict[int, list[_Certificate]] = {}
    for person_id, item, number, valid_from, valid_until in json.loads(certificates_json or "[]"):
        certificates.setdefault(person_id, []).append(
            _Certificate(
                _CertificateItem(item),
                number,
                dt.date.fromisoformat(valid_from),
                dt.date.fromisoformat(valid_until),
            )
        )
    return [
        _CrewMember(_Role(role), _Person(name, phone, certificates.get(person_id, [])))
        for role, person_id, name, phone in json.loads(crew_json or "[]")
    ]


def _gas_round(gas_json: str | None) -> list[_GasReading]:
    # SQLite keeps a decimal as a number (0.200 reads back as 0.2): quantized as the field is.
    return [
        _GasReading(gas, Decimal(value).quantize(GAS_VALUE_QUANTUM), unit, _instant(taken_at))
        for gas, value, unit, taken_at in json.loads(gas_json or "[]")
    ]


def _reread(permit: Permit) -> Permit | None:
    """Inside a service call: the permit's row read again without joins (a 12-table join costs
    PostgreSQL ~2 ms of planning alone, the rest of the record ~0.3 ms), in one statement. Its
    reference rows (work type, level, site, area) are the ones the call already holds on
    `permit`, read in its transaction under the permit's lock; the few names the record takes
    from the other neighbours come as scalar subqueries of the same statement, and so, as JSON,
    do the current crew, the workers' certificates and, for a work type with gas fields only,
    the latest round of gas tests, built into the few plain objects the record reads (the ORM's
    prefetches cost 3 more queries and ~3 ms of CPU).

    None (the caller reads everything) outside a service call, where what an instance holds may
    be older than the database, or when the instance does not hold those rows, or holds others
    than the row now names."""
    if not memo.active():
        return None
    cache = permit._state.fields_cache
    if any(name not in cache for name in HELD):
        return None
    held = {name: cache[name] for name in HELD}
    site = held["site"]
    gas = held["work_type"] is not None and held["work_type"].code in annex().gas_work_types
    sql, constants = _reread_statement(gas)
    row = next(iter(Permit.objects.raw(sql, [site.group_id, *constants, permit.pk])), None)
    if row is None or any(
        getattr(row, f"{name}_id") != (obj.pk if obj is not None else None)
        for name, obj in held.items()
    ):
        return None
    row.park_crew = _crew_of(row.park_crew_json, row.park_certificates_json)
    row.park_gas_tests = _gas_round(row.park_gas_json) if gas else []
    fields = row._state.fields_cache
    fields.update(held)
    # The other neighbours as the record reads them (this instance is the record's alone).
    fields["contractor"] = (
        Contractor(pk=row.contractor_id, name=row.park_contractor) if row.contractor_id else None
    )
    fields["work_unit"] = (
        Department(pk=row.work_unit_id, name=row.park_work_unit) if row.work_unit_id else None
    )
    fields["work_leader"] = (
        Person(pk=row.work_leader_id, name=row.park_leader_name, phone=row.park_leader_phone)
        if row.work_leader_id
        else None
    )
    applicant = User(
        pk=row.applicant_id,
        first_name=row.park_first_name,
        last_name=row.park_last_name,
        **{User.USERNAME_FIELD: row.park_username},
    )
    applicant._state.fields_cache["person"] = (
        Person(pk=row.park_person_id, name=row.park_person_name) if row.park_person_id else None
    )
    fields["applicant"] = applicant
    return row


# ---- the alarm record ----------------------------------------------------------------------------
def alarms_for_records() -> models.QuerySet[Alarm]:
    """Alarms with everything their records read (1 query)."""
    return Alarm.objects.select_related(
        "alarm_type",
        "permit",
        "acknowledged_by__person",
        "handled_by__person",
        "cleared_by__person",
    )


def _alarm_values(alarm: Alarm) -> dict[str, object]:
    # The alarm's last step says who changed it last and when: cleared, handled, acknowledged.
    steps = [
        (alarm.cleared_at, alarm.cleared_by),
        (alarm.handled_at, alarm.handled_by),
        (alarm.acknowledged_at, alarm.acknowledged_by),
    ]
    last_at, last_by = next(((t, u) for t, u in steps if t is not None), (None, None))
    return {
        "uuid": str(alarm.uuid),
        "permit_uuid": str(alarm.permit.uuid) if alarm.permit_id else None,
        "raised_at": _time(alarm.raised_at),
        "type_code": alarm.alarm_type.code,
        "cleared_at": _time(alarm.cleared_at),
        "note": alarm.note or None,
        "deleted_flag": annex().flag(False),
        # Raised by SafeWork's own gates and clock (or a sensor, named as the source).
        "created_by": alarm.source_label or "SafeWork",
        "created_at": _time(alarm.raised_at),
        "updated_by": (_user_label(last_by) if last_at else None)
        or alarm.source_label
        or "SafeWork",
        "updated_at": _time(last_at or alarm.raised_at),
    }


ALARM_SOURCES = frozenset(
    [
        "uuid",
        "permit_uuid",
        "raised_at",
        "type_code",
        "cleared_at",
        "note",
        "deleted_flag",
        "created_by",
        "created_at",
        "updated_by",
        "updated_at",
    ]
)


def record_of_loaded_alarm(alarm: Alarm) -> dict[str, object]:
    return _named(_alarm_values(alarm), annex().alarm_fields)


def alarm_record(alarm: Alarm) -> dict[str, object]:
    """The alarm's Annex A record (Table A.3) as stored now (1 query)."""
    return record_of_loaded_alarm(alarms_for_records().get(pk=alarm.pk))


# ---- the outbox ----------------------------------------------------------------------------------
def enqueue_permit(permit: Permit, *, at: dt.datetime) -> ParkPush:
    """Queue the permit's record as it is now for the park, in the caller's transaction (call it
    after saving the change, in every approval-flow move: submit, approve, reject, start, suspend,
    resume, complete, accept, close, supersede, cancel, expire, reapprove)."""
    return _enqueue(ParkPush.Kind.PERMIT, permit.uuid, permit_record(permit, at=at), at=at)


def enqueue_alarm(alarm: Alarm, *, at: dt.datetime) -> ParkPush:
    """Queue the alarm's record as it is now, in the caller's transaction (raise, acknowledge,
    handle, clear)."""
    return _enqueue(ParkPush.Kind.ALARM, alarm.uuid, alarm_record(alarm), at=at)


def _insert_next_version(push: ParkPush) -> bool:
    """INSERT `push` with its object's next version, read in the same statement (MAX + 1); True
    when the row was written, False when a concurrent transaction took that version first (the
    unique constraint: PostgreSQL waits for that transaction, then inserts nothing)."""
    meta = ParkPush._meta
    qn = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key and f.name != "version"]
    kind, object_uuid = (meta.get_field(n) for n in ("kind", "object_uuid"))
    table = qn(meta.db_table)
    columns = ", ".join(qn(f.column) for f in fields)
    values = ", ".join(["%s"] * len(fields))
    sql = (
        f"INSERT INTO {table} ({columns}, {qn('version')}) VALUES ({values}, "
        f"(SELECT COALESCE(MAX({qn('version')}), 0) + 1 FROM {table} "
        f"WHERE {qn(kind.column)} = %s AND {qn(object_uuid.column)} = %s)) "
        f"ON CONFLICT ({qn(kind.column)}, {qn(object_uuid.column)}, {qn('version')}) DO NOTHING "
        f"RETURNING {qn(meta.pk.column)}, {qn('version')}"
    )
    params = [f.get_db_prep_save(f.pre_save(push, True), connection) for f in fields]
    params += [
        kind.get_db_prep_save(push.kind, connection),
        object_uuid.get_db_prep_save(push.object_uuid, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    push.pk, push.version = row
    push._state.adding, push._state.db = False, connection.alias
    return True


def _enqueue(kind: str, object_uuid, record: dict, *, at: dt.datetime) -> ParkPush:
    """One outbox row with the object's next version, in one statement.

    Race-safe by the unique constraint (kind, object_uuid, version), not by a lock: when a
    concurrent transaction took the version first (PostgreSQL makes the insert wait for it, then
    inserts nothing: ON CONFLICT DO NOTHING), the next one is read and tried again. The services
    also hold the permit's (or alarm's) row lock, so this seldom happens; the constraint is what
    makes it right when it does. On SQLite the IMMEDIATE transaction serialises writers anyway.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("a park push is written in the transaction of the change it reports")
    for _ in range(VERSION_TRIES):
        push = ParkPush(
            kind=kind,
            object_uuid=object_uuid,
            payload=record,
            next_attempt_at=at,
            created_at=at,
        )
        if not _insert_next_version(push):
            continue
        if park_settings().configured:
            jobs.enqueue(push)  # a delivery run right after the commit, not a minute later
        return push
    raise RuntimeError(f"no free version for {kind} {object_uuid} after {VERSION_TRIES} tries")


# ---- delivery ------------------------------------------------------------------------------------
@dataclass
class Delivery:
    """What one delivery run did."""

    configured: bool = True
    problem: str = ""  # why nothing was sent (not configured)
    sent: int = 0
    retrying: int = 0  # failed, to be tried again after their backoff
    dead: int = 0  # failed for the last allowed time: given up
    errors: list[str] = field(default_factory=list)


def due_q(now: dt.datetime) -> Q:
    """Pending rows whose time has come and that no worker holds (or whose worker's lease ran
    out: killed mid-delivery)."""
    return Q(state=ParkPush.State.PENDING, next_attempt_at__lte=now) & (
        Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    )


def _earlier_pending() -> Exists:
    # A later version waits while an earlier one of the same object is pending (queued, in
    # backoff, or held by a worker). A dead earlier version does not hold it up: every record is
    # the object's whole state, so the later one carries what the dead one said.
    return Exists(
        ParkPush.objects.filter(
            kind=OuterRef("kind"),
            object_uuid=OuterRef("object_uuid"),
            version__lt=OuterRef("version"),
            state=ParkPush.State.PENDING,
        )
    )


def claim_due(now: dt.datetime, *, limit: int, lease: dt.timedelta) -> list[ParkPush]:
    """Take up to `limit` due rows, at most one per object (its lowest pending version), for
    `lease`, counting the attempt; the rows taken, in order.

    Two workers never take the same row: on PostgreSQL the rows are read FOR UPDATE SKIP LOCKED
    (a row another worker is claiming is skipped, not waited for) and the lease is written in the
    same transaction; on SQLite the IMMEDIATE transaction holds the writer lock from its first
    statement, so claims run one after another and the second sees the first's lease.
    """
    lease_until = now + lease
    with transaction.atomic():
        ids = list(
            ParkPush.objects.select_for_update(skip_locked=True)
            .filter(due_q(now))
            .filter(~_earlier_pending())
            .order_by("id")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        ParkPush.objects.filter(pk__in=ids).update(
            lease_until=lease_until, attempts=F("attempts") + 1
        )
        return list(ParkPush.objects.filter(pk__in=ids).order_by("id"))


def body_of(push: ParkPush, conf: ParkSettings) -> bytes:
    """The request body of a push: the same bytes for every attempt of the row."""
    envelope = {
        "kind": push.kind,
        "id": str(push.object_uuid),
        "version": push.version,
        "company_code": conf.company_code or None,
        "record": push.payload,
    }
    return json.dumps(envelope, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 under `secret` of the timestamp, a dot and the raw body."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def idempotency_key(push: ParkPush) -> str:
    return f"{push.object_uuid}:{push.version}"


def _post(client: httpx.Client, push: ParkPush, conf: ParkSettings) -> str:
    """Send one push; "" when the park took it (2xx), else what went wrong."""
    body = body_of(push, conf)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(conf.secret, timestamp, body),
        IDEMPOTENCY_HEADER: idempotency_key(push),
    }
    try:
        response = client.post(conf.url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        return f"timeout after {conf.timeout:g} s ({type(exc).__name__})"
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return ""
    return f"HTTP {response.status_code}: {response.text[:300]}"


def _mark_sent(push: ParkPush, *, at: dt.datetime) -> bool:
    # Whoever sends first marks it; a second sender (a worker whose lease ran out, the row taken
    # over) finds it sent and changes nothing: a row is marked sent once.
    return bool(
        ParkPush.objects.filter(pk=push.pk, state=ParkPush.State.PENDING).update(
            state=ParkPush.State.SENT, sent_at=at, lease_until=None, last_error=""
        )
    )


def _mark_failed(push: ParkPush, error: str, *, at: dt.datetime, conf: ParkSettings) -> str:
    """Record a failed attempt: dead after the last allowed one, else pending after its backoff.
    Only while the row is still this worker's (its lease unchanged); the new state or ""."""
    mine = ParkPush.objects.filter(
        pk=push.pk, state=ParkPush.State.PENDING, lease_until=push.lease_until
    )
    if push.attempts >= conf.max_attempts:
        changed = mine.update(state=ParkPush.State.DEAD, lease_until=None, last_error=error)
        return ParkPush.State.DEAD if changed else ""
    changed = mine.update(
        next_attempt_at=at + conf.wait_after(push.attempts), lease_until=None, last_error=error
    )
    return ParkPush.State.PENDING if changed else ""


def deliver_due(
    now: dt.datetime | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    transport: httpx.BaseTransport | None = None,
) -> Delivery:
    """Send the pushes that are due at `now` (default: the clock), at most `limit`; what was done.

    Claims, leases, backoff and `sent_at` are measured from `now`. Safe to run in several
    workers at once and to run again after a crash: a row is claimed by one worker at a time
    (`claim_due`), and one whose worker died is claimed again when its lease has run out; the
    receiver drops a repeat by its idempotency key. Versions of one object go out in order.
    """
    now = now or timezone.now()
    conf = park_settings()
    if not conf.url:
        return Delivery(configured=False, problem="SAFEWORK_PARK_URL is not set")
    if not conf.secret:
        return Delivery(configured=False, problem="SAFEWORK_PARK_SECRET is not set")
    done = Delivery()
    taken = 0
    with httpx.Client(timeout=conf.timeout, transport=transport) as client:
        while taken < limit:
            batch = claim_due(now, limit=min(conf.batch, limit - taken), lease=conf.lease)
            if not batch:
                break
            taken += len(batch)
            for push in batch:
                error = _post(client, push, conf)
                if not error:
                    done.sent += _mark_sent(push, at=now)
                    continue
                log.warning("park push %s v%s failed: %s", push.object_uuid, push.version, error)
                done.errors.append(f"{push.kind} {push.object_uuid} v{push.version}: {error}")
                state = _mark_failed(push, error, at=now, conf=conf)
                if state == ParkPush.State.DEAD:
                    done.dead += 1
                elif state:
                    done.retrying += 1
    return done


# ---- status, retry, export -----------------------------------------------------------------------
@dataclass
class Status:
    configured: bool
    counts: dict[str, int]
    due: int  # pending and due now
    oldest_pending: dt.datetime | None
    dead: list[ParkPush]  # the given-up rows (newest first, at most 50)


def status(now: dt.datetime | None = None) -> Status:
    now = now or timezone.now()
    counts = dict.fromkeys(ParkPush.State.values, 0)
    counts.update(ParkPush.objects.values_list("state").annotate(n=models.Count("id")).order_by())
    pending = ParkPush.objects.filter(state=ParkPush.State.PENDING)
    oldest = pending.order_by("created_at").values_list("created_at", flat=True).first()
    dead = list(ParkPush.objects.filter(state=ParkPush.State.DEAD).order_by("-id")[:50])
    return Status(
        configured=park_settings().configured,
        counts=counts,
        due=ParkPush.objects.filter(due_q(now)).count(),
        oldest_pending=oldest,
        dead=dead,
    )


def retry_dead(now: dt.datetime | None = None) -> tuple[int, int]:
    """Give the dead rows a new set of attempts from `now`: (requeued, left dead because a later
    version of the object was sent already, which carries the object's whole state; sending the
    older one now would put it out of order)."""
    now = now or timezone.now()
    later_sent = Exists(
        ParkPush.objects.filter(
            kind=OuterRef("kind"),
            object_uuid=OuterRef("object_uuid"),
            version__gt=OuterRef("version"),
            state=ParkPush.State.SENT,
        )
    )
    with transaction.atomic():
        dead = ParkPush.objects.filter(state=ParkPush.State.DEAD)
        superseded = dead.filter(later_sent).count()
        requeued = dead.filter(~later_sent).update(
            state=ParkPush.State.PENDING, attempts=0, next_attempt_at=now, lease_until=None
        )
    return requeued, superseded


def period_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The instants of the local dates `start` to `end`, both days included: from `start`
    00:00 (included) to the midnight after `end` (excluded), in the site's time zone."""
    if end < start:
        raise ValueError("the period ends before it starts")
    return start_of_day(start), start_of_day(end + dt.timedelta(days=1))


def export_records(
    start: dt.date, end: dt.date, *, at: dt.datetime | None = None, chunk: int = 500
) -> Iterator[dict]:
    """Every record of the period (`period_bounds`), as the lines of a full export: the permits
    whose planned start falls in it (but drafts never submitted: no filing yet), by
    planned start, then the alarms raised in it, by time. Each line is the push's envelope
    without a version: {"kind", "id", "company_code", "record"}; statuses as read at `at`."""
    at = at or timezone.now()
    lo, hi = period_bounds(start, end)
    company = park_settings().company_code or None
    permits = (
        permits_for_records()
        .filter(planned_start__gte=lo, planned_start__lt=hi)
        .exclude(status=PermitStatus.DRAFT, submitted_at__isnull=True)
        .order_by("planned_start", "id")
    )
    for permit in permits.iterator(chunk_size=chunk):
        record = record_of_loaded_permit(permit, at=at)
        yield {"kind": "permit", "id": str(permit.uuid), "company_code": company, "record": record}
    alarms = (
        alarms_for_records().filter(raised_at__gte=lo, raised_at__lt=hi).order_by("raised_at", "id")
    )
    for alarm in alarms.iterator(chunk_size=chunk):
        record = record_of_loaded_alarm(alarm)
        yield {"kind": "alarm", "id": str(alarm.uuid), "company_code": company, "record": record}
