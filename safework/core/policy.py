"""The permission policy as data: resources, their actions, and which roles may by default.

Each app declares its own resources in its `permissions.py`, imported by its `AppConfig.ready()`:

    PEOPLE = policy.declare(
        "people",
        app="people",
        cells={READ: {Role.WORKER, …}, WRITE: {Role.SAFETY_OFFICER, …}},
        objects={"people.person": "safework.people.queries.persons_visible_to"},
    )

- A permission is named "<resource>.<action>": "people.write", later "permits.approve" or
  "permits.gas_test". Actions are any names a resource declares, not only read and write.
- A cell (role × resource × action) says whether a role may do this at all; *where* it may is
  the scope of the grant that holds the role (`accounts.scope`), and an object outside that scope
  is someone else's (404). Object-level rules beyond the scope ("holds the approver role at this
  permit's site and is not its applicant") are rules predicates added in accounts.guard.
- `objects` maps the resource's models ("app_label.model_name") to their visibility query
  (`…_visible_to(scope)`, or `(scope, user)` where the user's own rows count), by dotted path so
  that declaring imports nothing: "is this object inside the user's scope" asks that query.

Core imports no other app, so roles are plain strings here (`Role` values are those strings);
accounts checks every named role against its list (a system check) and enforces the policy:
`accounts.guard.require(user_or_request, perm, obj=None)`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

READ, WRITE = "read", "write"
EVERY_ROLE = "*"  # a cell open to every account role (each manages their own API tokens)


@dataclass(frozen=True)
class Resource:
    name: str
    app: str  # the app label whose permissions.py declared it
    cells: Mapping[str, frozenset[str]]  # action → roles that may, by default
    objects: Mapping[str, str | Callable] = field(default_factory=dict)

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(self.cells)


_RESOURCES: dict[str, Resource] = {}
_LISTENERS: list[Callable[[Resource], None]] = []
_VISIBLE: dict[str, Callable] = {}  # model label → resolved visibility query (cache)


def perm_name(resource: str, action: str) -> str:
    return f"{resource}.{action}"


def declare(
    name: str,
    *,
    app: str,
    cells: Mapping[str, Iterable[str]],
    objects: Mapping[str, str | Callable] | None = None,
) -> str:
    """Declare a resource with its actions and their default cells; returns its name.

    `cells` maps each action to the roles that may do it (`EVERY_ROLE` for all of them); an
    action with no role is still declared (only superusers may, until a role is given it).
    """
    if name in _RESOURCES:
        raise ImproperlyConfigured(f"Resource {name!r} is declared twice.")
    if "." in name or not name:
        raise ImproperlyConfigured(f"Resource name {name!r}: a word without dots.")
    for action in cells:
        if "." in action or not action:
            raise ImproperlyConfigured(f"Action name {action!r} of {name!r}: a word without dots.")
    resource = Resource(
        name=name,
        app=app,
        cells={action: frozenset(roles) for action, roles in cells.items()},
        objects=dict(objects or {}),
    )
    for label in resource.objects:
        owner = _owner_of_model(label)
        if owner is not None:
            raise ImproperlyConfigured(f"{label} belongs to {owner!r} already, not to {name!r}.")
    _RESOURCES[name] = resource
    for listener in _LISTENERS:
        listener(resource)
    return name


def attach(name: str, *, objects: Mapping[str, str | Callable]) -> str:
    """Put models of a higher app under a resource declared lower down (ledger's import jobs and
    registry's look-ups are "certificates"): the cells stay the declaring app's."""
    declared = resource(name)
    for label in objects:
        owner = _owner_of_model(label)
        if owner is not None:
            raise ImproperlyConfigured(f"{label} belongs to {owner!r} already, not to {name!r}.")
    declared.objects.update(objects)
    for label in objects:
        _VISIBLE.pop(label, None)
    return name


def _owner_of_model(label: str) -> str | None:
    return next((r.name for r in _RESOURCES.values() if label in r.objects), None)


def subscribe(listener: Callable[[Resource], None]) -> None:
    """Call `listener(resource)` for every resource declared so far and every one to come (an
    app's ready() may run before or after the listener's)."""
    _LISTENERS.append(listener)
    for resource in list(_RESOURCES.values()):
        listener(resource)


def resources() -> tuple[str, ...]:
    """Names of the declared resources, in declaration order."""
    return tuple(_RESOURCES)


def resource(name: str) -> Resource:
    try:
        return _RESOURCES[name]
    except KeyError:
        raise ImproperlyConfigured(f"No resource {name!r} is declared.") from None


def perms() -> tuple[str, ...]:
    """Every declared permission name ("people.read", …)."""
    return tuple(perm_name(r.name, a) for r in _RESOURCES.values() for a in r.actions)


def split(perm: str) -> tuple[str, str]:
    """("people", "write") for "people.write"; a permission nobody declared is a programming
    error (a typo would otherwise deny, or allow, silently)."""
    name, _, action = perm.partition(".")
    if action not in resource(name).cells:
        raise ImproperlyConfigured(f"No permission {perm!r} is declared.")
    return name, action


def allows(role: str, resource_name: str, action: str) -> bool:
    """The cell: may `role` do `action` on `resource_name` at all (somewhere in its scope)?"""
    declared = _RESOURCES.get(resource_name)
    if declared is None:
        return False
    roles = declared.cells.get(action, frozenset())
    return EVERY_ROLE in roles or role in roles


def roles_named() -> set[str]:
    """Every role some cell names (checked against the account roles by accounts)."""
    return {role for r in _RESOURCES.values() for roles in r.cells.values() for role in roles}


def visibility(label: str) -> Callable | None:
    """The visibility query of a model ("people.person") as `query(scope, user)`, or None when
    no resource declared the model (then only group-wide scopes see it: fail closed)."""
    if label in _VISIBLE:
        return _VISIBLE[label]
    owner = _owner_of_model(label)
    if owner is None:
        return None
    query = _RESOURCES[owner].objects[label]
    query = import_string(query) if isinstance(query, str) else query
    takes_user = "user" in inspect.signature(query).parameters
    _VISIBLE[label] = query if takes_user else (lambda scope, user=None, q=query: q(scope))
    return _VISIBLE[label]
