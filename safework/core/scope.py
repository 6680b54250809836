"""The visibility scope of a user: a plain value that every `…_visible_to(scope)` query takes.

`accounts.scope_of(user)` builds it from the user's role grants; lower layers (org, people, certs)
only read it, so they never import accounts.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Scope:
    group_wide: bool = False
    site_ids: frozenset[int] = field(default_factory=frozenset)
    department_ids: frozenset[int] = field(default_factory=frozenset)  # roots of subtrees
    contractor_id: int | None = None
    person_id: int | None = None

    @classmethod
    def everything(cls) -> "Scope":
        return cls(group_wide=True)

    @classmethod
    def nothing(cls) -> "Scope":
        return cls()

    @property
    def is_empty(self) -> bool:
        return not (
            self.group_wide
            or self.site_ids
            or self.department_ids
            or self.contractor_id
            or self.person_id
        )

    def union(self, other: "Scope") -> "Scope":
        """The scope of a user who holds both grants.

        A contractor or a person scope is exclusive (a contractor manager sees only their own
        staff); mixing it with a site grant keeps the wider site grant.
        """
        return Scope(
            group_wide=self.group_wide or other.group_wide,
            site_ids=self.site_ids | other.site_ids,
            department_ids=self.department_ids | other.department_ids,
            contractor_id=self.contractor_id or other.contractor_id,
            person_id=self.person_id or other.person_id,
        )
