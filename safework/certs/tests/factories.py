import datetime as dt

import factory

from safework.certs.models import Certificate, CertificateItem


def item(scheme: str, code: str) -> CertificateItem:
    """A shipped catalogue item (use with the `catalogue` fixture)."""
    return CertificateItem.objects.select_related("scheme").get(scheme__code=scheme, code=code)


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
    catalogue_version = factory.LazyAttribute(lambda o: o.item.catalogue_version)
    is_synthetic = True
