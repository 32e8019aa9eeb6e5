from django.apps import AppConfig


class LdcConfig(AppConfig):
    name = "ldc"
    verbose_name = "LDCs (tenants)"

    def ready(self) -> None:
        from ldc import schema  # noqa: F401 - registers the OpenAPI auth extension
