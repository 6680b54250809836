"""rules predicates built from the permission matrix: `user.has_perm("safework.read_people")`."""

import rules

from safework.accounts import matrix
from safework.accounts.scope import scope_for


def _predicate(resource: str, action: str):
    @rules.predicate(name=f"may_{action}_{resource}")
    def allowed(user) -> bool:
        return scope_for(user, resource, action) is not None

    return allowed


for _resource in matrix.RESOURCES:
    for _action in (matrix.READ, matrix.WRITE):
        rules.add_perm(f"safework.{_action}_{_resource}", _predicate(_resource, _action))
