"""The OAuth and ESPI endpoints of Connect My Data in the project's OpenAPI schema
(drf-spectacular postprocessing hook): they are not DRF views, but a third party's developer
reads the same /api/v1/docs/. Responses are ESPI Atom XML (NAESB REQ.21), validated in the tests
against espi.xsd."""

from __future__ import annotations

from typing import Any

R = "/espi/1_1/resource"
_ATOM = {"application/atom+xml": {"schema": {"type": "string", "format": "xml"}}}
_BOUNDS = [
    {
        "name": n,
        "in": "query",
        "required": False,
        "schema": {"type": "string", "format": "date-time"},
        "description": d,
    }
    for n, d in (
        ("published-min", "IntervalBlocks whose local day starts at or after this instant"),
        ("published-max", "IntervalBlocks whose local day starts at or before this instant"),
        ("updated-min", "IntervalBlocks whose stored days were written at or after this instant"),
        ("updated-max", "IntervalBlocks whose stored days were written at or before this instant"),
    )
]
_SUB = f"{R}/Subscription/{{subscriptionId}}"
_UP = f"{_SUB}/UsagePoint/{{usagePointId}}"
_MR = f"{_UP}/MeterReading/{{meterReadingId}}"
_SUB = f"{R}/Subscription/{{subscriptionId}}"
_UP = f"{_SUB}/UsagePoint/{{usagePointId}}"
_MR = f"{_UP}/MeterReading/{{meterReadingId}}"
_RESOURCES = {
    f"{R}/Batch/Subscription/{{subscriptionId}}": "The whole consent as one feed",
    f"{_SUB}/UsagePoint": "UsagePoints (meters at consented SDPs)",
    _UP: "One UsagePoint",
    f"{_UP}/MeterReading": "MeterReadings (one per interval length)",
    _MR: "One MeterReading",
    f"{_MR}/IntervalBlock": "IntervalBlocks, one per local day",
    f"{_MR}/IntervalBlock/{{intervalBlockId}}": "One IntervalBlock (YYYYMMDD)",
    f"{_UP}/UsageSummary": "Monthly use and RPP cost (billing scope)",
    f"{R}/ReadingType/{{readingTypeId}}": "One ReadingType",
    f"{R}/LocalTimeParameters/{{localTimeParametersId}}": "The LDC's time zone and DST rules",
    f"{R}/Authorization": "The token's Authorization",
    f"{R}/Authorization/{{authorizationId}}": "One Authorization (the consent's state)",
    f"{R}/ApplicationInformation/{{clientId}}": "The token's third party registration",
}


def _operation(path: str, summary: str) -> dict[str, Any]:
    params = [
        {"name": part.strip("{}"), "in": "path", "required": True, "schema": {"type": "string"}}
        for part in path.split("/")
        if part.startswith("{")
    ]
    if path.endswith("/IntervalBlock") or "Batch/" in path:
        params += _BOUNDS
    return {
        "get": {
            "tags": ["Green Button Connect My Data (ESPI)"],
            "summary": summary,
            "operationId": "espi_"
            + "_".join(p for p in path.split("/")[4:] if "{" not in p)
            + ("_one" if path.endswith("}") else ""),  # a member beside its collection
            "parameters": params,
            "security": [{"espiOAuth": []}],
            "responses": {
                "200": {"description": "ESPI Atom XML", "content": _ATOM},
                "401": {"description": "No, or a dead, bearer token"},
                "403": {"description": "Consent not live, or another subscription"},
                "404": {"description": "Not in this consent (another SDP is never data)"},
            },
        }
    }


def espi_paths(result: dict[str, Any], generator: Any, request: Any, public: bool) -> Any:
    """Add the ESPI resources and the OAuth 2.0 scheme to the generated schema."""
    for path, summary in _RESOURCES.items():
        result.setdefault("paths", {})[path] = _operation(path, summary)
    result.setdefault("components", {}).setdefault("securitySchemes", {})["espiOAuth"] = {
        "type": "oauth2",
        "description": "Authorization code with PKCE (S256 required); scopes are ESPI "
        "Function Block strings (connect/scopes.py).",
        "flows": {
            "authorizationCode": {
                "authorizationUrl": "/oauth/authorize/",
                "tokenUrl": "/oauth/token/",
                "refreshUrl": "/oauth/token/",
                "scopes": {},
            }
        },
    }
    return result
