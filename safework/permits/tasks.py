"""Background work of permits: delivery of the park data exchange's outbox (AQ 3064.2 §8.2).

`park.enqueue_permit` / `enqueue_alarm` queue `deliver_park_pushes` when their transaction
commits (`core.jobs.enqueue`, registered for ParkPush with `@jobs.runner`), so a change reaches
the park within seconds; the periodic task delivers every minute what is due (retries after
their backoff, rows whose worker died once their lease has run out, everything written while the
endpoint was not configured). Running either twice, or both at once, is safe: a row is claimed
by one worker at a time (park.claim_due).
"""

from django.tasks import task
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from safework.core import jobs
from safework.permits import park, services
from safework.permits.models import ParkPush

__all__ = ["deliver_due_park_pushes", "deliver_park_pushes", "permit_clock"]


@jobs.runner(ParkPush)
@task
def deliver_park_pushes(push_id: int) -> None:
    """Deliver what is due now (the row `push_id` that queued this run among them)."""
    park.deliver_due(timezone.now())


@db_periodic_task(crontab(minute="*"))
def deliver_due_park_pushes():
    """Every minute: deliver the pushes that are due."""
    park.deliver_due(timezone.now())


@db_periodic_task(crontab(minute="*"))
def permit_clock():
    """Every minute: store the expiry of permits past their validity (alarm 10 for work still
    under way; the state is computed when read anyway) and report approval steps past their time
    limit, then escalate them (each once)."""
    now = timezone.now()
    services.expire_due(at=now)
    services.flag_overdue_steps(at=now)
