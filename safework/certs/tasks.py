"""huey discovers `<app>.tasks`: the certs tasks live beside the services they call."""

from safework.certs.imports.tasks import *  # noqa: F403
from safework.certs.verification_tasks import *  # noqa: F403
