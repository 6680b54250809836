"""Who is told: recipients of an event by relation to its person, site and payload.

Relations are words in the rules' data. The domain above notify passes what notify cannot know
(the author of a roster, the applicant of a permit, the approvers of a step) in the event's
`recipients_hint` as {relation: [user ids]}; the rest is read from people and role grants, and
our liaison for a contractor from the contractor's `liaison` (a hint may add more).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from safework.accounts.models import Role, RoleGrant, User
from safework.people.models import Person

RELATIONS = (
    "person",
    "team_leader",
    "workshop_head",
    "safety_officer",
    "safety_head",
    "principal",
    "contractor_manager",
    "liaison",
    "roster_author",
    "permit_applicant",
    "work_leader",
    "approver",
    "administrator",
)


@dataclass(frozen=True)
class Recipient:
    relation: str
    user_id: int | None
    person_id: int | None
    label: str

    @property
    def key(self) -> str:
        return f"u{self.user_id}" if self.user_id else f"p{self.person_id}"


def _label(user: User) -> str:
    return (user.get_full_name() or user.username).strip()


def _users(relation: str, users) -> list[Recipient]:
    return [Recipient(relation, u.pk, u.person_id, _label(u)) for u in users]


def _grant_users(relation: str, q: Q) -> list[Recipient]:
    users = User.objects.filter(is_active=True, grants__in=RoleGrant.objects.filter(q))
    return _users(relation, users.distinct().order_by("pk"))


def employment_of(person_id: int | None):
    if person_id is None:
        return None
    person = (
        Person.objects.select_related("current_employment__department").filter(pk=person_id).first()
    )
    return person.current_employment if person else None


def _nearest_in_tree(relation: str, role: str, person_id: int | None) -> list[Recipient]:
    """The holders of `role` for the nearest department above (or at) the person's."""
    employment = employment_of(person_id)
    if employment is None or employment.department is None:
        return []
    ancestors = [int(x) for x in employment.department.path.strip("/").split("/") if x]
    for dept_id in reversed(ancestors):
        found = _grant_users(relation, Q(role=role, department_id=dept_id))
        if found:
            return found
    return []


def _at_site(relation: str, role: str, site_id: int | None) -> list[Recipient]:
    """Holders of `role` at the site, else group-wide ones."""
    if site_id is not None and (found := _grant_users(relation, Q(role=role, site_id=site_id))):
        return found
    return _grant_users(relation, Q(role=role, site__isnull=True))


def _liaison(person_id: int | None) -> list[Recipient]:
    """Our liaison for the person's contractor (`Contractor.liaison`): their logins, or the
    person themselves (reached by their own channel bindings) when they have none."""
    employment = employment_of(person_id)
    if employment is None or not employment.contractor_id:
        return []
    liaison = (
        Person.objects.filter(liaison_for__pk=employment.contractor_id).values("pk", "name").first()
    )
    if liaison is None:
        return []
    users = list(User.objects.filter(person_id=liaison["pk"], is_active=True).order_by("pk"))
    if users:
        return _users("liaison", users)
    return [Recipient("liaison", None, liaison["pk"], liaison["name"])]


def resolve(relation: str, *, person_id, site_id, payload: dict, hint: dict) -> list[Recipient]:
    """The recipients of one relation for an event (empty when nobody holds it)."""
    out: list[Recipient] = []
    if relation == "person" and person_id is not None:
        users = list(User.objects.filter(person_id=person_id, is_active=True))
        if users:
            out = _users(relation, users)
        else:
            name = Person.objects.filter(pk=person_id).values_list("name", flat=True).first()
            out = [Recipient(relation, None, person_id, name or f"#{person_id}")] if name else []
    elif relation == "team_leader":
        out = _nearest_in_tree(relation, Role.TEAM_LEADER, person_id)
    elif relation == "workshop_head":
        out = _nearest_in_tree(relation, Role.WORKSHOP_HEAD, person_id)
    elif relation in ("safety_officer", "safety_head", "principal"):
        out = _at_site(relation, relation, site_id)
    elif relation == "contractor_manager":
        employment = employment_of(person_id)
        if employment is not None and employment.contractor_id:
            q = Q(role=Role.CONTRACTOR_MANAGER, contractor_id=employment.contractor_id)
            out = _grant_users(relation, q)
    elif relation == "liaison":
        out = _liaison(person_id)
    elif relation == "approver":
        roles = [str(r) for r in payload.get("roles") or []]
        if roles:
            site = Q(site_id=site_id) | Q(site__isnull=True) if site_id else Q()
            out = _grant_users(relation, Q(role__in=roles) & site)
    elif relation == "administrator":
        users = User.objects.filter(
            Q(is_superuser=True) | Q(grants__role=Role.ADMINISTRATOR), is_active=True
        )
        out = _users(relation, users.distinct().order_by("pk"))
    hinted = [int(i) for i in (hint or {}).get(relation) or []]
    if hinted:
        known = {r.user_id for r in out}
        extra = User.objects.filter(pk__in=hinted, is_active=True).exclude(pk__in=known)
        out += _users(relation, extra.order_by("pk"))
    return out


# Whom to tell next when a notice to `relation` is not acknowledged in time (and the rule names
# no one): one level up.
NEXT_LEVEL = {
    "person": "team_leader",
    "team_leader": "workshop_head",
    "workshop_head": "safety_officer",
    "roster_author": "workshop_head",
    "permit_applicant": "safety_officer",
    "work_leader": "safety_officer",
    "contractor_manager": "liaison",
    "liaison": "safety_officer",
    "approver": "safety_head",
    "safety_officer": "safety_head",
    "safety_head": "principal",
}
