"""Who is told: recipients of an event by relation to its person, site and payload.

Relations are words in the rules' data. The domain above notify passes what notify cannot know
(the author of a roster, the applicant of a permit, the approvers of a step) in the event's
`recipients_hint` as {relation: [user ids]}; the rest is read from people and role grants, and
our liaison for a contractor from the contractor's `liaison` (a hint may add more).
"""

from __future__ import annotations

from dataclasses import dataclass

from safework.accounts.models import Role, RoleGrant, User
from safework.people.models import Contractor, Person

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


def _by_pk(users) -> list[User]:
    """Each user once, in id order (what `.distinct().order_by("pk")` returned)."""
    return sorted({u.pk: u for u in users}.values(), key=lambda u: u.pk)


class Resolver:
    """Who the recipients of events are, read in bulk: `prime(events)` reads the events'
    persons (employment, department, contractor), their logins, their contractors' liaisons and
    the hinted users in one query each; the role grants (with their active users) are read once,
    on first need. Every relation is then answered in memory, so the number of queries does not
    grow with the events (a diagnosis, a fan-out chunk). Anything not primed is read on demand."""

    def __init__(self) -> None:
        self._persons: dict[int, Person | None] = {}
        self._logins: dict[int, list[User]] = {}  # person id -> active users, id order
        self._liaisons: dict[int, dict | None] = {}  # contractor id -> {"pk", "name"} of liaison
        self._hinted: dict[int, User | None] = {}  # user id -> the active user (None: not one)
        self._grants: list[RoleGrant] | None = None
        self._superusers: list[User] | None = None

    # ---- bulk reads ----

    def prime(self, events) -> None:
        events = list(events)
        person_ids = {e.person_id for e in events if e.person_id is not None}
        self._load_persons(person_ids)
        contractors = set()
        for pid in person_ids:
            employment = self.employment_of(pid)
            if employment is not None and employment.contractor_id:
                contractors.add(employment.contractor_id)
        self._load_liaisons(contractors)
        liaisons = {v["pk"] for c in contractors if (v := self._liaisons.get(c))}
        self._load_logins(person_ids | liaisons)
        hinted = set()
        for e in events:
            for ids in (e.recipients_hint or {}).values():
                if isinstance(ids, list):
                    hinted.update(int(i) for i in ids)
        self._load_hinted(hinted)

    def _load_persons(self, ids) -> None:
        ids = {i for i in ids if i not in self._persons}
        if not ids:
            return
        rows = Person.objects.select_related(
            "current_employment__department", "current_employment__contractor"
        ).filter(pk__in=ids)
        found = {p.pk: p for p in rows}
        for i in ids:
            self._persons[i] = found.get(i)

    def _load_logins(self, ids) -> None:
        ids = {i for i in ids if i not in self._logins}
        if not ids:
            return
        for i in ids:
            self._logins[i] = []
        for u in User.objects.filter(person_id__in=ids, is_active=True).order_by("pk"):
            self._logins[u.person_id].append(u)

    def _load_liaisons(self, ids) -> None:
        ids = {i for i in ids if i not in self._liaisons}
        if not ids:
            return
        for i in ids:
            self._liaisons[i] = None
        rows = Contractor.objects.filter(pk__in=ids, liaison__isnull=False)
        for c in rows.values("pk", "liaison_id", "liaison__name"):
            self._liaisons[c["pk"]] = {"pk": c["liaison_id"], "name": c["liaison__name"]}

    def _load_hinted(self, ids) -> None:
        ids = {i for i in ids if i not in self._hinted}
        if not ids:
            return
        for i in ids:
            self._hinted[i] = None
        for u in User.objects.filter(pk__in=ids, is_active=True):
            self._hinted[u.pk] = u

    def _all_grants(self) -> list[RoleGrant]:
        if self._grants is None:
            self._grants = list(
                RoleGrant.objects.filter(user__is_active=True).select_related("user").order_by("pk")
            )
        return self._grants

    # ---- answers ----

    def person(self, person_id: int | None) -> Person | None:
        if person_id is None:
            return None
        self._load_persons([person_id])
        return self._persons[person_id]

    def employment_of(self, person_id: int | None):
        person = self.person(person_id)
        return person.current_employment if person else None

    def _grant_users(self, relation: str, match) -> list[Recipient]:
        return _users(relation, _by_pk(g.user for g in self._all_grants() if match(g)))

    def _nearest_in_tree(self, relation: str, role: str, person_id) -> list[Recipient]:
        """The holders of `role` for the nearest department above (or at) the person's."""
        employment = self.employment_of(person_id)
        if employment is None or employment.department is None:
            return []
        ancestors = [int(x) for x in employment.department.path.strip("/").split("/") if x]
        for dept_id in reversed(ancestors):
            found = self._grant_users(
                relation, lambda g, d=dept_id: g.role == role and g.department_id == d
            )
            if found:
                return found
        return []

    def _at_site(self, relation: str, role: str, site_id) -> list[Recipient]:
        """Holders of `role` at the site, else group-wide ones."""
        if site_id is not None and (
            found := self._grant_users(relation, lambda g: g.role == role and g.site_id == site_id)
        ):
            return found
        return self._grant_users(relation, lambda g: g.role == role and g.site_id is None)

    def _liaison(self, person_id) -> list[Recipient]:
        """Our liaison for the person's contractor (`Contractor.liaison`): their logins, or the
        person themselves (reached by their own channel bindings) when they have none."""
        employment = self.employment_of(person_id)
        if employment is None or not employment.contractor_id:
            return []
        self._load_liaisons([employment.contractor_id])
        liaison = self._liaisons[employment.contractor_id]
        if liaison is None:
            return []
        self._load_logins([liaison["pk"]])
        if users := self._logins[liaison["pk"]]:
            return _users("liaison", users)
        return [Recipient("liaison", None, liaison["pk"], liaison["name"])]

    def _administrators(self) -> list[Recipient]:
        if self._superusers is None:
            self._superusers = list(User.objects.filter(is_superuser=True, is_active=True))
        granted = [g.user for g in self._all_grants() if g.role == Role.ADMINISTRATOR]
        return _users("administrator", _by_pk([*self._superusers, *granted]))

    def resolve(
        self, relation: str, *, person_id, site_id, payload: dict, hint: dict
    ) -> list[Recipient]:
        """The recipients of one relation for an event (empty when nobody holds it)."""
        out: list[Recipient] = []
        if relation == "person" and person_id is not None:
            self._load_logins([person_id])
            if users := self._logins[person_id]:
                out = _users(relation, users)
            else:
                person = self.person(person_id)
                if person is not None and person.name:
                    out = [Recipient(relation, None, person_id, person.name)]
        elif relation == "team_leader":
            out = self._nearest_in_tree(relation, Role.TEAM_LEADER, person_id)
        elif relation == "workshop_head":
            out = self._nearest_in_tree(relation, Role.WORKSHOP_HEAD, person_id)
        elif relation in ("safety_officer", "safety_head", "principal"):
            out = self._at_site(relation, relation, site_id)
        elif relation == "contractor_manager":
            employment = self.employment_of(person_id)
            if employment is not None and employment.contractor_id:
                cid = employment.contractor_id
                out = self._grant_users(
                    relation,
                    lambda g: g.role == Role.CONTRACTOR_MANAGER and g.contractor_id == cid,
                )
        elif relation == "liaison":
            out = self._liaison(person_id)
        elif relation == "approver":
            roles = {str(r) for r in payload.get("roles") or []}
            if roles:
                out = self._grant_users(
                    relation,
                    lambda g: (
                        g.role in roles
                        and (not site_id or g.site_id is None or g.site_id == site_id)
                    ),
                )
        elif relation == "administrator":
            out = self._administrators()
        hinted = [int(i) for i in (hint or {}).get(relation) or []]
        if hinted:
            self._load_hinted(hinted)
            known = {r.user_id for r in out}
            extra = [u for i in hinted if (u := self._hinted[i]) is not None and u.pk not in known]
            out += _users(relation, _by_pk(extra))
        return out


def employment_of(person_id: int | None):
    return Resolver().employment_of(person_id)


def resolve(relation: str, *, person_id, site_id, payload: dict, hint: dict) -> list[Recipient]:
    """The recipients of one relation for one event (a fan-out or a diagnosis shares one
    `Resolver` over its events instead)."""
    return Resolver().resolve(
        relation, person_id=person_id, site_id=site_id, payload=payload, hint=hint
    )


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
