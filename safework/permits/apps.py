from django.apps import AppConfig


class PermitsConfig(AppConfig):
    name = "safework.permits"
    verbose_name = "作业票"

    def ready(self):
        # The park push task registers itself for ParkPush (core.jobs.runner): park.py queues it
        # by model, without importing the tasks module that imports it.
        from safework.permits import tasks  # noqa: F401
