"""Writes to the organisation: sites, areas, the department tree, positions."""

from django.db import transaction

from safework.core import audit
from safework.org.models import Department


def department_path_and_site(dept: Department) -> tuple[str, int | None]:
    """The tree path ("/1/5/9/") and the nearest ancestor's site of a department."""
    if dept.parent_id is None:
        prefix, inherited = "/", None
    else:
        parent = Department.objects.only("path", "effective_site_id").get(pk=dept.parent_id)
        prefix, inherited = parent.path, parent.effective_site_id
    return f"{prefix}{dept.pk}/", dept.site_id or inherited


@transaction.atomic
def save_department(dept: Department, *, by=None) -> Department:
    """Create or update a department, keeping the tree paths and effective sites of its subtree."""
    before = audit.snapshot(dept) if dept.pk else None
    if dept.parent_id and dept.pk and dept.parent_id == dept.pk:
        raise ValueError("a department cannot be its own parent")
    if dept.pk is None:
        dept.path = "/"
        dept.save()
    old_path = Department.objects.filter(pk=dept.pk).values_list("path", flat=True).first()
    dept.path, dept.effective_site_id = department_path_and_site(dept)
    if dept.parent_id and f"/{dept.pk}/" in dept.path[: -len(f"{dept.pk}/")]:
        raise ValueError("a department cannot move under its own subtree")
    dept.save()
    if old_path and old_path != "/":
        # Parents sort before their children ("/1/5/" < "/1/5/9/"), so each child reads its
        # parent's new path.
        subtree = Department.objects.filter(path__startswith=old_path).exclude(pk=dept.pk)
        for child in subtree.order_by("path"):
            child.path, child.effective_site_id = department_path_and_site(child)
            child.save(update_fields=["path", "effective_site"])
    audit.record(
        action="org.department_saved" if before else "org.department_created",
        target=dept,
        actor=by,
        before=before,
    )
    return dept
