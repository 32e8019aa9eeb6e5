"""OpenAPI description of the per-LDC API token authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class LdcTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "ldc.authentication.LdcTokenAuthentication"
    name = "ldcToken"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Per-LDC API token: `Token omdr_<id>_<secret>` (LDC admin creates it).",
        }
