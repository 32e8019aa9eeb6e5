from django.apps import AppConfig


class LdcConfig(AppConfig):
    name = "ldc"
    verbose_name = "LDCs (tenants)"

    def ready(self) -> None:
        from ldc import schema  # noqa: F401 - registers the OpenAPI auth extension
        from ldc.training import completed_required_course
        from portal.access import training_check_install

        training_check_install(completed_required_course)
