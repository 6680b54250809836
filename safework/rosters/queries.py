"""Reads of rosters and their entries, filtered by a visibility scope (the API and the admin
filter through these)."""

from django.db.models import Q, QuerySet

from safework.core.scope import Scope
from safework.rosters.models import Roster, RosterEntry


def rosters_visible_to(scope: Scope, user) -> QuerySet[Roster]:
    """Group-wide: all; a site scope: that site's rosters; everyone: the rosters they wrote."""
    if scope.group_wide:
        return Roster.objects.all()
    q = Q(author_id=user.pk) if user is not None and user.pk else Q(pk__in=[])
    if scope.site_ids:
        q |= Q(site_id__in=scope.site_ids)
    return Roster.objects.filter(q)


def roster_entries_visible_to(scope: Scope, user) -> QuerySet[RosterEntry]:
    """The entries of the rosters the scope sees (a roster is read whole, as its check is)."""
    if scope.group_wide:
        return RosterEntry.objects.all()
    return RosterEntry.objects.filter(roster__in=rosters_visible_to(scope, user))
