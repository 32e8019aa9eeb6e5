"""DRF authentication with per-LDC API tokens: ``Authorization: Token omdr_<id>_<secret>``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from portal.middleware import client_address
from portal.tokens import TOKEN_PREFIX, ApiToken


class TokenUser(AnonymousUser):
    """Stands for a machine client in ``request.user``; its rights come from the token."""

    def __init__(self, token: ApiToken) -> None:
        self.token = token

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True

    def __str__(self) -> str:
        return f"token {self.token.name}"


TOKEN_FAILURE_WINDOW_S = 300


def _count_failure(key: str) -> None:
    """Failed token attempts per client address, counted in the cache (Redis at scale)."""
    if not cache.add(key, 1, timeout=TOKEN_FAILURE_WINDOW_S):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=TOKEN_FAILURE_WINDOW_S)


class LdcTokenAuthentication(authentication.BaseAuthentication):
    """Looks the key up by its id and compares the secret's hash in constant time."""

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header: 'Token <key>'.")
        # The client's address, not the TLS proxy's: else one client locks every client out.
        throttle_key = f"api-token-failures:{client_address(request) or ''}"
        if cache.get(throttle_key, 0) >= settings.OPENMDMR_TOKEN_FAILURES_PER_WINDOW:
            raise exceptions.Throttled(wait=TOKEN_FAILURE_WINDOW_S)
        try:
            return self._check(header[1].decode("ascii", errors="replace"))
        except exceptions.AuthenticationFailed:
            _count_failure(throttle_key)
            raise

    def _check(self, key: str) -> tuple[Any, ApiToken]:
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            raise exceptions.AuthenticationFailed("Invalid token.")
        token = ApiToken.objects.select_related("ldc").filter(key_id=parts[1]).first()
        if token is None or not token.is_active or not token.matches(parts[2]):
            raise exceptions.AuthenticationFailed("Invalid token.")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return TokenUser(token), token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
