""" "Managed at a higher level" (升级管理, GB 30871-2022 5.1.1) as the enterprise's UpgradePolicy
says: `levels_up` levels, and at the top level one more approver."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from safework.core import memo
from safework.core.refusals import Reason
from safework.work.levels import _levels
from safework.work.models import UpgradePolicy, WorkLevel, WorkType

# The order the kinds are reported in (and their AQ alarm codes listed in).
KIND_ORDER = ("holiday", "rest_day", "night", "special_period")


def policy_for(work_type: WorkType) -> UpgradePolicy | None:
    """The type's upgrade policy (read once per service call: routing and the level decision
    both ask)."""
    return memo.get(
        ("work.upgrade_policy", work_type.pk),
        lambda: UpgradePolicy.objects.filter(work_type=work_type).first(),
    )


memo.forget_on_change(UpgradePolicy)


@dataclass(frozen=True, slots=True)
class Upgrade:
    level: WorkLevel | None  # the level to manage the permit at
    extra_roles: tuple[str, ...]  # account roles that approve in addition
    reasons: tuple[Reason, ...]
    # AQ 3064.2 Table A.4 alarm codes that apply if the permit is NOT upgraded (hot work: 40
    # holiday, 41 rest day, 42 night, 43 special period).
    alarm_codes: tuple[str, ...]


def upgrade(work_type: WorkType, level: WorkLevel | None, kinds: Iterable[str]) -> Upgrade:
    """The level and extra approvers for a permit whose span touches `kinds` (from
    calendar.assess_span). No kinds, or no policy for the type: unchanged."""
    kinds = [k for k in KIND_ORDER if k in set(kinds)]
    policy = policy_for(work_type)
    if not kinds or policy is None:
        return Upgrade(level, (), (), ())
    alarm_codes = tuple(
        str(policy.alarm_codes[k]) for k in kinds if k in (policy.alarm_codes or {})
    )
    if level is None:
        levels = []
    else:
        levels = _levels(work_type)
    new_level, extra = level, ()
    if level is not None and levels:
        index = next(i for i, lv in enumerate(levels) if lv.pk == level.pk)
        target = index + policy.levels_up
        new_level = levels[min(target, len(levels) - 1)]
        if target > len(levels) - 1 and policy.at_top_extra_role:
            extra = (policy.at_top_extra_role,)
    elif policy.at_top_extra_role:
        extra = (policy.at_top_extra_role,)
    names = "、".join(_kind_name(k) for k in kinds)
    if new_level is not None and level is not None and new_level.pk != level.pk:
        message = _("%(kinds)s: managed one level higher, %(from)s → %(to)s.") % {
            "kinds": names,
            "from": level.name,
            "to": new_level.name,
        }
    else:
        message = _("%(kinds)s: already at the top level, one more approver (%(roles)s).") % {
            "kinds": names,
            "roles": ", ".join(extra),
        }
    reason = Reason(
        "work.upgrade.applied",
        message,
        policy.clause,
        subject=new_level.code if new_level else "",
        blocking=False,
    )
    return Upgrade(new_level, extra, (reason,), alarm_codes)


def _kind_name(kind: str) -> str:
    return {
        "holiday": _("holiday"),
        "rest_day": _("rest day"),
        "night": _("night"),
        "special_period": _("special period"),
    }[kind]
