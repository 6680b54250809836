"""The dashboard: certificate colours by site and by department, permits by type and status,
the risk heat map (work type × level: permits active today, alarms in the last 7 days) with its
drill-down into the permit ledger, and the approval time trend.

Each chart is one aggregate of `certs.queries` or `permits.queries` over the rows the user may
see (the same `…_visible_to` queries as the lists): a constant number of queries whatever the
rows. Chart data goes to the page as `json_script` (the CSP allows no inline script); the chart
code is `web/app.js`; each chart has its table for screen readers and for phones.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from safework.accounts.guard import scope_in
from safework.certs import queries as cert_queries
from safework.permits import queries as permit_queries
from safework.permits.workflow import PermitStatus
from safework.web.nav import NavEntry, register

register(
    NavEntry(
        "dashboard",
        gettext_lazy("Dashboard"),
        "web:dashboard",
        "certificates.read",
        icon="bar-chart",
        order=8,
    )
)


def _colour_chart(rows: list[dict], label_key: str, empty_label: str) -> dict:
    return {
        "labels": [r[label_key] or empty_label for r in rows],
        "series": [
            {"colour": c, "name": name, "data": [r[c] for r in rows]}
            for c, name in (("red", _("red")), ("yellow", _("yellow")), ("green", _("green")))
        ],
    }


def _permit_chart(rows: list[dict]) -> dict:
    types = list(dict.fromkeys(r["work_type_name"] for r in rows))
    labels = dict(PermitStatus.choices)
    statuses = [s for s in PermitStatus.values if any(r["status"] == s for r in rows)]
    counts = {(r["work_type_name"], r["status"]): r["n"] for r in rows}
    return {
        "labels": types,
        "series": [
            {"name": str(labels[s]), "data": [counts.get((t, s), 0) for t in types]}
            for s in statuses
        ],
    }


def _heat_chart(cells: list[dict]) -> dict:
    ledger = reverse("web:permits")
    none = _("no level")
    types = list(dict.fromkeys(c["work_type_name"] for c in cells))
    levels = list(dict.fromkeys(c["level_name"] or none for c in cells))
    for c in cells:
        query = {"work_type": c["work_type"]}
        if c["level"]:
            query["level"] = c["level"]
        c["url"] = f"{ledger}?{urlencode(query)}"
    return {
        "types": types,
        "levels": levels,
        "cells": [
            {
                "x": levels.index(c["level_name"] or none),
                "y": types.index(c["work_type_name"]),
                "active": c["active"],
                "anomalies": c["anomalies"],
                "url": c["url"],
                "name": f"{c['work_type_name']} {c['level_name']}".strip(),
            }
            for c in cells
        ],
        "legend": {"active": _("active today"), "anomalies": _("alarms, last 7 days")},
    }


@login_required
def dashboard(request):
    now = timezone.now()
    on = timezone.localdate(now)
    context: dict = {"on": on}
    cert_scope = scope_in(request, "certificates", "read")
    permit_scope = scope_in(request, "permits", "read")
    if cert_scope is None and permit_scope is None:
        raise PermissionDenied("certificates.read")
    if cert_scope is not None:
        certs = cert_queries.certificates_visible_to(cert_scope)
        by_site = cert_queries.colours_by_site(certs, on=on)
        by_department = cert_queries.colours_by_department(certs, on=on)
        context["by_site"] = by_site
        context["by_department"] = by_department
        context["by_site_chart"] = _colour_chart(by_site, "site", _("contractors' staff"))
        context["by_department_chart"] = _colour_chart(by_department, "label", _("none"))
    if permit_scope is not None:
        permits = permit_queries.permits_visible_to(permit_scope, request.user)
        alarms = permit_queries.alarms_visible_to(permit_scope, request.user)
        by_type = permit_queries.counts_by_type_and_status(permits, at=now)
        labels = dict(PermitStatus.choices)
        for r in by_type:
            r["status_label"] = labels.get(r["status"], r["status"])
        cells = permit_queries.risk_heat_map(permits, alarms, at=now)
        trend = permit_queries.approval_time_trend(permits, at=now)
        context["by_type"] = by_type
        context["by_type_chart"] = _permit_chart(by_type)
        context["heat_chart"] = _heat_chart(cells)
        context["cells"] = cells
        context["trend"] = trend
        context["trend_chart"] = {
            "labels": [t["week"].strftime("%m-%d") for t in trend],
            "median": [t["median_hours"] for t in trend],
            "n": [t["n"] for t in trend],
            "name": _("median hours"),
        }
    return render(request, "web/dashboard.html", context)
