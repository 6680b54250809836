import datetime as dt
from types import SimpleNamespace

import factory

from safework.certs.models import CatalogueRule, Certificate, CertificateItem
from safework.certs.rules import RuleBook, first_unpassed_review


def item(scheme: str, code: str) -> CertificateItem:
    """A shipped catalogue item (use with the `catalogue` fixture)."""
    return CertificateItem.objects.select_related("scheme").get(scheme__code=scheme, code=code)


def _review_due(o) -> dt.date | None:
    # What the services store for a new record: its first review due under the rules (no review
    # passed yet). Every status reader uses the stored field, so the factory stores it too.
    book = RuleBook(CatalogueRule.objects.filter(scheme_id=o.item.scheme_id))
    record = SimpleNamespace(
        scheme_id=o.item.scheme_id,
        item_id=o.item.pk,
        issued_on=o.issued_on,
        valid_until=o.valid_until,
        long_review_interval=o.long_review_interval,
    )
    due = first_unpassed_review(record, book, ())
    return due[0] if due else None


class CertificateFactory(factory.django.DjangoModelFactory):
    """A certificate of a shipped item: pass item=item("special_operation", "2.1")."""

    class Meta:
        model = Certificate

    person = factory.SubFactory("safework.people.tests.factories.PersonFactory")
    scheme = factory.LazyAttribute(lambda o: o.item.scheme)
    number = factory.Sequence(lambda n: f"T{n:08d}")
    issued_on = dt.date(2024, 1, 10)
    first_issued_on = factory.LazyAttribute(lambda o: o.issued_on)
    valid_from = factory.LazyAttribute(lambda o: o.issued_on)
    valid_until = dt.date(2030, 1, 9)
    long_review_interval = False
    next_review_due = factory.LazyAttribute(_review_due)
    catalogue_version = factory.LazyAttribute(lambda o: o.item.catalogue_version)
    is_synthetic = True
