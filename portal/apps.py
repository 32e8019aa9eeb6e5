from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    default = True
    name = "portal"
    verbose_name = "Portal"


class OpenMdmrAdminConfig(admin_apps.AdminConfig):
    """The admin site that LDC administrators may enter (scoped to their LDC)."""

    default = False
    default_site = "portal.admin_site.OpenMdmrAdminSite"
