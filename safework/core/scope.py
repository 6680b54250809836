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
    # A user may manage several contractors (one contractor-manager grant each).
    contractor_ids: frozenset[int] = field(default_factory=frozenset)
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
            or self.contractor_ids
            or self.person_id
        )

    def union(self, other: "Scope") -> "Scope":
        """The scope of a user who holds both grants: everything either one sees.

        Two contractor-manager grants see both contractors' staff; a contractor or person scope
        mixed with a site grant keeps the wider site grant beside it.
        """
        return Scope(
            group_wide=self.group_wide or other.group_wide,
            site_ids=self.site_ids | other.site_ids,
            department_ids=self.department_ids | other.department_ids,
            contractor_ids=self.contractor_ids | other.contractor_ids,
            person_id=self.person_id or other.person_id,
        )
