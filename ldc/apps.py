from django.apps import AppConfig


class LdcConfig(AppConfig):
    name = "ldc"
    verbose_name = "LDCs (tenants)"

    def ready(self) -> None:
        from ldc import schema  # noqa: F401 - registers the OpenAPI auth extension
        from ldc.training import completed_required_course
        from portal.access import training_check_install

        training_check_install(completed_required_course)
        _listen_to_registry()


def _listen_to_registry() -> None:
    from ldc.enrollment import groups_from_registry
    from meters.signals import tou_billing_declared

    def declared(sender: object, *, ldc: object, sdp_ids_by_date: dict, **_: object) -> None:
        groups_from_registry(ldc=ldc, sdp_ids_by_date=sdp_ids_by_date)  # type: ignore[arg-type]

    tou_billing_declared.connect(declared, weak=False, dispatch_uid="ldc.tou_billing_declared")
