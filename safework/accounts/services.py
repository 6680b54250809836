"""Writes to accounts: users and their role grants. Each is one transaction ending with its
audit record; password hashes never enter the audit trail."""

from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.accounts import tokens
from safework.accounts.models import ApiToken, Role, RoleGrant, User
from safework.core import audit, policy
from safework.core.errors import FieldError, InvalidInput
from safework.core.integrity import describe_unique, save_unique
from safework.core.refusals import Reason, Refused
from safework.core.validation import clean_model, visible_ref
from safework.org.models import Department, Site
from safework.people.models import Contractor, Person

# What an audit record keeps of a user: never the password hash.
USER_AUDIT_FIELDS = (
    "id",
    "username",
    "first_name",
    "last_name",
    "email",
    "is_active",
    "is_staff",
    "is_superuser",
    "person",
)
USER_FIELDS = {"username", "first_name", "last_name", "email", "is_staff", "person_id", "password"}

# A concurrent twin that passed the checks below meets the unique constraint: same answer.
describe_unique(User, "username", field="username", message=gettext_lazy("This username is taken."))
describe_unique(
    User, "person", field="person_id", message=gettext_lazy("This person has a login already.")
)
describe_unique(
    RoleGrant,
    "grant_unique",
    field="role",
    message=gettext_lazy("The user holds this grant already."),
)

_PERSONAL = {Role.WORKER, Role.GUARDIAN, Role.GAS_TESTER}
_DEPARTMENT = {Role.WORKSHOP_HEAD, Role.TEAM_LEADER}


def _raise_if(errors) -> None:
    if errors:
        raise InvalidInput(errors)


def _snapshot(user: User) -> dict:
    return audit.snapshot(user, fields=USER_AUDIT_FIELDS)


def _password_errors(password: str, user: User) -> list[FieldError]:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        return [
            FieldError("password", e.code or "invalid", " ".join(e.messages))
            for e in exc.error_list
        ]
    return []


def _apply_user(user: User, changes: dict) -> list[FieldError]:
    errors = [
        FieldError(name, "unknown_field", _("Unknown field."))
        for name in sorted(set(changes) - USER_FIELDS)
    ]
    if "username" in changes:
        username = (changes["username"] or "").strip()
        if User.objects.filter(username__iexact=username).exclude(pk=user.pk).exists():
            errors.append(FieldError("username", "duplicate", _("This username is taken.")))
        user.username = username
    if "person_id" in changes:
        try:
            visible_ref(Person.objects.all(), changes["person_id"], "person_id")
        except InvalidInput as exc:
            errors += exc.errors
        else:
            taken = User.objects.filter(person_id=changes["person_id"]).exclude(pk=user.pk)
            if changes["person_id"] is not None and taken.exists():
                errors.append(
                    FieldError("person_id", "duplicate", _("This person has a login already."))
                )
        user.person_id = changes["person_id"]
    for field in ("first_name", "last_name", "email", "is_staff"):
        if field in changes:
            setattr(user, field, changes[field] if changes[field] is not None else "")
    if changes.get("password"):
        errors += _password_errors(changes["password"], user)
        user.set_password(changes["password"])
    return errors


@transaction.atomic
def create_user(*, by, values: dict) -> User:
    """A login, linked to its person (if any). Roles are separate grants."""
    user = User()
    errors = _apply_user(user, values)
    if not values.get("password"):
        user.set_unusable_password()
    _raise_if(errors)
    clean_model(user, exclude=["password", "last_login", "date_joined"])
    save_unique(user)
    audit.record(action="accounts.user_created", target=user, actor=by, after=_snapshot(user))
    return user


@transaction.atomic
def update_user(*, by, user: User, changes: dict) -> User:
    """Change a user's details or password (only the fact of a password change is audited)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    before = _snapshot(user)
    _raise_if(_apply_user(user, changes))
    clean_model(user, exclude=["password", "last_login", "date_joined"])
    save_unique(user)
    after = _snapshot(user) | ({"password_changed": True} if changes.get("password") else {})
    audit.record(action="accounts.user_updated", target=user, actor=by, before=before, after=after)
    return user


def administrators():
    """Who administers SafeWork: active users who are superusers or hold the administrator role."""
    granted = RoleGrant.objects.filter(role=Role.ADMINISTRATOR).values("user_id")
    return User.objects.filter(is_active=True).filter(Q(is_superuser=True) | Q(pk__in=granted))


def lock_administrators() -> frozenset[int]:
    """Lock every active administrator's row (in pk order) and return their ids.

    Call at the start of a transaction that may take administration away (deactivating a user,
    revoking or changing a grant, clearing is_superuser), then `refuse_losing_administration`
    after the change: two such transactions run one after the other, so two administrators
    deactivating each other at once cannot leave none.
    """
    ids = list(administrators().values_list("pk", flat=True))
    list(User.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk"))
    # A transaction we waited for may have changed them: read them again (a new statement sees
    # what it committed).
    return frozenset(administrators().values_list("pk", flat=True))


def refuse_losing_administration(before: frozenset[int]) -> None:
    """Refused when the change made in this transaction left no active administrator."""
    if before and not administrators().exists():
        raise Refused(
            [
                Reason(
                    "accounts.last_administrator",
                    _(
                        "This would leave SafeWork without an active administrator: make "
                        "another user an administrator first."
                    ),
                )
            ]
        )


def refuse_deactivating_oneself(*, by, user: User) -> None:
    if by is not None and user.pk == by.pk:
        raise Refused(
            [
                Reason(
                    "accounts.deactivate_self",
                    _("You cannot deactivate your own account: another administrator can."),
                    subject=user.username,
                )
            ]
        )


@transaction.atomic
def deactivate_user(*, by, user: User) -> User:
    """The user can no longer log in; grants and history stay. Never oneself, never the last
    administrator (409)."""
    refuse_deactivating_oneself(by=by, user=user)
    administrators_before = lock_administrators()
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_active:
        return user
    before = _snapshot(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    refuse_losing_administration(administrators_before)
    audit.record(
        action="accounts.user_deactivated",
        target=user,
        actor=by,
        before=before,
        after=_snapshot(user),
    )
    return user


def _grant_errors(grant: RoleGrant) -> list[FieldError]:
    """A grant names what its role's scope needs, and nothing its role does not use."""
    errors = []
    role = grant.role
    if role == Role.CONTRACTOR_MANAGER and not grant.contractor_id:
        errors.append(
            FieldError("contractor_id", "required", _("A contractor manager names the contractor."))
        )
    if role != Role.CONTRACTOR_MANAGER and grant.contractor_id:
        errors.append(
            FieldError(
                "contractor_id", "invalid", _("Only a contractor manager names a contractor.")
            )
        )
    if role not in _DEPARTMENT and grant.department_id:
        errors.append(
            FieldError(
                "department_id",
                "invalid",
                _("Only workshop heads and team leaders name a department."),
            )
        )
    if role in _DEPARTMENT and not (grant.department_id or grant.site_id):
        errors.append(
            FieldError("department_id", "required", _("Name the department (or the site)."))
        )
    if role == Role.SAFETY_OFFICER and not grant.site_id:
        errors.append(FieldError("site_id", "required", _("A safety officer works for a site.")))
    if role in _PERSONAL and not grant.user.person_id:
        errors.append(
            FieldError(
                "user_id",
                "no_person",
                _("Link the user to their person first: this role sees only its own records."),
            )
        )
    if role == Role.CONTRACTOR_MANAGER and grant.contractor_id:
        # A user's scope names one contractor (core.scope.Scope.union keeps one): a second
        # contractor would silently be dropped, so it is refused.
        other = RoleGrant.objects.filter(user_id=grant.user_id, role=Role.CONTRACTOR_MANAGER)
        if other.exclude(pk=grant.pk).exclude(contractor_id=grant.contractor_id).exists():
            errors.append(
                FieldError(
                    "contractor_id",
                    "second_contractor",
                    _(
                        "This user manages another contractor already: a contractor manager "
                        "manages one contractor (revoke that grant first, or use another login)."
                    ),
                )
            )
    duplicate = RoleGrant.objects.filter(
        user_id=grant.user_id,
        role=role,
        site_id=grant.site_id,
        contractor_id=grant.contractor_id,
        department_id=grant.department_id,
    ).exclude(pk=grant.pk)
    if duplicate.exists():
        errors.append(FieldError("role", "duplicate", _("The user holds this grant already.")))
    return errors


GRANT_FIELDS = {"site_id", "contractor_id", "department_id"}


def _check_grant_refs(values: dict) -> list[FieldError]:
    errors = []
    for field, qs in (
        ("user_id", User.objects.all()),
        ("site_id", Site.objects.all()),
        ("contractor_id", Contractor.objects.all()),
        ("department_id", Department.objects.all()),
    ):
        if field in values:
            try:
                visible_ref(qs, values[field], field)
            except InvalidInput as exc:
                errors += exc.errors
    return errors


@transaction.atomic
def grant_role(
    *,
    by,
    user_id: int,
    role: str,
    site_id: int | None = None,
    contractor_id: int | None = None,
    department_id: int | None = None,
) -> RoleGrant:
    """Give a user a role: group-wide (no site), at a site, for a contractor or a department."""
    values = {
        "user_id": user_id,
        "site_id": site_id,
        "contractor_id": contractor_id,
        "department_id": department_id,
    }
    _raise_if(_check_grant_refs(values))
    grant = RoleGrant(role=role, **values)
    _raise_if(_grant_errors(grant))
    clean_model(grant)
    save_unique(grant)
    audit.record(action="accounts.role_granted", target=grant, actor=by)
    return grant


@transaction.atomic
def update_grant(*, by, grant: RoleGrant, changes: dict) -> RoleGrant:
    """Move a grant to another site, contractor or department (the role and user stay)."""
    unknown = sorted(set(changes) - GRANT_FIELDS)
    _raise_if([FieldError(n, "unknown_field", _("Unknown field.")) for n in unknown])
    grant = RoleGrant.objects.select_for_update().get(pk=grant.pk)
    before = audit.snapshot(grant)
    _raise_if(_check_grant_refs(changes))
    for field, value in changes.items():
        setattr(grant, field, value)
    _raise_if(_grant_errors(grant))
    save_unique(grant)
    audit.record(action="accounts.grant_updated", target=grant, actor=by, before=before)
    return grant


@transaction.atomic
def revoke_grant(*, by, grant: RoleGrant) -> None:
    """Take the role away. The grant row goes; the audit record keeps what it was. Never the
    last administrator's administrator grant (409)."""
    administrators_before = lock_administrators()
    grant = RoleGrant.objects.select_for_update().get(pk=grant.pk)
    before = audit.snapshot(grant)
    label = ("accounts.rolegrant", str(grant.pk), str(grant))
    grant.delete()
    refuse_losing_administration(administrators_before)
    audit.record(action="accounts.role_revoked", target=label, actor=by, before=before)


# --- login lockouts ------------------------------------------------------------------------


@transaction.atomic
def record_lockout(
    *, username: str, client_addr: str, failures: int, path: str, cool_off_seconds: int
) -> None:
    """Audit that logging in as `username` from `client_addr` is locked (accounts.lockout)."""
    user = User.objects.filter(username=username).first()
    target = user if user is not None else ("accounts.user", "", username)
    after = {
        "username": username,
        "client_addr": client_addr,
        "failures": failures,
        "path": path,
        "cool_off_seconds": cool_off_seconds,
    }
    audit.record(
        action="accounts.login_locked_out",
        target=target,
        actor=None,
        after=after,
        client_addr=client_addr,
    )


@transaction.atomic
def unlock_login(*, by, username: str = "", client_addr: str = "") -> int:
    """Forget the failed logins of an account (any address), of an address (any account), or of
    one account at one address: whatever lockout they caused ends now. Returns how many counters
    were cleared (0: nothing was locked or counting)."""
    from axes.handlers.proxy import AxesProxyHandler

    if not username and not client_addr:
        raise InvalidInput(
            FieldError("username", "required", _("Name the account or the address to unlock."))
        )
    cleared = AxesProxyHandler.reset_attempts(
        username=username or None, ip_address=client_addr or None
    )
    user = User.objects.filter(username=username).first() if username else None
    target = user if user is not None else ("accounts.user", "", username or client_addr)
    after = {"username": username, "client_addr": client_addr, "cleared": cleared}
    audit.record(action="accounts.login_unlocked", target=target, actor=by, after=after)
    return cleared


# --- API tokens ----------------------------------------------------------------------------

TOKEN_AUDIT_FIELDS = (
    "id",
    "user",
    "name",
    "prefix",
    "read_only",
    "resources",
    "expires_at",
    "revoked_at",
)


def _token_snapshot(token) -> dict:
    return audit.snapshot(token, fields=TOKEN_AUDIT_FIELDS)  # never the digest


@transaction.atomic
def create_token(
    *,
    by: User,
    name: str,
    read_only: bool = False,
    resources: list[str] | None = None,
    expires_at=None,
    at=None,
):
    """A new token for `by` itself. Returns (token row, raw token): the raw token exists only in
    this answer; the database keeps its keyed hash."""
    at = at or timezone.now()
    errors = []
    name = (name or "").strip()
    if not name:
        errors.append(FieldError("name", "required", _("Name the token (what uses it).")))
    resources = sorted(set(resources or []))
    unknown = [r for r in resources if r not in policy.resources()]
    if unknown:
        message = _("Unknown resources: %(names)s.") % {"names": ", ".join(unknown)}
        errors.append(FieldError("resources", "invalid", message))
    if expires_at is not None and expires_at <= at:
        errors.append(FieldError("expires_at", "past", _("The expiry must be in the future.")))
    _raise_if(errors)
    new = tokens.generate()
    token = ApiToken.objects.create(
        user=by,
        name=name,
        prefix=new.prefix,
        digest=new.digest,
        read_only=read_only,
        resources=resources,
        expires_at=expires_at,
    )
    audit.record(
        action="accounts.token_created", target=token, actor=by, after=_token_snapshot(token)
    )
    return token, new.raw


@transaction.atomic
def revoke_token(*, by, token, at=None):
    """The token authenticates nobody from now on; the row stays for the record."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        return token
    before = _token_snapshot(token)
    token.revoked_at = at or timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record(
        action="accounts.token_revoked",
        target=token,
        actor=by,
        before=before,
        after=_token_snapshot(token),
    )
    return token


def touch_token(token, *, at) -> None:
    """Note when a token was last used (at most once a minute per token). Bookkeeping like
    Django's last_login, not a change of anything a user decides: not audited."""
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=at - timedelta(minutes=1))
    ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=at)
