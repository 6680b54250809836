from django.apps import AppConfig


class QualificationConfig(AppConfig):
    name = "safework.qualification"
    verbose_name = "资格审查"

    def ready(self):
        from safework.core.catalogue import register_catalogue
        from safework.core.settings_registry import register_setting
        from safework.ledger.models import ReportKind
        from safework.ledger.report_jobs import register_report
        from safework.qualification import shipped
        from safework.qualification.conf import SETTINGS
        from safework.qualification.coverage import build_report

        register_catalogue(self.label, shipped.rows)
        for spec in SETTINGS:
            register_setting(spec)
        register_report(ReportKind.COVERAGE, build_report)
