"""Facts about persons that the qualification engine reads, in one round trip.

`fetch_facts(person_ids, until=…)` reads, for the persons asked about: their person rows, their
employment history with the contractors it names, those contractors' site engagements, the
blacklist entries naming their ID numbers, their certificates (plus any predecessor held under
another person record) and their health checks up to `until`. Which employment, engagement,
entry or check counts is decided per question by the engine, at the date asked: facts are
history, not "current" pointers.

Cost: seven SELECTs, each over one table through an index (the persons' ids, or a subquery on
them), written once per database from the models' metadata rather than compiled by the ORM on
every check. On PostgreSQL they go as one statement list in one round trip (psycopg's
client-side binding, Django's default, takes several statements; each result is read in turn),
on SQLite one after another in the process. Rows become model instances as `from_db` makes them,
through the fields' own converters (what the ORM applies), with lazy loading refused
(FETCH_RAISE): a fact not read is an error, never a hidden query per person. Facts are never
cached.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from django.db import connection, models
from django.db.models.base import ModelState
from django.db.models.signals import post_init

from safework.certs.models import Certificate
from safework.people.models import (
    BlacklistEntry,
    Contractor,
    ContractorEngagement,
    Employment,
    EmploymentStatus,
    HealthCheck,
    Person,
)

# Ids per statement list: a roster may name thousands of persons, and each statement names the
# ids (up to three times); batches keep a statement list to a bounded size.
BATCH = 2000


@dataclass
class PersonFacts:
    person: Person
    employments: list[Employment] = field(default_factory=list)
    certificates: list[Certificate] = field(default_factory=list)
    health_checks: list[HealthCheck] = field(default_factory=list)
    blacklist: list[BlacklistEntry] = field(default_factory=list)

    def employment_on(self, on: dt.date) -> Employment | None:
        """The employment in force on `on` (from and until both inclusive), whatever its status
        says today: one that ended later still covered `on`, one that starts later does not.
        Of overlapping ones, one not suspended first, then the latest started. An ended
        employment without an end date ended on an unknown day, so it covers no day."""
        covering = [
            e
            for e in self.employments
            if e.started_on <= on
            and (e.ended_on is None or on <= e.ended_on)
            and not (e.status == EmploymentStatus.ENDED and e.ended_on is None)
        ]
        if not covering:
            return None
        return max(covering, key=lambda e: (e.status != EmploymentStatus.SUSPENDED, e.started_on))

    def nearest_employment(self, on: dt.date) -> Employment | None:
        """For a refusal's message: the latest employment started on or before `on`, else the
        first one after it."""
        before = [e for e in self.employments if e.started_on <= on]
        if before:
            return max(before, key=lambda e: e.started_on)
        return min(self.employments, key=lambda e: e.started_on, default=None)


@dataclass
class Facts:
    persons: dict[int, PersonFacts]
    certificates: dict[int, Certificate]  # by id, incl. predecessors
    contractors: dict[int, Contractor]  # named by any employment of the persons
    engagements: dict[int, list[ContractorEngagement]]  # by contractor id

    def engagements_of(self, contractor_id: int) -> list[ContractorEngagement]:
        return self.engagements.get(contractor_id, [])


# Columns no rule reads: bookkeeping timestamps, free text, JSON that would be parsed for nothing.
# Left unread (deferred), so a rule that starts reading one fails loudly (FETCH_RAISE → "cannot
# decide" and a failing test), never with a hidden query; everything else, including any column
# added later, is read.
_UNREAD = {
    Person: {"former_names", "phone", "created_at", "updated_at", "is_synthetic"},
    Certificate: {
        "verified_at",
        "verification_source",
        "import_job",
        "created_at",
        "updated_at",
        "is_synthetic",
    },
    HealthCheck: {"institution", "created_at", "is_synthetic"},
}


class _Table:
    """A model's table as the facts are selected from it: its columns (all but `_UNREAD`), and
    the converters the ORM would apply to each (dates on SQLite, JSON, booleans)."""

    def __init__(self, model: type[models.Model]):
        ops = connection.ops
        self.model = model
        self.name = ops.quote_name(model._meta.db_table)
        unread = _UNREAD.get(model, set())
        fields = [f for f in model._meta.concrete_fields if f.name not in unread]
        self.attnames = [f.attname for f in fields]
        self.columns = ", ".join(self.column(f.name) for f in fields)
        self.converters = []
        for i, f in enumerate(fields):
            col = f.get_col(model._meta.db_table)
            funcs = ops.get_db_converters(col) + col.get_db_converters(connection)
            if funcs:
                self.converters.append((i, funcs, col))

    def column(self, name: str, table: str | None = None) -> str:
        """A column by field name, qualified by this table (or another name for it)."""
        column = connection.ops.quote_name(self.model._meta.get_field(name).column)
        return f"{table or self.name}.{column}"

    def objects(self, rows: Iterable[Sequence]) -> list:
        alias, out = connection.alias, []
        plain = not post_init.has_listeners(self.model)
        for row in rows:
            if self.converters:
                row = list(row)
                for i, funcs, col in self.converters:
                    value = row[i]
                    for convert in funcs:
                        value = convert(value, col, connection)
                    row[i] = value
            if plain:
                out.append(self.instance(alias, row))
            else:
                out.append(
                    self.model.from_db(alias, self.attnames, row, fetch_mode=models.FETCH_RAISE)
                )
        return out

    def instance(self, alias: str, values: Sequence) -> models.Model:
        """A model instance of these column values, as `Model.from_db` makes it, without
        running `__init__`: that sets each field through its descriptor and sends post_init, ~10
        µs a certificate, a third of a crew check. Django keeps field values in the instance's
        `__dict__` by attname, which is all `__init__` would leave for a model without post_init
        receivers (`objects` uses `from_db` for one with)."""
        obj = self.model.__new__(self.model)
        obj.__dict__.update(zip(self.attnames, values, strict=True))
        state = obj._state = ModelState()
        state.adding, state.db, state.fetch_mode = False, alias, models.FETCH_RAISE
        return obj


# The models read, in the order of the statements (`_statements`).
_MODELS = (
    Person,
    Employment,
    Contractor,
    ContractorEngagement,
    BlacklistEntry,
    Certificate,
    HealthCheck,
)


@lru_cache(maxsize=8)
def _tables(vendor: str, alias: str) -> tuple[_Table, ...]:
    # Per database: the quoting and converters belong to its backend.
    return tuple(_Table(m) for m in _MODELS)


@lru_cache(maxsize=8)
def _statements(vendor: str, alias: str) -> tuple[str, ...]:
    """The seven SELECTs, in the order of `_MODELS`, with `{ids}` and `{until}` to fill in."""
    person, emp, contractor, engagement, blacklist, cert, check = _tables(vendor, alias)
    contractors_of = (
        f"SELECT {emp.column('contractor')} FROM {emp.name} "
        f"WHERE {emp.column('person')} IN ({{ids}})"
    )
    pred = "pred"  # the predecessors' subquery reads the same table under another name
    return (
        f"SELECT {person.columns} FROM {person.name} WHERE {person.column('id')} IN ({{ids}})",
        f"SELECT {emp.columns} FROM {emp.name} WHERE {emp.column('person')} IN ({{ids}})",
        f"SELECT {contractor.columns} FROM {contractor.name} "
        f"WHERE {contractor.column('id')} IN ({contractors_of})",
        f"SELECT {engagement.columns} FROM {engagement.name} "
        f"WHERE {engagement.column('contractor')} IN ({contractors_of})",
        f"SELECT {blacklist.columns} FROM {blacklist.name} "
        f"WHERE {blacklist.column('id_number')} IN "
        f"(SELECT {person.column('id_number')} FROM {person.name} "
        f"WHERE {person.column('id')} IN ({{ids}}))",
        # Their certificates, then predecessors of those held under another person record.
        f"SELECT {cert.columns} FROM {cert.name} WHERE {cert.column('person')} IN ({{ids}}) "
        f"UNION ALL SELECT {cert.columns} FROM {cert.name} "
        f"WHERE {cert.column('id')} IN (SELECT {cert.column('predecessor', pred)} "
        f"FROM {cert.name} {pred} WHERE {cert.column('person', pred)} IN ({{ids}})) "
        f"AND {cert.column('person')} NOT IN ({{ids}})",
        f"SELECT {check.columns} FROM {check.name} "
        f"WHERE {check.column('person')} IN ({{ids}}) "
        f"AND {check.column('checked_on')} <= {{until}}",
    )


def _list_cursor():
    """A cursor that sends a statement list in one round trip: on PostgreSQL a client-side
    binding cursor (psycopg 3's ClientCursor: the simple query protocol), even where the
    connection binds on the server (settings: prepared statements take one statement at a
    time); wrapped as Django wraps its own, so query logging and execute wrappers see it. None
    elsewhere."""
    if connection.vendor != "postgresql":
        return None
    import psycopg

    connection.ensure_connection()
    raw = psycopg.ClientCursor(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(raw)
    return connection.make_cursor(raw)


def read_rows(ids: Sequence[int], until: dt.date) -> list[list[tuple]]:
    """The rows of each statement for these ids, in the order of `_MODELS`.

    The ids and the date are written into the SQL as literals, not bound: with parameters,
    psycopg scans the whole statement list for placeholders on every check (it caches only
    statements under 4 kB), a tenth of the check's time. Both are safe as literals: integers
    (`operator.index` refuses anything else) and an ISO date made from a `date`.
    """
    values = {
        "ids": ", ".join(str(operator.index(i)) for i in ids),
        "until": f"'{dt.date.isoformat(until)}'",
    }
    statements = [
        sql.format_map(values) for sql in _statements(connection.vendor, connection.alias)
    ]
    listing = _list_cursor()
    if listing is not None:
        with listing as cursor:
            cursor.execute(";\n".join(statements))
            results = [cursor.fetchall()]
            while cursor.nextset():
                results.append(cursor.fetchall())
            return results
    with connection.cursor() as cursor:
        results = []
        for sql in statements:
            cursor.execute(sql)
            results.append(cursor.fetchall())
        return results


def fetch_facts(person_ids: Iterable[int], *, until: dt.date) -> Facts:
    """Every fact the engine reads about these persons (one round trip per 2,000 of them).

    `until` bounds the health checks read (the engine uses the latest on or before the date
    asked); the rest is read whole, as history.
    """
    ids = sorted({operator.index(i) for i in person_ids})
    facts = Facts({}, {}, {}, {})
    # The same engagement comes back with each batch that names its contractor.
    engagements: dict[int, ContractorEngagement] = {}
    tables = _tables(connection.vendor, connection.alias)
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        rows = read_rows(batch, until)
        person, emp, contractor, engagement, blacklist, cert, check = (
            table.objects(r) for table, r in zip(tables, rows, strict=True)
        )
        persons = {p.pk: PersonFacts(p) for p in person}
        facts.persons.update(persons)
        for e in emp:
            persons[e.person_id].employments.append(e)
        facts.contractors.update((c.pk, c) for c in contractor)
        engagements.update((g.pk, g) for g in engagement)
        by_number = {pf.person.id_number: pf for pf in persons.values()}
        for b in blacklist:
            by_number[b.id_number].blacklist.append(b)
        for c in cert:
            facts.certificates[c.pk] = c
            if c.person_id in persons:  # not a predecessor held by someone else
                persons[c.person_id].certificates.append(c)
        for h in check:
            persons[h.person_id].health_checks.append(h)
    for g in engagements.values():
        facts.engagements.setdefault(g.contractor_id, []).append(g)
    return facts
