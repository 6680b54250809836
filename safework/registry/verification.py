"""Registry verification: name matching, batches of look-ups and what they record.

`start_verification` creates a `VerificationBatch` (from certificate ids or a pasted column of
certificate / ID numbers, story CERT-02) and queues one background task for it;
`run_verification_batch` (that task's body) asks the registry row by row. A look-up the registry
cannot answer becomes `retry_later` and the batch goes on; `retry_verification` queues those rows
again. Each answer updates the certificate's `verification`, `verified_at` and
`verification_source`, adds a `CertificateEvent(kind=verification)` and an audit record; a red
verdict on a record in force also emits `person.disqualified` (`certs.disqualification`).

Network calls never run inside a database transaction: the rows of a chunk are looked up first,
then written in one short transaction that ends with `audit.record_many`. A row is written only
while it is still pending, so running a batch twice (a retried task, two workers) never records an
answer twice.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from pypinyin import Style, pinyin

from safework.certs import disqualification
from safework.certs.models import Certificate, CertificateEvent, EventKind, Verification
from safework.certs.queries import certificates_visible_to
from safework.core import audit, jobs
from safework.core.errors import FieldError, InvalidInput
from safework.core.jobs import heartbeat, queue_lease
from safework.core.refusals import Reason, Refused
from safework.core.scope import Scope
from safework.people.rules import normalise_id_text
from safework.registry.client import (
    EXPIRED,
    NOT_FOUND,
    REVOKED,
    CertificateRegistry,
    RegistryAnswer,
    RegistryUnavailable,
    get_registry,
)
from safework.registry.models import (
    BatchStatus,
    LookupOutcome,
    VerificationBatch,
    VerificationLookup,
)
from safework.registry.queries import batches_visible_to, lookups_visible_to

logger = logging.getLogger(__name__)

# The enterprise's own qualifications (PLANT-ANNUAL, GUARDIAN, …) are in no registry.
INTERNAL_SCHEME = "internal"
CHUNK_SIZE = 50  # look-ups per write transaction: progress moves, no transaction waits on HTTP
MAX_PASTED_LINES = 20_000
MAX_REPORTED_LINES = 100  # unmatched pasted lines named in a 422, the rest counted

# How a name matched (VerificationLookup.name_match); None means it did not.
EXACT, NORMALISED, PINYIN, FORMER_NAME = "exact", "normalised", "pinyin", "former_name"

TO_REVIEW = (
    LookupOutcome.NOT_FOUND,
    LookupOutcome.REVOKED,
    LookupOutcome.EXPIRED,
    LookupOutcome.MISMATCH,
)
VERIFICATION_FIELDS = ("verification", "verified_at", "verification_source")
LOOKUP_RESULT_FIELDS = (
    "outcome",
    "name_match",
    "registry_name",
    "response",
    "message",
    "attempts",
    "checked_at",
)


# --- name matching (pure) ------------------------------------------------------------------------
# Separators that ledgers and registries write inside names, or not: spaces of every width and
# the middle dots of transliterated minority names (阿依古丽·买买提).
_SEPARATORS = frozenset(" \t\r\n·•‧・.")


def normalise_name(name: str | None) -> str:
    """NFKC (full-width forms), no spaces or middle dots, Latin letters case-folded."""
    text = name or ""
    for _round in range(4):  # case folding or a dropped space can leave a composable pair
        before = text
        text = unicodedata.normalize("NFKC", text).casefold()
        text = "".join(ch for ch in text if ch not in _SEPARATORS and not ch.isspace())
        if text == before:
            break
    return text


def _is_han(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("CJK UNIFIED IDEOGRAPH")


@lru_cache(maxsize=8192)
def readings(ch: str) -> frozenset[str]:
    """Every toneless pinyin reading of one character (单 → dan, shan, chan); itself otherwise.

    One character at a time: for a whole name pypinyin's phrase dictionary may keep one reading
    only (曾经 → ceng), losing the surname reading zeng.
    """
    if not _is_han(ch):
        return frozenset({ch})
    return frozenset(pinyin(ch, style=Style.NORMAL, heteronym=True)[0])


def same_pinyin(a: str, b: str) -> bool:
    """Names of equal length where each pair of characters shares some reading."""
    a, b = normalise_name(a), normalise_name(b)
    return (
        bool(a)
        and len(a) == len(b)
        and all(readings(x) & readings(y) for x, y in zip(a, b, strict=True))
    )


def match_name(
    registry_name: str,
    person_name: str,
    *,
    former_names: Iterable[str] = (),
    registry_former_names: Iterable[str] = (),
) -> str | None:
    """How the registry's name matches the person's: "exact", "normalised", "pinyin",
    "former_name", or None (a mismatch).

    In that order: the same text; the same after NFKC, trimming and dropping spaces and middle
    dots; the same pinyin under some reading of each character (heteronyms: 单 shan/dan, 曾
    zeng/ceng); a former name of the person (Person.former_names) equal to the registry's name, or
    the person's name among the registry's former names (both after normalising).
    """
    if not registry_name or not person_name:
        return None
    if registry_name == person_name:
        return EXACT
    theirs, ours = normalise_name(registry_name), normalise_name(person_name)
    if theirs and theirs == ours:
        return NORMALISED
    if same_pinyin(theirs, ours):
        return PINYIN
    ours_before = {normalise_name(n) for n in former_names} - {""}
    theirs_before = {normalise_name(n) for n in registry_former_names} - {""}
    if theirs in ours_before or ours in theirs_before:
        return FORMER_NAME
    return None


@dataclass(frozen=True)
class Assessment:
    outcome: str  # a LookupOutcome
    name_match: str | None


def assess(answer: RegistryAnswer, *, name: str, former_names: Iterable[str] = ()) -> Assessment:
    """What an answer means for a certificate held by `name`: the registry's status first
    (revoked, expired, not found), then whether the name matches."""
    how = (
        match_name(
            answer.name,
            name,
            former_names=former_names,
            registry_former_names=answer.former_names,
        )
        if answer.found
        else None
    )
    if answer.status == NOT_FOUND:
        outcome = LookupOutcome.NOT_FOUND
    elif answer.status == REVOKED:
        outcome = LookupOutcome.REVOKED
    elif answer.status == EXPIRED:
        outcome = LookupOutcome.EXPIRED
    elif how is None:
        outcome = LookupOutcome.MISMATCH
    else:
        outcome = LookupOutcome.VERIFIED
    return Assessment(outcome=outcome, name_match=how)


def differences(answer: dict | None, cert: Certificate) -> list[dict]:
    """Fields where the registry's record differs from ours (item, number, dates), to review."""
    if not answer or answer.get("status") == NOT_FOUND:
        return []
    ours = {
        "scheme": cert.scheme.code,
        "item": cert.item.code,
        "number": cert.number,
        "issued_on": cert.issued_on.isoformat(),
        "valid_until": cert.valid_until.isoformat(),
    }
    return [
        {"field": key, "registry": answer[key], "safework": value}
        for key, value in ours.items()
        if answer.get(key) and answer[key] != value
    ]


def explain(lookup: VerificationLookup, person_name: str = "") -> str:
    """A sentence for the to-review list, in the reader's language."""
    outcome, how, theirs = lookup.outcome, lookup.name_match, lookup.registry_name
    if outcome == LookupOutcome.PENDING:
        return _("Waiting for the registry.")
    if outcome == LookupOutcome.RETRY_LATER:
        return _("The registry could not be asked (%(attempts)s attempts): %(error)s") % {
            "attempts": lookup.attempts,
            "error": lookup.message,
        }
    if outcome == LookupOutcome.NOT_FOUND:
        return _("The registry has no such certificate for this ID number.")
    if outcome == LookupOutcome.REVOKED:
        return _("The registry says the certificate is revoked.")
    if outcome == LookupOutcome.EXPIRED:
        return _("The registry says the certificate has expired.")
    if outcome == LookupOutcome.MISMATCH:
        return _("The registry names the holder “%(theirs)s”, SafeWork “%(ours)s”.") % {
            "theirs": theirs,
            "ours": person_name,
        }
    hows = {
        EXACT: _("the name is identical"),
        NORMALISED: _("the name is the same apart from spaces or full-width characters"),
        PINYIN: _("the name is spelt differently with the same pinyin (“%(theirs)s”)"),
        FORMER_NAME: _("the registry knows the holder by a former name (“%(theirs)s”)"),
    }
    return _("Verified: %(how)s.") % {"how": hows.get(how, how) % {"theirs": theirs}}


# --- reads ---------------------------------------------------------------------------------------
def certificates_to_verify(scope: Scope | None = None) -> QuerySet[Certificate]:
    """Certificates the scope sees that a registry can know of (not internal qualifications)."""
    qs = Certificate.objects.all() if scope is None else certificates_visible_to(scope)
    return qs.exclude(scheme__code=INTERNAL_SCHEME)


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    counts: dict[str, int]

    @property
    def to_review(self) -> int:
        return sum(self.counts.get(o, 0) for o in TO_REVIEW)

    @property
    def fraction(self) -> float:
        return round(self.done / self.total, 4) if self.total else 1.0


def batch_progress(batch: VerificationBatch, scope: Scope | None = None) -> Progress:
    """Counts by outcome over the look-ups the scope sees (all of them without a scope)."""
    qs = batch.lookups.all() if scope is None else lookups_visible_to(scope).filter(batch=batch)
    counts = {o.value: 0 for o in LookupOutcome}
    for outcome, n in qs.values_list("outcome").annotate(n=Count("pk")).order_by():
        counts[outcome] = n
    total = sum(counts.values())
    return Progress(total=total, done=total - counts[LookupOutcome.PENDING], counts=counts)


# --- services ------------------------------------------------------------------------------------
def _pasted_values(pasted: str) -> list[tuple[int, str]]:
    out = []
    for lineno, line in enumerate(pasted.splitlines(), start=1):
        value = "".join(unicodedata.normalize("NFKC", line).split())
        if value:
            out.append((lineno, value))
    return out


def _match_pasted(pasted: str, base: QuerySet[Certificate]) -> list[int]:
    """Certificate ids for a pasted column: each line a certificate number or an ID number
    (every certificate of that person). Unmatched lines are a 422 naming them."""
    values = _pasted_values(pasted)
    if not values:
        raise InvalidInput(FieldError("pasted", "required", _("Paste at least one number.")))
    if len(values) > MAX_PASTED_LINES:
        raise InvalidInput(
            FieldError(
                "pasted",
                "too_many",
                _("Paste at most %(n)s numbers at a time.") % {"n": MAX_PASTED_LINES},
            )
        )
    wanted_numbers = {v for _, v in values} | {v.upper() for _, v in values}
    wanted_ids = {normalise_id_text(v) for _, v in values}
    by_number: dict[str, set[int]] = {}
    by_id_number: dict[str, set[int]] = {}
    wanted_numbers_list, wanted_ids_list = sorted(wanted_numbers), sorted(wanted_ids)
    step = 500  # stay under every database's limit of query parameters (see _parts)
    for i in range(0, max(len(wanted_numbers_list), len(wanted_ids_list)), step):
        q = Q(number__in=wanted_numbers_list[i : i + step]) | Q(
            person__id_number__in=wanted_ids_list[i : i + step]
        )
        for pk, number, id_number in base.filter(q).values_list(
            "pk", "number", "person__id_number"
        ):
            by_number.setdefault(number, set()).add(pk)
            by_id_number.setdefault(id_number, set()).add(pk)
    ids: dict[int, None] = {}  # ordered, without repeats
    unmatched = []
    for lineno, value in values:
        found = (
            by_number.get(value, set())
            | by_number.get(value.upper(), set())
            | by_id_number.get(normalise_id_text(value), set())
        )
        if not found:
            unmatched.append((lineno, value))
        for pk in sorted(found):
            ids[pk] = None
    if unmatched:
        errors = [
            FieldError(
                "pasted",
                "not_found",
                _("Line %(line)s: “%(value)s” is no certificate or ID number you can see.")
                % {"line": lineno, "value": value},
            )
            for lineno, value in unmatched[:MAX_REPORTED_LINES]
        ]
        if len(unmatched) > MAX_REPORTED_LINES:
            errors.append(
                FieldError(
                    "pasted",
                    "not_found",
                    _("… and %(n)s more lines.") % {"n": len(unmatched) - MAX_REPORTED_LINES},
                )
            )
        raise InvalidInput(errors)
    return list(ids)


def _parts(values: list, size: int = 500):
    """Slices small enough for any database's limit of query parameters."""
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _checked_ids(certificate_ids: Iterable[int], scope: Scope | None) -> list[int]:
    wanted = list(dict.fromkeys(int(pk) for pk in certificate_ids))
    if not wanted:
        raise InvalidInput(
            FieldError("certificate_ids", "required", _("Name at least one certificate."))
        )
    visible = Certificate.objects.all() if scope is None else certificates_visible_to(scope)
    schemes = {}
    for part in _parts(wanted):
        schemes.update(visible.filter(pk__in=part).values_list("pk", "scheme__code"))
    if len(schemes) != len(wanted):
        raise Http404("certificate")  # someone else's certificate is a 404, as everywhere
    internal = [pk for pk in wanted if schemes[pk] == INTERNAL_SCHEME]
    if internal:
        raise InvalidInput(
            FieldError(
                "certificate_ids",
                "not_in_registry",
                _("Internal qualifications are in no registry: %(ids)s.")
                % {"ids": ", ".join(map(str, internal))},
            )
        )
    return wanted


@transaction.atomic
def start_verification(
    *,
    by,
    certificate_ids: Iterable[int] | None = None,
    pasted: str | None = None,
    scope: Scope | None = None,
    enqueue: bool = True,
) -> VerificationBatch:
    """A batch of registry look-ups for certificates the caller sees, queued as one task.

    Exactly one of `certificate_ids` (an id the scope does not see → Http404; an internal
    qualification → 422) or `pasted` (one certificate number or ID number per line; a line that
    matches nothing the scope sees → 422 naming it). `scope=None` means everything (commands).
    The task is queued when the transaction commits; this joins a caller's transaction (an import
    approval queues verification of what it wrote, started only if that commits).
    """
    if (certificate_ids is None) == (pasted is None):
        raise InvalidInput(
            FieldError(
                "",
                "one_of",
                _("Give either certificate ids or a pasted list of numbers, not both."),
            )
        )
    if pasted is not None:
        ids = _match_pasted(pasted, certificates_to_verify(scope))
    else:
        ids = _checked_ids(certificate_ids, scope)
    registry_url = _registry_url()
    batch = VerificationBatch.objects.create(
        created_by=by if by is not None and getattr(by, "pk", None) else None,
        source=registry_url,
        total=len(ids),
        lease_until=queue_lease(),
    )
    found = {}
    for part in _parts(ids):
        rows = Certificate.objects.filter(pk__in=part).values_list(
            "pk", "person__id_number", "number"
        )
        found.update((pk, (id_number, number)) for pk, id_number, number in rows)
    VerificationLookup.objects.bulk_create(
        [
            VerificationLookup(
                batch=batch, certificate_id=pk, id_number=found[pk][0], number=found[pk][1]
            )
            for pk in ids
            if pk in found
        ],
        batch_size=1000,
    )
    if enqueue:
        jobs.enqueue(batch)
    audit.record(action="cert.verification_started", target=batch, actor=by)
    return batch


def _registry_url() -> str:
    from django.conf import settings

    return settings.REGISTRY_URL.rstrip("/")[:200]


@transaction.atomic
def retry_verification(
    *, batch: VerificationBatch, by, scope: Scope | None = None, enqueue: bool = True
) -> VerificationBatch:
    """Queue the batch's `retry_later` look-ups (those the scope sees) again; refused when none
    waits for a retry."""
    batch = VerificationBatch.objects.select_for_update().get(pk=batch.pk)
    rows = batch.lookups.all() if scope is None else lookups_visible_to(scope).filter(batch=batch)
    requeued = rows.filter(outcome=LookupOutcome.RETRY_LATER).update(outcome=LookupOutcome.PENDING)
    if not requeued:
        raise Refused(
            [
                Reason(
                    "cert.verification.nothing_to_retry",
                    _("No look-up of this batch is waiting for a retry."),
                    subject=f"#{batch.pk}",
                )
            ]
        )
    batch.done = batch.lookups.exclude(outcome=LookupOutcome.PENDING).count()
    batch.retry(by=by, at=timezone.now())
    batch.save()
    if enqueue:
        jobs.enqueue(batch)
    return batch


@dataclass
class _Result:
    lookup: VerificationLookup
    answer: RegistryAnswer | None
    error: str = ""


def _ask(registry: CertificateRegistry, lookup: VerificationLookup) -> _Result:
    cert = lookup.certificate
    try:
        answer = registry.lookup(
            lookup.id_number, lookup.number, scheme=cert.scheme.code, item=cert.item.code
        )
    except RegistryUnavailable as exc:
        return _Result(lookup, None, str(exc))
    except Exception as exc:  # one broken look-up never stops the batch
        logger.exception("registry look-up %s failed", lookup.pk)
        return _Result(lookup, None, f"{type(exc).__name__}: {exc}")
    return _Result(lookup, answer)


def _store(
    batch: VerificationBatch, results: list[_Result], *, source: str, actor
) -> tuple[int, int]:
    """Write one chunk's answers; rows another run has answered meanwhile are left alone."""
    now = timezone.now()
    on = timezone.localdate(now)
    with transaction.atomic():
        pending = set(
            VerificationLookup.objects.select_for_update()
            .filter(pk__in=[r.lookup.pk for r in results], outcome=LookupOutcome.PENDING)
            .values_list("pk", flat=True)
        )
        lookups, certs, events, entries = [], [], [], []
        for result in results:
            lookup = result.lookup
            if lookup.pk not in pending:
                continue
            lookup.attempts += 1
            lookup.checked_at = now
            lookups.append(lookup)
            if result.answer is None:
                lookup.outcome = LookupOutcome.RETRY_LATER
                lookup.message = result.error[:500]
                continue
            cert = lookup.certificate
            person = cert.person
            verdict = assess(result.answer, name=person.name, former_names=person.former_names)
            lookup.outcome = verdict.outcome
            lookup.name_match = verdict.name_match or ""
            lookup.registry_name = result.answer.name[:100]
            lookup.response = result.answer.as_dict()
            lookup.message = ""
            before = audit.snapshot(cert, VERIFICATION_FIELDS)
            cert.verification = Verification(verdict.outcome)
            cert.verified_at = now
            cert.verification_source = source[:200]
            cert.updated_at = now
            certs.append(cert)
            events.append(
                CertificateEvent(
                    certificate=cert,
                    kind=EventKind.VERIFICATION,
                    on=on,
                    passed=verdict.outcome == LookupOutcome.VERIFIED,
                    reason=explain(lookup, person.name)[:500],
                    actor_label=_actor_label(actor),
                )
            )
            entries.append(
                audit.entry(
                    action="cert.verification_recorded",
                    target=cert,
                    actor=actor,
                    before=before,
                    after=audit.snapshot(cert, VERIFICATION_FIELDS),
                    at=now,
                )
            )
        # Every row has its own answer: plain UPDATEs by primary key beat bulk_update's CASE
        # over seven fields here (measured on the demo's 218 certificates: 3.0 s → 1.5 s).
        for lookup in lookups:
            VerificationLookup.objects.filter(pk=lookup.pk).update(
                **{name: getattr(lookup, name) for name in LOOKUP_RESULT_FIELDS}
            )
        # One UPDATE per outcome: a chunk's certificates share the time and the source.
        by_outcome: dict[str, list[int]] = {}
        for cert in certs:
            by_outcome.setdefault(cert.verification, []).append(cert.pk)
        for outcome, pks in by_outcome.items():
            Certificate.objects.filter(pk__in=pks).update(
                verification=outcome,
                verified_at=now,
                verification_source=source[:200],
                updated_at=now,
            )
        CertificateEvent.objects.bulk_create(events)
        # A red verdict (another name, not found, revoked, expired) disqualifies the holder
        # from today: their planned work is listed in this transaction, like a revocation's.
        disqualification.emit_verdicts(
            [c.pk for c in certs if c.verification in disqualification.RED_VERDICTS],
            on=on,
            at=now,
        )
        done = batch.lookups.exclude(outcome=LookupOutcome.PENDING).count()
        VerificationBatch.objects.filter(pk=batch.pk).update(done=done)
        audit.record_many(entries)
    return len(lookups), done


def _actor_label(actor) -> str:
    if actor is None:
        return _("registry verification")
    return actor.get_username() if hasattr(actor, "get_username") else str(actor)


def run_verification_batch(
    batch_id: int,
    *,
    registry: CertificateRegistry | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> VerificationBatch | None:
    """Claim a queued batch and look up its pending rows; None when the batch was deleted.

    Safe to run twice: only a queued batch is claimed (a repeated task, or one for a batch another
    worker runs, leaves it as it is), and a row answered meanwhile is not written again. A row the
    registry cannot answer becomes `retry_later` (attempts counted) and the batch goes on. The
    batch ends `succeeded`, or `failed` when no row got an answer. `progress(done, total)` is
    called after each chunk.
    """
    batch = jobs.claim(VerificationBatch, batch_id)
    if batch is None:  # not queued (a repeated task, another worker's), or deleted
        return VerificationBatch.objects.select_related("created_by").filter(pk=batch_id).first()
    registry = registry or get_registry()
    source = registry.base_url
    VerificationBatch.objects.filter(pk=batch.pk).update(source=source[:200])
    with heartbeat(VerificationBatch, batch.pk):
        try:
            return _run(batch, registry, source, chunk_size=chunk_size, progress=progress)
        except Exception:
            logger.exception("verification batch %s failed", batch.pk)
            return jobs.end_if_live(
                VerificationBatch,
                batch.pk,
                lambda locked: _fail_locked(
                    locked, reason=_("The verification stopped unexpectedly."), now=timezone.now()
                ),
                attempts=batch.attempts,
            )


def _run(batch, registry, source, *, chunk_size, progress) -> VerificationBatch:
    last_pk = 0
    while True:
        chunk = list(
            batch.lookups.filter(outcome=LookupOutcome.PENDING, pk__gt=last_pk)
            .select_related("certificate__person", "certificate__scheme", "certificate__item")
            .order_by("pk")[:chunk_size]
        )
        if not chunk:
            break
        last_pk = chunk[-1].pk
        results = [_ask(registry, lookup) for lookup in chunk]
        _, done = _store(batch, results, source=source, actor=batch.created_by)
        if progress:
            progress(done, batch.total)
    return _finish(batch)


def _finish(batch: VerificationBatch) -> VerificationBatch:
    """End the run: succeeded when some look-up was answered (or none was asked), failed when
    the registry answered none."""
    with transaction.atomic():
        locked = VerificationBatch.objects.select_for_update().get(pk=batch.pk)
        progress = batch_progress(locked)
        ours = locked.status == BatchStatus.RUNNING and locked.attempts == batch.attempts
        if progress.counts[LookupOutcome.PENDING] or not ours:
            # retry_verification queued rows again meanwhile (its task finishes the batch), or
            # the batch was given to another worker: only the count is this run's to write.
            VerificationBatch.objects.filter(pk=batch.pk).update(done=progress.done)
        else:
            locked.done, locked.total = progress.done, progress.total
            answered = progress.total - progress.counts[LookupOutcome.RETRY_LATER]
            if answered or not progress.total:
                locked.succeed(at=timezone.now())
            else:
                locked.fail(at=timezone.now(), message="")  # each look-up says why
            locked.save()
    return VerificationBatch.objects.select_related("created_by").get(pk=batch.pk)


# --- lost workers --------------------------------------------------------------------------------
MAX_ATTEMPTS = 3  # times a batch is queued (the first included) before a lost worker fails it


def expire_stale_batches(*, now=None) -> int:
    """Batches whose worker was lost (lease expired): queued again, which is safe (answered rows
    are skipped), at most `MAX_ATTEMPTS` times; then failed with a reason, their unanswered rows
    left to retry. Runs every minute from the task worker and whenever batches are read."""
    return jobs.reap(
        VerificationBatch,
        max_attempts=MAX_ATTEMPTS,
        requeue_message=_requeue_message,
        give_up=_give_up,
        now=now,
    )


def _requeue_message(was_running: bool, attempt: int) -> str:
    if was_running:
        text = _(
            "The process working on this verification stopped (killed or crashed); it was "
            "queued again (attempt %(n)s of %(max)s)."
        )
    else:
        text = _(
            "No task worker started this verification in time; it was queued again "
            "(attempt %(n)s of %(max)s)."
        )
    return text % {"n": attempt, "max": MAX_ATTEMPTS}


def _give_up(batch: VerificationBatch, *, at, was_running: bool) -> None:
    if was_running:
        reason = _(
            "The process working on this verification stopped (killed or crashed) "
            "%(n)s times; the look-ups not answered can be retried."
        ) % {"n": batch.attempts}
    else:
        reason = _(
            "No task worker started this verification in time; the look-ups can be "
            "retried. Is the task worker running?"
        )
    _fail_locked(batch, reason=reason, now=at)


def _fail_locked(batch: VerificationBatch, *, reason: str, now) -> VerificationBatch:
    """Failed, with the reason on the batch and on each look-up left unanswered (now
    `retry_later`, so that `retry_verification` can queue them again)."""
    batch.lookups.filter(outcome=LookupOutcome.PENDING).update(
        outcome=LookupOutcome.RETRY_LATER, message=reason[:500], checked_at=now
    )
    batch.done = batch.lookups.exclude(outcome=LookupOutcome.PENDING).count()
    batch.fail(at=now, message=reason)
    batch.save()
    return batch


def verify_approved(sender, *, by, certificate_ids: list[int], **kwargs) -> VerificationBatch:
    """Receiver of `certs.signals.certificates_approved`: verify the approved certificates."""
    return start_verification(by=by, certificate_ids=certificate_ids)


def visible_batch(scope: Scope, user, batch_id: int) -> VerificationBatch:
    """One batch the scope sees (Http404 otherwise), read after ending stale ones: a batch whose
    worker died ends when it is read."""
    expire_stale_batches()
    batches = batches_visible_to(scope, user).select_related("created_by")
    batch = batches.filter(pk=batch_id).first()
    if batch is None:
        raise Http404(batch_id)
    return batch
