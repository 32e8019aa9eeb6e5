from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    default = True
    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from allauth.mfa import signals

        from portal.two_factor import on_authenticator_added

        signals.authenticator_added.connect(on_authenticator_added, dispatch_uid="portal-2fa")


class OpenMdmrAdminConfig(admin_apps.AdminConfig):
    """The admin site that LDC administrators may enter (scoped to their LDC)."""

    default = False
    default_site = "portal.admin_site.OpenMdmrAdminSite"
