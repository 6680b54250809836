import factory

from safework.org.models import Area, Department, Group, Position, Site


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group
        django_get_or_create = ("code",)

    name = "测试集团"
    code = "test-group"


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    group = factory.SubFactory(GroupFactory)
    name = factory.Sequence(lambda n: f"厂区{n}")
    code = factory.Sequence(lambda n: f"site-{n}")
    latitude = "31.230400"
    longitude = "121.473700"


class AreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Area

    site = factory.SubFactory(SiteFactory)
    name = factory.Sequence(lambda n: f"装置{n}")
    code = factory.Sequence(lambda n: f"area-{n}")


class DepartmentFactory(factory.django.DjangoModelFactory):
    """Saved through org.services.save_department so path and effective site are right."""

    class Meta:
        model = Department

    group = factory.SubFactory(GroupFactory)
    name = factory.Sequence(lambda n: f"车间{n}")
    code = factory.Sequence(lambda n: f"dept-{n}")
    kind = "workshop"
    site = factory.SubFactory(SiteFactory, group=factory.SelfAttribute("..group"))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        from django.db import transaction

        from safework.org.services import save_department

        with transaction.atomic():
            return save_department(model_class(*args, **kwargs))


class PositionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Position
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"岗位{n}")
    code = factory.Sequence(lambda n: f"position-{n}")
