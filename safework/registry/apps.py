from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "safework.registry"
    verbose_name = "证书核验"

    def ready(self):
        from safework.certs.signals import certificates_approved
        from safework.registry import (
            permissions,  # noqa: F401  (its models under certificates)
            tasks,  # noqa: F401  (registers the batch's task: core.jobs)
        )
        from safework.registry.verification import verify_approved

        certificates_approved.connect(verify_approved, dispatch_uid="registry_verify_approved")
